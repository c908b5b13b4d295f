"""Post-training by the detailed method: the models beside the policy and how the batch grows.

Supervised training runs one model on its labels. Post-training runs more, each a table row here
with its source (TRL's trainers, which Hugging Face users run; OpenRLHF and verl keep the same
models):

- DPO (Rafailov et al. 2023; TRL DPOTrainer): chosen and rejected answers run as one batch
  (``concatenated_forward``), so a pair is two sequences; the frozen reference model scores both,
  unless its log-probabilities were precomputed (``precompute_ref_log_probs``) or the policy is a
  PEFT model, whose reference is the base with the adapters switched off (no second copy).
- PPO (Ouyang et al. 2022; TRL PPOTrainer): the policy and a value model are trained together
  (``PolicyAndValueWrapper``), a frozen reference and a frozen reward model beside them; value and
  reward models are the backbone with a scalar head (``AutoModelForSequenceClassification``).
- GRPO (Shao et al. 2024; TRL GRPOTrainer): ``num_generations`` completions a prompt (8 by
  default), no value model, a reference only when the KL coefficient ``beta`` is not 0 (0.0 by
  default: "the reference model is not loaded"); with ``vllm_mode="colocate"`` a vLLM engine in
  the same process takes ``vllm_gpu_memory_utilization`` (0.3) of the GPU's memory for the rollouts.
- Reward modelling (TRL RewardTrainer): chosen and rejected as one batch, a scalar head in place
  of the vocabulary's: no vocabulary logits.
- Distillation (TRL GKDTrainer): a frozen teacher runs each batch under ``no_grad``; its logits and
  their log-softmax stay for the divergence (``generalized_jsd_loss``) beside the student's.

The frozen models hold their weights in the compute dtype; their forward passes run before the
policy's under ``no_grad`` and keep nothing but log-probabilities (a few values a token).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vram import catalog
from vram.catalog.params import count_parameters
from vram.errors import UnknownWordError
from vram.formula import formula
from vram.memory.detailed.inference import WHOLE, kv_cache_item
from vram.memory.job import Said
from vram.memory.result import LineItem, Phase, formula_item
from vram.memory.rules import compute_dtype
from vram.messages import Note
from vram.request.enums import ADAPTER_TASKS, Item, Objective
from vram.request.quant import KvDtype

TRL_DPO = ("TRL DPOTrainer: concatenated_forward runs chosen and rejected as one batch; ref_model, "
           "precompute_ref_log_probs")
TRL_PPO = "TRL PPOTrainer: policy and value_model trained (PolicyAndValueWrapper), ref_policy and reward_model frozen"
TRL_GRPO = "TRL GRPOConfig: num_generations 8, beta 0.0 (no reference model loaded), vllm_gpu_memory_utilization 0.3"
TRL_RM = "TRL RewardTrainer: AutoModelForSequenceClassification (num_labels=1), chosen and rejected as one batch"
TRL_GKD = "TRL GKDTrainer: teacher forward under no_grad, generalized_jsd_loss takes log_softmax of both logits"
VLLM_FRACTION = ("vLLM: gpu_memory_utilization is the fraction of the GPU's memory the engine takes "
                 "(weights and KV pool)")
PEFT_REFERENCE = "TRL with a PEFT policy: the reference is the base with the adapters disabled (no second copy)"


@dataclass(frozen=True)
class ObjectiveRule:
    """What an objective adds to a training step."""

    sequences: int  #: sequences run together for each sample (a preference pair: 2)
    reference: bool | None  #: whether a frozen reference is loaded by default (None: there is none)
    value_model: bool  #: a trained value model beside the policy
    reward_model: bool  #: a frozen reward model
    scalar_head: bool  #: the policy itself ends in a scalar head: no vocabulary logits
    source: str


OBJECTIVES: dict[Objective, ObjectiveRule] = {
    Objective.DPO: ObjectiveRule(2, True, False, False, False, TRL_DPO),
    Objective.PPO: ObjectiveRule(1, True, True, True, False, TRL_PPO),
    Objective.GRPO: ObjectiveRule(1, False, False, False, False, TRL_GRPO),
    Objective.RM: ObjectiveRule(2, None, False, False, True, TRL_RM),
    Objective.DISTILL: ObjectiveRule(1, None, False, False, False, TRL_GKD),
}
DEFAULT_GENERATIONS = 8  # TRL GRPOConfig.num_generations

#: Which phases each added item is live in: the models' states in all of them, the value model's
#: activations where the policy's are, the teacher's logits where the policy's logits are.
LIVE_BESIDE: dict[Item, Item | None] = {
    Item.REFERENCE_MODEL: None, Item.VALUE_MODEL: None, Item.REWARD_MODEL: None, Item.TEACHER: None,
    Item.ROLLOUT_ENGINE: None, Item.VALUE_ACTIVATIONS: Item.ACTIVATIONS, Item.TEACHER_LOGITS: Item.LOGITS,
}
#: Model states of the policy, which the value model repeats at its size.
POLICY_STATES = (Item.WEIGHTS, Item.WEIGHT_CASTS, Item.ADAPTERS, Item.QUANT_OVERHEAD, Item.GRADIENTS,
                 Item.OPTIMIZER)


def shaped(job, said: Said):
    """``job`` as its objective runs it: the micro-batch in sequences (a preference pair is two;
    GRPO's default micro-batch one prompt's generations) and a reward model's scalar head."""
    objective = job.request.objective
    if objective is None:
        return job
    rule = OBJECTIVES[objective]
    batch = job.batch_size
    if objective is Objective.GRPO:
        generations = said.default("generations", job.request.generations, DEFAULT_GENERATIONS,
                                   Note("why.trl_generations"))
        if job.request.batch_size is None:
            batch = generations
            said.say(Note("note.grpo_micro_batch", batch=batch, generations=generations))
    if rule.sequences > 1:
        said.say(Note("note.pair_batch", objective=str(objective), sequences=rule.sequences, batch=batch,
                      source=rule.source))
        batch *= rule.sequences
    changed = dataclasses.replace(job, batch_size=batch)
    if rule.scalar_head:
        changed = _scalar_head(changed, said)
    return changed


