"""The detailed method (design.md 5.2): exact architecture, saved tensors, the peak over phases.

method.py answers (the task's items, shared over GPUs, assembled; a sweep's jobs kept);
common.py holds what every task shares; training.py, inference.py and adapters.py their items;
activations.py sizes what autograd saves; parallel.py shares a training job over GPUs; sharding.py
says what one GPU of a tensor x pipeline parallel inference group holds.
"""

from vram.memory.detailed.method import estimate

__all__ = ["estimate"]
