"""The detailed method (design.md 5.2): exact architecture, saved tensors, the peak over phases.

method.py answers (the task's items, shared over GPUs, assembled; a sweep's jobs kept);
common.py holds what every task shares; training.py, inference.py and adapters.py their items; activations.py sizes what autograd saves; parallel.py shares a job over GPUs.
"""

from vram.memory.detailed.method import estimate, not_covered

__all__ = ["estimate", "not_covered"]
