"""The runtime catalog (design.md section 8): serving engines and training frameworks as rows of
data (catalog/data/runtimes.toml), loaded once into frozen records.

A request names a runtime by id or names none; :func:`runtime_of` gives the row that runs it, the
default one (Hugging Face transformers) when none was named. The memory model reads a row's
columns; it never branches on a runtime's name.

A framework column that changed across releases is a release table, ``[[since, value, source],
...]`` in release order: a request naming the framework's release (Request.framework_version) gets
the value of the latest row not after it, one naming none the last row's (today's code).
:func:`runtime_of` gives the row with its tables read at that release.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Mapping

from vram.catalog.index import load_toml
from vram.errors import InvalidRequestError
from vram.request.enums import PRE_ALLOCATING, TRAINING_TASKS, Engine, Framework, Loss, Recompute, Regime
from vram.request.request import RELEASE, Request, release


class Keeps(StrEnum):
    """What a framework's recompute word keeps of each layer for backward (the rest is recomputed)."""

    ALL = "all"  #: no recompute: every saved tensor
    ALL_BUT_CORE_ATTENTION = "all_but_core_attention"  #: Megatron selective: the s x s attention part recomputed
    PER_OP = "per_op"  #: per-op SAC: the layer input, every other matmul's output and the attention kernel's
    LAYER_INPUT = "layer_input"  #: checkpointing: each layer's input only
    LAYER_INPUT_ON_HOST = "layer_input_on_host"  #: checkpointing with each layer's input offloaded to host memory
    NOT_OFFERED = "not_offered"  #: the framework has no such mode: the word is refused, not misread


class Fsdp2Groups(StrEnum):
    """How a framework groups the parameters outside the blocks for FSDP2 (each block is a group)."""

    ROOT = "root"  #: embedding, final norm and head in the root module's group
    APART = "apart"  #: the embedding a group of its own, the final norm and head one group


@dataclass(frozen=True)
class TrainingTerms:
    """A training framework's own terms (its row's columns; absent columns: transformers' terms)."""

    recompute_default: Recompute  #: what the framework does when the query says nothing
    keeps: Mapping[Recompute, Keeps]  #: what each recompute word keeps
    loss: Loss
    loss_chunks: int  #: CHUNKED_LINEAR: chunks of tokens
    loss_chunk_cap_gib: float  #: FUSED_LINEAR: the largest fp32 logits chunk
    #: FUSED_LINEAR: the share of the GPU's free memory at the first loss a chunk may take (below the
    #: cap); 0: the cap alone
    loss_chunk_free_share: float
    autocast: bool  #: an "amp" regime runs under torch.autocast (else FSDP2's param_dtype casts)
    gradient_bytes: int | None  #: bytes of a gradient when the framework accumulates them wider than its weights
    gradient_buffer: bool  #: the gradients live in one buffer allocated at start-up, never freed (Megatron DDP)
    fused_norm: bool  #: the norms are fused kernels that save no fp32 copy of their input (Transformer Engine)
    gathered_units: int  #: ZeRO-3 / FSDP: sharded units gathered at once (the one running, the one prefetched)
    gathered_bytes: int  #: bytes a parameter of a gathered unit
    reduce_bucket_elements: int  #: ZeRO-1/2 gradient reduce bucket (DeepSpeed reduce_bucket_size); 0: none
    step_grad_elements: int  #: ZeRO-3 step: the most gradient elements cast to the master dtype at once; 0: none
    zero_default: int  #: the ZeRO stage on several data-parallel GPUs when the query names none (3: FSDP)
    #: model families (config.json model_type) whose LoRA and QLoRA run on the framework's own fused
    #: kernels (Unsloth's fast RMSNorm and LoRA_MLP, activations.UNSLOTH_MLP); empty: none
    lora_kernel_families: frozenset[str]
    #: FSDP2's reduce dtype, bytes a gradient element: its all-gather and reduce-scatter streams'
    #: pools are reserved beside the peak (memory/detailed/allocator.py); 0: not modelled
    fsdp2_reduce_bytes: int
    fsdp2_groups: Fsdp2Groups  #: the groups outside the blocks, in forward order (allocator.py)
    compile_loss: bool  #: torch.compile (the query's "compile") compiles the whole-logits loss too
    sources: Mapping[str, str]  #: column -> where the framework's code or docs say it


#: transformers' terms: what every framework row starts from (Hugging Face Trainer's defaults).
TRANSFORMERS_TERMS = dict(
    recompute_default="none", keep_selective="all_but_core_attention", keep_full="layer_input",
    loss="fp32_logits", loss_chunks=1, loss_chunk_cap_gib=0.0, loss_chunk_free_share=0.0, autocast=True,
    gradient_bytes=None, gradient_buffer=False, fused_norm=False,
    gathered_units=1, gathered_bytes=4, reduce_bucket_elements=0, step_grad_elements=0, zero_default=0,
    lora_kernel_families=(), fsdp2_reduce_bytes=0, fsdp2_groups="apart", compile_loss=False)

