"""estimate(): the request, a method, the Estimate it gives, and whether and how it fits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Callable

from vram import catalog
from vram.answer.fit import gpu_assumption, verdict_for
from vram.catalog.architecture import Architecture
from vram.catalog.resolve import Resolved, resolve_request
from vram.errors import InvalidRequestError, VramError
from vram.memory import article, detailed
from vram.memory.job import DEFAULT_DTYPE
from vram.memory.result import Alternative, Comparison, Estimate, Fit
from vram.request.enums import Method, Solve
from vram.request.request import Request, _coerce_enum

METHODS: dict[Method, Callable[[Request], Estimate]] = {
    Method.ARTICLE: article.estimate,
    Method.DETAILED: detailed.estimate,
}
DEFAULT_METHOD = Method.DETAILED


def estimate(request: Request, method: Method | str | None = None) -> Estimate:
    """Estimate the GPU memory ``request`` needs, and whether it fits the GPUs it names.

    ``method`` overrides the request's own ``method`` field. With neither, the detailed method
    answers. Every line item of the result shows its formula, numbers and source. When the job
    does not fit (or the request asks to ``suggest``), the answer lists changes that would make
    it fit, each with its own estimate; a request with ``solve`` set is answered by its solver.

    >>> from vram import Request, estimate
    >>> est = estimate(Request(task="inference", model="chatglm-6b", dtype="fp16"), method="article")
    >>> est.total_bytes
    14400000000
    """
    if not isinstance(request, Request):
        raise InvalidRequestError(f"estimate() takes a Request, not {type(request).__name__}; "
                                  "for text use vram.ask(text)")
    chosen = _coerce_enum("method", Method, method)
    if chosen is not None and request.method not in (None, chosen):
        request = dataclasses.replace(request, method=chosen)  # the answer shows the method that answered
    try:
        resolved = resolve_request(request)  # the one look-up of the model and GPU for this answer
        result = _answered(resolved, chosen)
    except VramError as error:  # placed at the word that set the field at fault, when there is one
        raise error.at(dict(request.positions).get(error.field)) from None
    if result.method is Method.DETAILED and not isinstance(result.comparisons, ArticleFigure):
        result = dataclasses.replace(result, comparisons=ArticleFigure(resolved, result.request))
    return result


def _answered(resolved: Resolved, chosen: Method | None) -> Estimate:
    request = resolved.request
    if request.solve is None and request.gpu is None:  # nothing to judge or advise: the plain answer
        return plain_estimate(resolved, chosen, ArticleFigure(resolved, request))

    def plain(changed: Request) -> Estimate:  # the same model, asked differently: nothing read again
        return plain_estimate(resolved.changed(changed), chosen)

    if request.solve is None:  # the request as resolved, with the article's figure beside it: one copy the less
        return _advised(resolved, plain, plain_estimate(resolved, chosen, ArticleFigure(resolved, request)))
    from vram.answer import solvers  # here, not at the top: a query without a GPU starts faster

    solution, at = solvers.solve(request, plain, judge, resolved.arch)
    at = dataclasses.replace(at, solve=None)
    result = _advised(resolved.changed(at), plain)
    if request.solve is Solve.GPUS:
        result = dataclasses.replace(result, fit=tuple(verdict_for(catalog.find_gpu(g), result)
                                                       for g in solution.value))
    return dataclasses.replace(result, request=dataclasses.replace(at, solve=request.solve), solution=solution)


class ArticleFigure(Sequence[Comparison]):
    """The article's total beside a detailed answer, computed on first use: an answer that is
    shown pays for it, the thousands of estimates behind a sweep or a solver do not."""

    __slots__ = ("_resolved", "_request", "_figures")

    def __init__(self, resolved: Resolved, request: Request) -> None:
        self._resolved, self._request = resolved, request
        self._figures: tuple[Comparison, ...] | None = None

    def _computed(self) -> tuple[Comparison, ...]:
        if self._figures is None:
            total = article.article_total(self._resolved.changed(self._request))
            self._figures = () if total is None else (Comparison(Method.ARTICLE, total),)
        return self._figures

    def __getitem__(self, index):
        return self._computed()[index]

    def __len__(self) -> int:
        return len(self._computed())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(self._computed())


def plain_estimate(resolved: Resolved, method: Method | None = None,
                   comparisons: Sequence[Comparison] = ()) -> Estimate:
    """The estimate and its fit verdict, without strategies or suggestions (sweeps, solvers);
    ``comparisons`` go beside a detailed answer."""
    request = resolved.request
    chosen = method or request.method
    chosen = chosen or DEFAULT_METHOD
    result = detailed.estimate(resolved, comparisons) if chosen is Method.DETAILED else METHODS[chosen](resolved)
    assumptions = (*request.notes, *result.assumptions) if request.notes else result.assumptions
    if request.gpu is None:
        return dataclasses.replace(result, assumptions=assumptions) if request.notes else result
    dtype = (request.dtype or DEFAULT_DTYPE[request.task]).value
    # one copy of the estimate, not two: a solver or a sweep makes tens of thousands
    return dataclasses.replace(result, fit=(judge(result),),  # the verdict reads no assumption
                               assumptions=(*assumptions, gpu_assumption(request.gpu, dtype)))


def judge(estimate: Estimate) -> Fit | None:
    """The verdict of ``estimate`` on the GPU its request names (None without one)."""
    gpu_id = estimate.request.gpu
    return None if gpu_id is None else verdict_for(catalog.find_gpu(gpu_id), estimate)


def _advised(resolved: Resolved, plain: Callable[[Request], Estimate], result: Estimate | None = None) -> Estimate:
    """``result`` (by default the plain estimate of ``resolved``) with the strategies and changes to advise."""
    request = resolved.request
    result = plain(request) if result is None else result
    if request.gpu is None:
        return result  # no verdict, so nothing to advise
    from vram.answer import advice  # here, not at the top: a query without a GPU starts faster

    strategies = advice.strategies(request, plain, judge)
    fit = result.fit[0] if result.fit else None
    wanted = request.suggest or (fit is not None and not fit.fits)
    notes: list[str] = []
    suggestions = (advice.suggestions(request, plain, judge, lambda r: _more_gpus(r, plain, resolved.arch),
                                      strategies, notes)
                   if wanted else ())
    if not (strategies or suggestions or notes):
        return result  # nothing to add
    return dataclasses.replace(result, strategies=strategies, suggestions=suggestions,
                               assumptions=(*result.assumptions, *notes))


def _more_gpus(request: Request, plain: Callable[[Request], Estimate], arch: Architecture) -> Alternative | None:
    if request.gpu is None:
        return None
    from vram.answer import advice, solvers  # here, not at the top: a query without a GPU starts faster

    solution, at = solvers.solve(dataclasses.replace(request, solve=Solve.MIN_GPU_COUNT), plain, judge, arch)
    if solution.value is None or solution.value <= (request.gpu_count or 1):
        return None
    at = dataclasses.replace(at, solve=None)
    estimate = plain(at)
    added = [what for what, changed in (("full recompute", at.recompute != request.recompute),
                                        ("ZeRO-3 / FSDP", at.zero != request.zero)) if changed]
    return Alternative(f"{solution.value} GPUs instead of {request.gpu_count or 1}"
                       + (f", with {' and '.join(added)}" if added else ""),
                       f"{solution.value - (request.gpu_count or 1)} more {request.gpu}"
                       + (f"; {advice.RECOMPUTE_TRADEOFF}" if "full recompute" in added else ""), at,
                       estimate.total_bytes, estimate.method, judge(estimate))
