"""Sweeps from Python: one request, some fields varied over lists, a row an estimate."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Iterable

from .request import Request


class Rows(list):
    """Sweep rows (dicts); ``to_frame()`` gives a pandas DataFrame when pandas is installed."""

    def to_frame(self) -> Any:
        import pandas  # an optional dependency: only this method needs it

        return pandas.DataFrame(list(self))


def sweep(request: Request, method: str | None = None, **axes: Iterable[Any]) -> Rows:
    """Estimate ``request`` for every combination of the values given per field.

    >>> rows = vram.sweep(vram.parse("train 7b bf16 adamw zero3 on 8 a100"), batch_size=[1, 2, 4, 8])
    >>> [row["batch_size"] for row in rows]
    [1, 2, 4, 8]

    Each row has the varied fields, ``total_bytes`` (the most-loaded GPU), the method, and with a
    GPU named the ``verdict`` and ``headroom_bytes``. Fields are Request field names; a bad value
    raises the VramError that Request would.
    """
    from .methods import plain_estimate

    names = [field.name for field in dataclasses.fields(Request)]
    for name in axes:
        if name not in names:
            Request.from_dict({"task": request.task, name: None})  # raises the error with a close match
    rows = Rows()
    for values in itertools.product(*(list(v) for v in axes.values())):
        changes = dict(zip(axes, values))
        if "gpu" in changes and changes["gpu"] is not None and request.gpu_count is None:
            changes.setdefault("gpu_count", 1)
        estimate = plain_estimate(dataclasses.replace(request, **changes), method)
        fit = estimate.fit[0] if estimate.fit else None
        rows.append({**changes, "total_bytes": estimate.total_bytes, "method": estimate.method.value,
                     "verdict": fit.verdict.value if fit else None,
                     "headroom_bytes": fit.headroom_bytes if fit else None})
    return rows
