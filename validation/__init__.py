"""Measured, not guessed: the harness that checks vram's estimates against real memory.

``vram.validation`` builds the model a request names (random weights, transformers config
classes, nothing from a hub), runs its training step or its prefill and decode, and logs every
tensor storage that lives and dies (:mod:`.tracker`). On the CPU it runs for real on small models
and on fake tensors for large ones (nothing allocated); on a GPU it also reads CUDA's own
counters. It needs the ``trace`` extra (torch, transformers); the core ``vram`` never imports it.
"""
