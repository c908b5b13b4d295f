"""estimate(): the request, a method, and the Estimate it gives."""

from __future__ import annotations

from typing import Callable

import dataclasses

from . import article, detailed
from .enums import Method
from .estimate import Estimate
from .request import Request, _coerce_enum

METHODS: dict[Method, Callable[[Request], Estimate]] = {
    Method.ARTICLE: article.estimate,
    Method.DETAILED: detailed.estimate,
}
DEFAULT_METHOD = Method.DETAILED


def estimate(request: Request, method: Method | str | None = None) -> Estimate:
    """Estimate the GPU memory ``request`` needs.

    ``method`` overrides the request's own ``method`` field. With neither, the detailed method
    answers, or the article's rules where the detailed method does not reach yet (the answer
    says so). Every line item of the result shows its formula, numbers and source.

    >>> from vram import Request, estimate
    >>> est = estimate(Request(task="inference", model="chatglm-6b", dtype="fp16"), method="article")
    >>> est.total_bytes
    14400000000
    """
    chosen = _coerce_enum("method", Method, method) or request.method
    if chosen is not None:
        return METHODS[chosen](request)
    uncovered = detailed.not_covered(request)
    if uncovered is None:
        return METHODS[DEFAULT_METHOD](request)
    # the default method cannot answer this yet: the article's rules do, and the answer says so
    answer = article.estimate(request)
    note = f"the detailed method does not model {uncovered} yet: the article's rules answer"
    return dataclasses.replace(answer, assumptions=(note, *answer.assumptions))
