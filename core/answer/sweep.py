"""Sweeps from Python: one request, some fields varied over lists, a row an estimate."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Iterable

from vram.request.request import Request


class Rows(list):
    """Sweep rows (dicts); ``to_frame()`` gives a pandas DataFrame when pandas is installed."""

    def to_frame(self) -> Any:
        try:
            import pandas  # an optional dependency: only this method needs it
        except ImportError:
            raise ImportError("Rows.to_frame() needs pandas: pip install pandas") from None

        return pandas.DataFrame(list(self))


def sweep(request: Request, method: str | None = None, **axes: Iterable[Any]) -> Rows:
    """Estimate ``request`` for every combination of the values given per field.

    >>> import vram
    >>> rows = vram.sweep(vram.parse("train 7b bf16 adamw zero3 on 8 a100"), batch_size=[1, 2, 4, 8])
    >>> [row["batch_size"] for row in rows]
    [1, 2, 4, 8]

    Each row has the varied fields, ``total_bytes`` (the most-loaded GPU), the method, and with a
    GPU named the ``verdict`` and ``headroom_bytes``. Fields are Request field names; a bad value
    raises the VramError that Request would.
    """
    from vram.answer.pipeline import plain_estimate
    from vram.errors import InvalidRequestError

    if not isinstance(request, Request):
        raise InvalidRequestError(f"sweep() takes a Request (vram.parse(text)), not {type(request).__name__}")
    if request.solve is not None:
        raise InvalidRequestError("a sweep estimates each row; ask the solver per row instead", field="solve")
    names = [field.name for field in dataclasses.fields(Request)]
    for name, values in axes.items():
        if name not in names:
            Request.from_dict({"task": request.task, name: None})  # raises the error with a close match
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise InvalidRequestError(f"sweep values for {name} must be a list, as in {name}=[1, 2, 4]", field=name)
    rows = Rows()
    for values in itertools.product(*(list(v) for v in axes.values())):
        changes = dict(zip(axes, values))
        if "model" in changes:
            changes.setdefault("params", None)  # a named model brings its own size
        if "params" in changes:
            changes.setdefault("model", None)
        if "gpu" in changes and changes["gpu"] is not None and request.gpu_count is None:
            changes.setdefault("gpu_count", 1)
        estimate = plain_estimate(dataclasses.replace(request, **changes), method)
        fit = estimate.fit[0] if estimate.fit else None
        rows.append({**changes, "total_bytes": estimate.total_bytes, "method": estimate.method.value,
                     "verdict": fit.verdict.value if fit else None,
                     "headroom_bytes": fit.headroom_bytes if fit else None})
    return rows
