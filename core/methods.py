"""estimate(): the request, a method, and the Estimate it gives."""

from __future__ import annotations

from typing import Callable

from . import article
from .enums import Method
from .errors import UnsupportedError
from .estimate import Estimate
from .request import Request, _coerce_enum

#: Methods that can answer today. The detailed model (design.md 5.2) is the next to land.
METHODS: dict[Method, Callable[[Request], Estimate]] = {
    Method.ARTICLE: article.estimate,
}
DEFAULT_METHOD = Method.ARTICLE


def estimate(request: Request, method: Method | str | None = None) -> Estimate:
    """Estimate the GPU memory ``request`` needs.

    ``method`` overrides the request's own ``method`` field; with neither, the default method
    answers. Every line item of the result shows its formula, numbers and source.

    >>> from vram import Request, estimate
    >>> est = estimate(Request(task="inference", model="chatglm-6b", dtype="fp16"), method="article")
    >>> est.total_bytes
    14400000000
    """
    chosen = _coerce_enum("method", Method, method) or request.method or DEFAULT_METHOD
    compute = METHODS.get(chosen)
    if compute is None:
        available = sorted(m.value for m in METHODS)
        raise UnsupportedError(
            f"the {chosen} method is not available yet; it arrives with the detailed memory model",
            expected=available, field="method",
        )
    return compute(request)