#: The fields every row has; any other column goes to ``settings``.
_FIELDS = ("id", "name", "source", "default", "based_on", "notes")


@dataclass(frozen=True, eq=False)  # one record a row, loaded once: compared and hashed by identity
class Runtime:
    """One engine or framework: who runs the job, with the defaults it runs it with."""

    kind: str  #: "engine" (serving) or "framework" (training)
    id: str
    name: str
    source: str
    default: bool = False  #: the runtime of a request that names none
    based_on: str | None = None  #: the runtime this one runs on (Ollama on llama.cpp)
    notes: str | None = None
    #: every other column of the row (``precision_regime`` ...), read by the parts that model it
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: the framework release its release tables were read at (framework_version); None: the newest
    release: str | None = None

    @property
    def pre_allocates(self) -> bool:
        """A serving engine that sizes a KV pool from a share of the GPU at start-up (vLLM, SGLang, TGI)."""
        return "memory_fraction" in self.settings

    @property
    def precision_regime(self) -> Regime | None:
        value = self.settings.get("precision_regime")
        return None if value is None else Regime(value)

    @functools.cached_property
    def terms(self) -> TrainingTerms:
        """The framework's terms: its columns over transformers' (a framework row only), its release
        tables read at its release (today's code when none)."""
        return training_terms(_read_at(self, self.release))


def training_terms(settings: Mapping[str, Any]) -> TrainingTerms:
    """Terms from a row's columns; an unknown column or value is a catalog error."""
    columns = {k: v for k, v in settings.items() if k != "precision_regime" and not k.startswith("source_")}
    unknown = set(columns) - set(TRANSFORMERS_TERMS)
    if unknown:
        raise ValueError(f"runtimes.toml: unknown framework columns {sorted(unknown)}")
    row = {**TRANSFORMERS_TERMS, **columns}
    return TrainingTerms(
        recompute_default=Recompute(row["recompute_default"]),
        keeps=MappingProxyType({Recompute.NONE: Keeps.ALL, Recompute.SELECTIVE: Keeps(row["keep_selective"]),
                                Recompute.FULL: Keeps(row["keep_full"])}),
        loss=Loss(row["loss"]), loss_chunks=_positive(row, "loss_chunks"),
        loss_chunk_cap_gib=float(row["loss_chunk_cap_gib"]),
        loss_chunk_free_share=float(row["loss_chunk_free_share"]), autocast=bool(row["autocast"]),
        gradient_bytes=row["gradient_bytes"], gradient_buffer=bool(row["gradient_buffer"]),
        fused_norm=bool(row["fused_norm"]), gathered_units=_positive(row, "gathered_units"),
        gathered_bytes=_positive(row, "gathered_bytes"), reduce_bucket_elements=int(row["reduce_bucket_elements"]),
        step_grad_elements=int(row["step_grad_elements"]),
        zero_default=_stage(row["zero_default"]),
        lora_kernel_families=frozenset(row["lora_kernel_families"]),
        fsdp2_reduce_bytes=_bytes(row["fsdp2_reduce_bytes"]),
        fsdp2_groups=Fsdp2Groups(row["fsdp2_groups"]), compile_loss=_flag(row, "compile_loss"),
        sources=MappingProxyType({k.removeprefix("source_"): v for k, v in settings.items()
                                  if k.startswith("source_")}))


def _stage(value: Any) -> int:
    if value not in (0, 1, 2, 3) or type(value) is not int:
        raise ValueError(f"runtimes.toml: zero_default must be a ZeRO stage 0-3, not {value!r}")
    return value


def _flag(row: Mapping[str, Any], name: str) -> bool:
    if type(row[name]) is not bool:
        raise ValueError(f"runtimes.toml: {name} must be true or false, not {row[name]!r}")
    return row[name]


def _bytes(value: Any) -> int:
    if value not in (0, 2, 4) or type(value) is not int:
        raise ValueError(f"runtimes.toml: fsdp2_reduce_bytes must be 0 (not modelled), 2 or 4, not {value!r}")
    return value


def _positive(row: Mapping[str, Any], name: str) -> int:
    value = row[name]
    if type(value) is not int or value < 1:
        raise ValueError(f"runtimes.toml: {name} must be a whole number from 1, not {value!r}")
    return value