def _scalar_head(job, said: Said):
    """A sequence classifier: the head is h x 1 (the embedding is no longer tied to it)."""
    h = job.spec.hidden_size
    counts = dataclasses.replace(job.counts, head=h)
    said.say(Note("note.scalar_head", h=h, vocab=f"{job.spec.vocab_size:,}", source=TRL_RM))
    return dataclasses.replace(job, counts=counts, params=counts.total,
                               spec=dataclasses.replace(job.spec, tie_embeddings=False))


def added(job, items: list[LineItem], phases: list[Phase], said: Said) -> tuple[list[LineItem], list[Phase]]:
    """The items the objective adds to a training step's, and its phases with them live."""
    objective = job.request.objective
    if objective is None:
        return items, phases
    rule = OBJECTIVES[objective]
    by_key = {item.key: item for item in items}
    if rule.scalar_head:
        by_key[Item.LOGITS] = formula_item(Item.LOGITS, "Scores (a scalar a token, fp32)", formula("4*b*s"),
                                           {"b": job.batch_size, "s": job.seq_len}, TRL_RM)
    extra = [*_reference(job, rule, by_key[Item.WEIGHTS], said), *_ppo_models(job, rule, by_key),
             *_teacher(job, said), *_rollout(job, said)]
    items = [by_key[item.key] for item in items] + extra
    return items, [_with(p, extra, by_key) for p in phases]


def _frozen_item(key: Item, label: str, params: float, job, source: str) -> LineItem:
    c = job.compute_bytes
    return LineItem(key, f"{label} (frozen, {c * 8}-bit)", round(c * params), f"{c} B/param x params",
                    {"params": params}, source)


def _reference(job, rule: ObjectiveRule, weights: LineItem, said: Said) -> list[LineItem]:
    if rule.reference is None:
        return []
    wanted = said.default("reference", job.request.reference, rule.reference,
                          Note({True: "why.trl_reference", False: "why.grpo_no_reference"}[rule.reference]))
    if not wanted:
        return []
    if job.request.task in ADAPTER_TASKS:
        said.say(Note("note.reference_adapters", source=PEFT_REFERENCE))
        return []
    # a copy of the policy as loaded (TRL create_reference_model deep-copies it): the policy's weights' bytes
    return [LineItem(Item.REFERENCE_MODEL, "Reference model (frozen copy of the policy)", weights.bytes,
                     "policy_weights", {"policy_weights": weights.bytes}, rule.source)]


