"""The detailed method (design.md 5.2): exact architecture, saved tensors, the peak over phases.

training.py answers full training and assembles every answer; inference.py and adapters.py add
their tasks' items; activations.py sizes what autograd saves; parallel.py shares a job over GPUs.
"""

from vram.memory.detailed.training import estimate, not_covered

__all__ = ["estimate", "not_covered"]
