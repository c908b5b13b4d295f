"""What a request names: the model and GPU catalogs (data files under catalog/data), parameter
counts, models read from config.json, checkpoint headers or the Hub, and the one resolver that
reads them under a policy (resolve.py, policy.py).
"""

from vram.catalog.index import (
    DATA_DIR, Gpu, ModelSpec, closest, find_gpu, find_model, gpus, model_families, models, models_of_family,
    nearest_dense_model, normalise
)

__all__ = ["DATA_DIR", "Gpu", "ModelSpec", "closest", "find_gpu", "find_model", "gpus", "model_families",
           "models", "models_of_family", "nearest_dense_model", "normalise"]