def _ppo_models(job, rule: ObjectiveRule, by_key: dict[Item, LineItem]) -> list[LineItem]:
    if not rule.value_model:
        return []
    h = job.spec.hidden_size
    backbone = job.params - job.counts.head + h  # a scalar head in place of the vocabulary's
    states = sum(by_key[k].bytes for k in POLICY_STATES if k in by_key)
    value = LineItem(Item.VALUE_MODEL, "Value model (weights, gradients, optimizer states)",
                     math.ceil(states * backbone / job.params), "policy_states x value_params / params",
                     {"policy_states": states, "value_params": backbone, "params": job.params}, rule.source)
    activations = by_key[Item.ACTIVATIONS]
    value_activations = dataclasses.replace(activations, key=Item.VALUE_ACTIVATIONS,
                                            label="Value model's activations (the policy's block)",
                                            source=f"{activations.source}; {rule.source}")
    reward = _frozen_item(Item.REWARD_MODEL, "Reward model", backbone, job, rule.source)
    return [value, value_activations, reward]


def _teacher(job, said: Said) -> list[LineItem]:
    if job.request.teacher is None:
        return []
    spec = catalog.find_model(job.request.teacher)
    if spec is None:
        raise UnknownWordError(f"unknown teacher '{job.request.teacher}': the teacher is a catalog model",
                               suggestion=catalog.closest(job.request.teacher, sorted(catalog.models().by_id)),
                               field="teacher")
    params = count_parameters(spec).total
    said.say(Note("note.teacher", model=spec.id, params=f"{params:,}", source=TRL_GKD))
    values = {"b": job.batch_size, "s": job.seq_len, "v_t": spec.vocab_size, "c": job.compute_bytes}
    return [_frozen_item(Item.TEACHER, f"Teacher {spec.id}", params, job, TRL_GKD),
            formula_item(Item.TEACHER_LOGITS, "Teacher logits and log-probabilities", formula("(c + 4)*b*s*v_t"),
                         values, TRL_GKD)]


def _rollout(job, said: Said) -> list[LineItem]:
    fraction = job.request.rollout_fraction
    if fraction is None:
        return []
    gpu = job.resolved.gpu
    if gpu is not None:
        said.say(Note("note.rollout_fraction", fraction=f"{fraction:g}", gpu=gpu.id, source=VLLM_FRACTION))
        return [LineItem(Item.ROLLOUT_ENGINE, "Rollout engine (vLLM, colocated)",
                         math.ceil(fraction * gpu.memory_bytes),
                         "gpu_memory_utilization x gpu_memory",
                         {"gpu_memory_utilization": fraction, "gpu_memory": gpu.memory_bytes},
                         f"{VLLM_FRACTION}; {TRL_GRPO}")]
    # no GPU named: the engine's own weights and the KV cache of a batch of generations
    said.say(Note("note.rollout_no_gpu"))
    # the inference method's cache (MLA latent, sliding windows), in the compute dtype
    kv = kv_cache_item(job, job.values(), KvDtype(compute_dtype(job.dtype)), WHOLE)
    return [formula_item(Item.ROLLOUT_ENGINE, "Rollout engine (vLLM, colocated): weights and KV cache",
                         formula(f"c*P + {kv.expression.text}"), {"c": job.compute_bytes, "P": job.params, **kv.values},
                         f"{VLLM_FRACTION}; {TRL_GRPO}; {kv.source}")]


def _with(phase: Phase, extra: list[LineItem], by_key: dict[Item, LineItem]) -> Phase:
    live = list(phase.live)
    for item in extra:
        beside = LIVE_BESIDE[item.key]
        if beside is None or beside in live or (beside is Item.ACTIVATIONS and Item.BACKWARD_LAYER in live):
            live.append(item.key)
    bytes_of = {**{k: i.bytes for k, i in by_key.items()}, **{i.key: i.bytes for i in extra}}
    return Phase(phase.name, sum(bytes_of[k] for k in live), tuple(live), phase.note)