def release_tables(settings: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """The row's columns written as release tables: lists of [since, value, source] rows."""
    return {k: v for k, v in settings.items()
            if isinstance(v, list) and v and all(isinstance(r, list) for r in v) and not k.startswith("source_")}


def _check_table(runtime_id: str, column: str, table: list[list[Any]]) -> None:
    sinces = [r[0] if len(r) == 3 and isinstance(r[0], str) and isinstance(r[2], str) else None for r in table]
    if None in sinces or not all(RELEASE.fullmatch(since) for since in sinces):
        raise ValueError(f"runtimes.toml: {runtime_id}.{column} rows must be [since, value, source], since a release")
    if [release(since) for since in sinces] != sorted({release(since) for since in sinces}):
        raise ValueError(f"runtimes.toml: {runtime_id}.{column} rows must be in release order")


def by_release(table: list[list[Any]], version: str | None) -> Any:
    """The value of a [[since, value], ...] column for ``version``: the latest row not after it
    (None: the newest release, the last row)."""
    if version is None:
        return table[-1][1]
    return max(((release(since), value) for since, value in table if release(version) >= release(since)),
               key=lambda pair: pair[0])[1]


def launcher_context(row: Mapping[str, Any], version: str | None) -> int | None:
    """The context the launcher caps a launch that sets none at, for ``version``; None: no cap."""
    until = row.get("launcher_defaults_until")
    if until is None or version is None or release(version) >= release(until):
        return None
    return row["launcher_context_cap"]


def _read_at(runtime: Runtime, version: str | None) -> dict[str, Any]:
    """The row's settings with each release table read at ``version`` (None: its last row), the
    source of the row that applies in place of the column's source."""
    settings = dict(runtime.settings)
    for column, table in release_tables(runtime.settings).items():
        applies = [r for r in table if version is None or release(version) >= release(r[0])]
        if not applies:
            raise InvalidRequestError(
                f"{runtime.name} {version} is older than any release vram describes: its {column} is known from "
                f"{table[0][0]} on; name {table[0][0]} or later, or no release for today's {runtime.name}",
                field="framework_version")
        since, value, source = applies[-1]
        settings[column] = value
        settings[f"source_{column}"] = f"{source} ({runtime.name} {since} on)"
    return settings


@functools.cache
def at_release(runtime: Runtime, version: str | None) -> Runtime:
    """``runtime`` with its release tables read at ``version`` (None: today's code)."""
    if not release_tables(runtime.settings):
        return dataclasses.replace(runtime, release=version)
    return dataclasses.replace(runtime, settings=MappingProxyType(_read_at(runtime, version)), release=version)


def release_said(runtime: Runtime) -> str | None:
    """What naming the framework's release changed, for the answer's assumptions (None: none named)."""
    if runtime.release is None:
        return None
    tables = release_tables(runtimes()[runtime.kind, runtime.id].settings)
    if not tables:
        return (f"{runtime.name} {runtime.release}: vram describes no {runtime.name} column that changed between "
                "releases, so the release named changes nothing")
    read = ", ".join(f"{column} {_shown(runtime.settings[column])}" for column in tables)
    return f"{runtime.name} as release {runtime.release} ran it: {read}"


def _shown(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@functools.cache
def runtimes() -> MappingProxyType:
    """Every runtime, by (kind, id)."""
    data = load_toml("runtimes.toml")
    found: dict[tuple[str, str], Runtime] = {}
    for kind, enum in (("engine", Engine), ("framework", Framework)):
        rows = data.get(kind, [])
        for row in rows:
            runtime = Runtime(kind, **{k: v for k, v in row.items() if k in _FIELDS},
                              settings=MappingProxyType({k: v for k, v in row.items() if k not in _FIELDS}))
            named = enum(runtime.id)  # a row the request cannot name is a catalog error
            if kind == "engine" and runtime.pre_allocates != (named in PRE_ALLOCATING):
                raise ValueError(f"runtimes.toml: engine {runtime.id} needs a memory_fraction column exactly when "
                                 "vram.request.enums.PRE_ALLOCATING names it (the request checks against that set)")
            if kind == "framework":
                tables = release_tables(runtime.settings)
                for column, table in tables.items():
                    _check_table(runtime.id, column, table)
                # a bad column is a catalog error at load, not at a query: every release's values checked
                for since in {None, *(r[0] for table in tables.values() for r in table)}:
                    at_release(runtime, since).terms  # noqa: B018
            found[kind, runtime.id] = runtime
        missing = {member.value for member in enum} - {i for k, i in found if k == kind}
        defaults = [r.id for (k, _), r in found.items() if k == kind and r.default]
        if missing or len(defaults) != 1:
            raise ValueError(f"runtimes.toml: every {kind} needs a row ({sorted(missing)} missing) and exactly "
                             f"one default (found {defaults})")
    return MappingProxyType(found)


def runtime_of(request: Request) -> Runtime:
    """The runtime that runs ``request``: the engine or framework it names, else the default; a
    framework's release tables read at the request's framework_version."""
    kind, named = (("framework", request.framework) if request.task in TRAINING_TASKS
                   else ("engine", request.engine))
    table = runtimes()
    found = (table[kind, named.value] if named is not None
             else next(r for (k, _), r in table.items() if k == kind and r.default))
    return at_release(found, request.framework_version) if kind == "framework" else found


__all__ = ["Keeps", "Loss", "Runtime", "TrainingTerms", "at_release", "by_release", "launcher_context", "release_said",
           "release_tables", "runtime_of", "runtimes", "training_terms"]
