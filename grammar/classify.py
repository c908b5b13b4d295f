"""Atoms to a Request: each word classified against the core's vocabulary and catalogs.

Pass 1 (words.py) gives each word or phrase a meaning. Pass 2, here, pairs them: binding keys
("kv", "recompute") with the value word beside them, numbers with magnitudes ("7 billion"),
families with sizes ("llama 70b"), keys with their numbers ("seq 4096", "32k context"), counts with
GPUs ("8x a100", "a100 x8"), bare sizes ("7b"). Every field is recorded once; a second, different
value is a conflict, except that a more specific task wins ("fine-tune ... with lora" is lora).
What the parse assumed is kept as the Request's notes, which the answer lists.
"""

from __future__ import annotations

import re
from typing import Any

from vram import catalog
from vram.errors import ConflictError, HelpRequested, MissingError, QueryError, UnsupportedError, VramError
from vram.messages import Note
from vram.request.enums import (
    FOUR_BIT_DTYPES, TRAINING_TASKS, Engine, Objective, Offload, Recompute, Solve, Task
)
from vram.request.lora import TARGET_ALIASES
from vram.request.request import ENGINE_FIELDS, ENGINE_SETTINGS, TRAINING_ONLY, Request
from vram.request.vocabulary import (
    ADAPTER_ONLY_FIELDS, BIND_DEFAULTS, BIND_SOURCES, ENGINE_SPELLINGS, FIELD_BY_ENGINE, FINE_TUNE_WORDS,
    GGML_SPELLINGS, LAPTOP_WORDS, MACHINE_MEASURE_WORDS, MEASURE_WORDS, NEGATED, PHRASES, SERVE_WORDS,
    SETTING_NUMBERS, STUDENT_WORDS, TEACHER_WORDS, UNSAID_FINE_TUNE_WORDS
)

from . import suggest
from .help import query_language
from .numbers import PLAIN_PARAMS_FROM, SIZE_SUFFIXES, scaled
from .parser import Atom
from .words import Meaning, gpus_named, let_go, meanings as read_meanings

#: Tasks by how specific they are: "fine-tune llama with lora" is a LoRA job, not a conflict.
TASK_SPECIFICITY = {Task.TRAINING: 1, Task.LORA: 2, Task.QLORA: 3}
#: Verbs that start any job ("run qlora ...", "which gpus can run lora ..."): a task named beside
#: them is the task; alone they mean inference, as "run llama-3-8b on a 4090" does.
ANY_TASK_WORDS = frozenset({"run", "running", "运行"})
SKIPPABLE = ("filler", "letgo")
#: Settings only a training job has: a query naming one and no task is a training job.
TRAINING_ONLY_FIELDS = (*TRAINING_ONLY, "zero", "offload")  # the Request's own list, and ZeRO's settings


def to_request(atoms: list[Atom]) -> Request:
    meanings = read_meanings(atoms)
    _asks_outside_memory(meanings)
    fields = _Fields()
    _targets(meanings, fields)
    _teacher(meanings, fields)
    for meaning in meanings:
        if meaning.kind == "unknown":
            raise suggest.unknown(meaning, meanings)
    _negate(meanings)
    _full_fine_tune(meanings)
    fields.notes += [m.note for m in meanings if m.note]
    _bind(meanings)
    _magnitudes(meanings)
    _families(meanings, fields)
    _generate_count(meanings, fields)
    _prompt_in(meanings)
    _setting_numbers(meanings, fields)
    for meaning in meanings:
        if meaning.kind in ("set", "model", "gpu"):
            fields.put(meaning.field or meaning.kind, meaning.value, meaning)
    _pair_keys(meanings, fields)
    _pair_counts(meanings, fields)
    _take_sizes(meanings, fields)
    _adapter_task(fields)
    _default_task(fields)
    _four_bit_lora(fields)
    _laptop_gpu(meanings, fields)
    _unsaid_fine_tune(fields)
    _offload_when_serving(fields)
    _runtime(fields)
    _field_by_engine(fields)
    try:
        return Request(**fields.values, notes=tuple(fields.notes), positions=tuple(fields.positions.items()))
    except VramError as error:
        raise error.at(fields.positions.get(error.field)) from None


def _offload_when_serving(fields: _Fields) -> None:
    """'run llama 3 70b on a 4090 with cpu offload': offload is of a training job's optimizer or
    parameters (DeepSpeed ZeRO-Offload); a model served partly from the CPU is llama.cpp's layers."""
    if fields.values.get("task") == Task.INFERENCE and fields.values.get("offload") not in (None, Offload.NONE):
        raise UnsupportedError(f"'{fields.texts['offload']}' offloads a training job's optimizer or parameters; "
                               f"to serve a model partly from the CPU, run it with llama.cpp and ask for "
                               f"'max layers' (the layers that fit on the GPU) or give -ngl N",
                               position=fields.positions["offload"])


def _asks_outside_memory(meanings: list[Meaning]) -> None:
    """'tokens per second', 'how long to train', 'cost': refused plainly; 'help' alone: the help."""
    for meaning in meanings:
        if meaning.kind == "outside":
            raise UnsupportedError.said(f"error.outside_{meaning.value}", position=meaning.pos)
    asks_help = any(m.kind == "help" for m in meanings)
    if asks_help and all(m.kind in ("help", "filler", "letgo") for m in meanings):
        raise HelpRequested(query_language())
    for meaning in meanings:
        if meaning.kind == "help":  # "help" inside a query that says more: not a word of the query
            meaning.kind, meaning.note = "letgo", let_go(meaning.text)


def _teacher(meanings: list[Meaning], fields: _Fields) -> None:
    """'distill qwen2.5-7b from qwen2.5-72b': beside a distillation word, the model after 'from' (or
    'teacher') is the teacher; elsewhere 'from' stays a word the query cannot place."""
    if not any(m.field == "objective" and m.value == Objective.DISTILL for m in meanings):
        return
    for index, word in enumerate(meanings):
        # "into" is a filler elsewhere ("fit into 24gb"); beside a distillation word it places the models
        if word.kind not in ("unknown", "filler") or word.text.lower() not in TEACHER_WORDS | STUDENT_WORDS:
            continue
        # 'from X' names the teacher after the word; 'X into Y' before it
        model = _neighbour(meanings, index, -1 if word.text.lower() in STUDENT_WORDS else 1,
                           lambda m: m.kind == "model")
        if model is None and word.kind == "filler":  # "... from qwen2.5-72b into 8 h100": a filler still
            continue
        if model is None:
            raise MissingError(f"'{word.text}' needs the teacher model after it, as in 'distill qwen2.5-7b from "
                               f"qwen2.5-72b'", position=word.pos)
        word.kind, model.kind = "filler", "teacher"
        fields.put("teacher", model.value, Meaning("set", word.pos, f"{word.text} {model.text}"))


def _setting_numbers(meanings: list[Meaning], fields: _Fields) -> None:
    """'fsdp 8', 'colocate 0.5': a setting word and the number right after it, for the field
    vocabulary.SETTING_NUMBERS names; a number before a GPU stays its count ('fsdp 8 h100')."""
    # the live list, not a copy: indices stay those of ``meanings`` after an insertion (the inserted
    # Meaning is visited next and passed over, its words 'fsdp 8' being no setting word)
    for index, word in enumerate(meanings):
        field = SETTING_NUMBERS.get(word.text.lower()) if word.kind == "set" else None
        number = meanings[index + 1] if field and index + 1 < len(meanings) else None
        # a plain number: "fsdp 8b" is a model's size after the setting, not a degree
        if number is None or number.kind != "number" or number.used or number.value[1] \
                or _gpu_follows(meanings, index + 1) or _measured(meanings, index + 1):
            continue
        number.used = True
        value = scaled(field, *number.value, number.pos)
        text = f"{word.text} {number.text}"
        if field == word.field:
            word.value, word.text = value, text
        else:
            meanings.insert(meanings.index(number), Meaning("set", number.pos, text, field, value))
        fields.notes.append(Note("note.setting_number", text=text, field=field, value=value))


def _negate(meanings: list[Meaning]) -> None:
    """'no flash', 'without zero', 'checkpointing off': the setting beside the negating word takes
    its off value (vocabulary.NEGATED); beside a word it cannot switch off, the query is refused."""
    for index, word in enumerate(meanings):
        if word.kind != "negation":
            continue
        before, after = word.value
        any_word = lambda m: True  # noqa: E731
        sides = [(-1, _neighbour(meanings, index, -1, any_word))] if after else []
        sides += [(1, _neighbour(meanings, index, 1, any_word))] if before else []
        sides = [(step, m) for step, m in sides if m is not None]
        target = next(((step, m) for step, m in sides if _negatable(m)), None)
        if target is None:
            raise _not_negatable(word, sides[0][1] if sides else None)
        step, setting = target
        setting.kind, setting.value = "set", NEGATED[setting.field]
        setting.text = f"{setting.text} {word.text}" if step < 0 else f"{word.text} {setting.text}"
        setting.pos, word.kind = min(setting.pos, word.pos), "filler"


def _negatable(meaning: Meaning) -> bool:
    # a setting word ("flash"), a binding key alone ("recompute"), a key without its number ("zero")
    return meaning.kind in ("set", "bind", "key") and meaning.field in NEGATED and not meaning.used


def _not_negatable(word: Meaning, beside: Meaning | None) -> QueryError:
    if beside is None:
        return QueryError.said("error.negation_alone", text=word.text, position=word.pos)
    return QueryError.said("error.negation_cannot", text=word.text, beside=beside.text, position=word.pos)


def _full_fine_tune(meanings: list[Meaning]) -> None:
    """'sft llama-3.1-8b full bf16': beside a fine-tuning word, a bare 'full' is a full fine-tune
    (every weight trained), not full recompute; the answer says which reading was taken."""
    # a post-training objective (dpo, grpo, reward model) fine-tunes a model too
    fine_tune = [m for m in meanings if m.field == "task" and m.text.lower() in FINE_TUNE_WORDS
                 or m.field == "objective" and m.kind == "set"]
    for meaning in meanings:
        if meaning.kind != "set" or meaning.field != "recompute" or meaning.text.lower() != "full":
            continue
        if fine_tune:
            meaning.kind = "letgo"
            meaning.note = (f"'full' read as a full fine-tune (every weight trained), after "
                            f"'{fine_tune[0].text}'; say 'full recompute' for activation recomputation")
        elif meaning.value == Recompute.FULL:
            meaning.note = "'full' read as full recompute; say 'full fine-tune' for training every weight"


class _Fields:
    """Field values with the word each came from; a second, different value is a conflict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.positions: dict[str, int] = {}
        self.texts: dict[str, str] = {}
        self.notes: list[str] = []

    def put(self, field: str, value: Any, meaning: Meaning) -> None:
        old = self.values.get(field)
        if field == "task" and old is not None and meaning.text.lower() in ANY_TASK_WORDS:
            return
        if field == "task" and old is not None and self.texts[field].lower() in ANY_TASK_WORDS:
            self.values.pop(field), self.positions.pop(field), self.texts.pop(field)
        elif field == "task" and old is not None and {old, value} <= TASK_SPECIFICITY.keys():
            value = max(old, value, key=TASK_SPECIFICITY.__getitem__)
        elif field in self.values and old != value:
            raise ConflictError.said("error.conflict", name=field.replace("_", " "), text=meaning.text,
                                     other=self.texts[field], column=self.positions[field] + 1,
                                     position=meaning.pos, field=field)
        self.values[field] = value
        self.positions.setdefault(field, meaning.pos)
        self.texts.setdefault(field, meaning.text)

    def move(self, field: str, to: str) -> None:
        """``field``'s value, position and words, read as ``to`` (one reading of a word, decided later)."""
        for table in (self.values, self.positions, self.texts):
            table[to] = table.pop(field)


def _neighbour(meanings: list[Meaning], index: int, step: int, accept) -> Meaning | None:
    """The first meaning from ``index`` in direction ``step`` past fillers, if ``accept`` takes it."""
    i = index + step
    while 0 <= i < len(meanings) and meanings[i].kind in SKIPPABLE:
        i += step
    if 0 <= i < len(meanings) and accept(meanings[i]):
        return meanings[i]
    return None


def _bind(meanings: list[Meaning]) -> None:
    """'kv int8', 'fp8 kv cache', 'recompute selective': the key claims the value word beside it."""
    for index, key in enumerate(meanings):
        if key.kind != "bind":
            continue
        source = BIND_SOURCES[key.field]  # the fields whose words it takes
        takes = lambda m: m.kind == "set" and m.field in source and not m.used  # noqa: E731
        value = _neighbour(meanings, index, 1, takes) or _neighbour(meanings, index, -1, takes)
        if value is not None:
            # a key of the value's own kind ("awq 量化版": dtype or format) leaves its field as it is
            value.field, value.used = (value.field if key.field in source else key.field), True
            value.text = f"{key.text} {value.text}" if value.pos > key.pos else f"{value.text} {key.text}"
        elif key.field in BIND_DEFAULTS:
            key.kind, key.value = "set", BIND_DEFAULTS[key.field]
        else:
            raise MissingError.said("error.needs_value", text=key.text, position=key.pos)


def _targets(meanings: list[Meaning], fields: _Fields) -> None:
    """'targets q_proj v_proj', 'target_modules=all-linear': the words after the key name matrices."""
    for index, key in enumerate(meanings):
        if key.kind != "targets":
            continue
        names = list(key.value)
        for word in meanings[index + 1:]:
            if word.text.lower() not in TARGET_ALIASES:
                break
            names.append(word.text.lower())
            word.kind = "filler"  # taken: "up", "all" and "attention" are fillers elsewhere
        if not names:
            raise MissingError(f"'{key.text}' needs the matrices, as in '{key.text} q_proj v_proj' or "
                               f"'{key.text} all-linear'", position=key.pos)
        unknown = [n for n in names if n.lower() not in TARGET_ALIASES]
        if unknown:
            raise QueryError(f"unknown adapter target '{unknown[0]}'", position=key.pos,
                             expected=sorted(TARGET_ALIASES))
        targets = tuple(dict.fromkeys(m for n in names for m in TARGET_ALIASES[n.lower()]))
        key.kind = "filler"
        fields.put(key.field, targets, key)


def _magnitudes(meanings: list[Meaning]) -> None:
    """'7 billion': the word is the number's suffix; '70亿': the number times 10^8."""
    for index, word in enumerate(meanings):
        if word.kind != "magnitude":
            continue
        number = meanings[index - 1] if index else None
        if number is None or number.kind != "number" or number.value[1]:
            raise QueryError(f"'{word.text}' needs a number before it, as in '7 {word.text}'", position=word.pos)
        if word.value.startswith("e"):  # "70亿": a power of ten the number is multiplied by, not a suffix
            number.value, number.text = (number.value[0].scaleb(int(word.value[1:])), ""), number.text + word.text
        else:
            number.value, number.text = (number.value[0], word.value), f"{number.text} {word.text}"
        word.kind = "merged"
    meanings[:] = [m for m in meanings if m.kind != "merged"]  # "7 billion params": the key sees the number


def _families(meanings: list[Meaning], fields: _Fields) -> None:
    """'llama 70b': the catalog's one model of that family and size, or the choice to make."""
    for index, family in enumerate(meanings):
        if family.kind != "family":
            continue
        is_size = lambda m: m.kind == "number" and not m.used and m.value[1] in SIZE_SUFFIXES  # noqa: E731
        # "llama 3 405b", "qwen 2.5 72b": a version between the family and the size narrows the family
        # to the ids that start with it ("llama-3" holds llama-3.1-405b); the answer says which was taken
        version = _neighbour(meanings, index, 1, _is_version)
        if version is not None and (after := _neighbour(meanings, meanings.index(version), 1, is_size)):
            size, version.used = after, True
            version.kind = "filler"
            named = f"{family.value}-{version.text}"
        else:
            size = _neighbour(meanings, index, 1, is_size) or _neighbour(meanings, index, -1, is_size)
            named = family.value
        if size is None:
            raise QueryError(f"which {family.text}? name one with its size, as in "
                             f"'{_examples(family.value, None)[0]}'", position=family.pos)
        params = scaled("params", *size.value, size.pos)
        found = catalog.models_of_family(named, params)
        exact = [m for m in found if m.id.startswith(named + "-")]  # "llama 3 70b": llama-3-70b, not 3.1
        if len(found) > 1 and len(exact) == 1:
            found = exact
        if len(found) == 1 and named != family.value and not found[0].id.startswith(named + "-"):
            fields.notes.append(f"'{family.text} {named.split('-')[-1]} {size.text}' read as {found[0].id}, "
                                f"the catalog's {size.text} of that version")
        if len(found) != 1:
            said = named.replace("-", " ")
            which = "could be " + ", ".join(m.id for m in found) if found else (
                f"is not in the catalog (its {said} models: {', '.join(_examples(named, params))})")
            raise QueryError(f"{said} {size.text} {which}; name one, or give the size alone",
                             position=family.pos)
        size.used, family.kind = True, "model"
        family.field, family.value, family.text = "model", found[0].id, f"{family.text} {size.text}"


def _is_version(meaning: Meaning) -> bool:
    """A model version after a family word: a bare number below 10 (3, 2.5, 3.1), never a size."""
    return meaning.kind == "number" and not meaning.used and meaning.value[1] == "" and 0 < meaning.value[0] < 10


def _examples(family: str, params: float | None) -> list[str]:
    specs = [s for s in catalog.models().by_id.values() if s.id.startswith(family)]
    if params is not None:
        specs.sort(key=lambda s: abs(s.nominal_params - params))
    return [s.id for s in specs[:6]]


#: The task words that also take the number of tokens to generate after them ("generate 2048",
#: "生成1000个token").
GENERATE_WORDS = frozenset({"generate", "生成"})
#: "in 4k out 1k", "4k in / 1k out": 'in' is the prompt only beside a number and with an 'out'.
IN_WORD, OUT_WORD = "in", "out"
TOKENS_WORDS = frozenset({"tokens", "token"})


def _generate_count(meanings: list[Meaning], fields: _Fields) -> None:
    """'generate 2048': the task word, then the tokens to generate (a count, not a model size)."""
    for i, meaning in enumerate(meanings):
        if meaning.kind != "set" or meaning.text.lower() not in GENERATE_WORDS:
            continue
        number = _free_number(meanings, i + 1, "new_tokens")
        if number is not None and number.value[1] not in SIZE_SUFFIXES:
            number.used = True
            after = i + 2 + (i + 2 < len(meanings) and meanings[i + 2].text in LINK_WORDS)  # "1000个token"
            unit = meanings[after] if after < len(meanings) else None
            if unit is not None and unit.kind == "key" and unit.text.lower() in TOKENS_WORDS:
                unit.kind = "filler"  # "generate 2048 tokens": the count's unit, not a context length
            fields.put("new_tokens", scaled("new_tokens", *number.value, number.pos),
                       Meaning("set", number.pos, f"{meaning.text} {number.text}"))


def _prompt_in(meanings: list[Meaning]) -> None:
    """'in' (a filler elsewhere: "in bf16") is the prompt's key beside a number when 'out' is said."""
    if not any(m.kind == "key" and m.text.lower() == OUT_WORD for m in meanings):
        return
    for i, meaning in enumerate(meanings):
        if meaning.kind == "filler" and meaning.text.lower() == IN_WORD and (
                _free_number(meanings, i + 1, "seq_len") or _free_number(meanings, i - 1, "seq_len")):
            meaning.kind, meaning.field = "key", "seq_len"


def _pair_keys(meanings: list[Meaning], fields: _Fields) -> None:
    for i, meaning in enumerate(meanings):
        if meaning.kind not in ("key", "ignored"):
            continue
        if meaning.kind == "ignored" and meaning.value is not None:  # "lr=1e-4"
            fields.notes.append(let_go(meaning.text))
            continue
        # a number after the key, else one before it ("32k context") unless that is a model size
        if i >= 2 and meanings[i - 1].text in LINK_WORDS:  # "32k的上下文": the number is the key's
            number = _free_number(meanings, i - 2, meaning.field) or _free_number(meanings, i + 1)
        else:
            number = _free_number(meanings, i + 1) or _free_number(meanings, i - 1, meaning.field)
        if number is None:
            raise MissingError.said("error.needs_number", text=meaning.text, position=meaning.pos)
        number.used = True
        if meaning.field == "batch_size" and fields.values.get("solve") is Solve.MAX_BATCH_SIZE \
                and number.value[1] == "k":  # "how many concurrent 8k requests": the length of each
            length = scaled("seq_len", *number.value, number.pos)
            fields.put("seq_len", length, Meaning("set", number.pos, f"{number.text} {meaning.text}"))
            fields.notes.append(Note("note.asked_batch_length", text=f"{number.text} {meaning.text}", value=length))
            continue
        if meaning.field == "gpu_count":
            _not_a_gpu_name(number)
        if meaning.kind == "ignored":
            fields.notes.append(let_go(f"{meaning.text} {number.text}"))
            continue
        fields.put(meaning.field, scaled(meaning.field, *number.value, number.pos),
                   Meaning("set", number.pos, f"{meaning.text} {number.text}"))
        # "fine tune ... lora rank 32", "--lora_r 16", "微调 qwen lora rank 16": a key that names the adapter
        if meaning.field == "lora_rank" and meaning.text.lower().lstrip("-").startswith(ADAPTER_KEY_PREFIX):
            fields.put("task", Task.LORA, meaning)


#: A rank key that names the adapter ("lora rank", "lora_rank", "--lora-r") says the task is an adapter's.
ADAPTER_KEY_PREFIX = "lora"
#: Words that join a number to the key after it: "32k的上下文" is "32k context", "8个并发" "8 concurrent".
LINK_WORDS = frozenset({"的", "个"})


def _free_number(meanings: list[Meaning], i: int, before_field: str | None = None) -> Meaning | None:
    if not (0 <= i < len(meanings) and meanings[i].kind == "number" and not meanings[i].used):
        return None
    if before_field not in (None, "params") and meanings[i].value[1] in ("b", "t"):
        return None
    return meanings[i]


def _pair_counts(meanings: list[Meaning], fields: _Fields) -> None:
    for i, meaning in enumerate(meanings):
        follows = meanings[i + 1] if i + 1 < len(meanings) else None
        if meaning.kind == "count":
            if follows is None or follows.kind != "gpu":
                raise QueryError.said("error.count_needs_gpu", text=meaning.text, position=meaning.pos,
                                      expected=("a GPU name",))
            fields.put("gpu_count", meaning.value, meaning)
        elif meaning.kind == "postcount":
            if i == 0 or meanings[i - 1].kind != "gpu":
                raise QueryError.said("error.count_follows_gpu", text=meaning.text, position=meaning.pos)
            fields.put("gpu_count", meaning.value, meaning)
        elif meaning.kind == "number" and not meaning.used and not meaning.value[1] and _measured(meanings, i):
            _count_by_measure(meanings, i, fields)
        elif meaning.kind == "number" and not meaning.used and not meaning.value[1] and _gpu_follows(meanings, i):
            _not_a_gpu_name(meaning)
            meaning.used = True  # "2 a100", "2 张 a100"
            fields.put("gpu_count", scaled("gpu_count", *meaning.value, meaning.pos), meaning)
        elif meaning.kind == "gpu":
            if meaning.text.isdigit() and _measured(meanings, i):  # "4090张": a count's form, a GPU's number
                _not_a_gpu_name(meaning)
            _count_after(meanings, i, fields)


def _not_a_gpu_name(number: Meaning) -> None:
    """A count is a count by its form ('2x', 'on 4 h100'), never a GPU's model number ('2080')."""
    named = gpus_named(number.text) if len(number.text) >= 4 and number.text.isdigit() else []
    if named:
        raise QueryError.said("error.model_number", text=number.text, cards=", ".join(sorted(g.id for g in named)[:3]),
                              card=named[0].id, position=number.pos)


#: Words that may stand between a count and its GPU: Chinese measure words ("2 张 a100"), and the
#: 'x' of "2 x 3090" (the lexer leaves a spaced 'x' before a number as a word).
COUNT_GAP_WORDS = frozenset({"张", "块", "个", "x", "×", "*"})


def _measured(meanings: list[Meaning], i: int) -> bool:
    """'8卡', '两张', '4 张': a number right before a measure word is a count of GPUs, by its form."""
    return i + 1 < len(meanings) and meanings[i + 1].text in MEASURE_WORDS


def _count_by_measure(meanings: list[Meaning], i: int, fields: _Fields) -> None:
    """'8卡', '两张4090': that many GPUs; '2台8卡': 2 machines of 8; '2台' alone: 2 GPUs, said so."""
    number, measure = meanings[i], meanings[i + 1]
    _not_a_gpu_name(number)
    number.used = True
    count = scaled("gpu_count", *number.value, number.pos)
    if measure.text in MACHINE_MEASURE_WORDS:
        each = meanings[i + 2] if i + 2 < len(meanings) else None
        if each is not None and each.kind == "number" and not each.value[1] and _measured(meanings, i + 2) \
                and meanings[i + 3].text not in MACHINE_MEASURE_WORDS:
            each.used = True
            per_machine = scaled("gpu_count", *each.value, each.pos)
            text = f"{number.text}{measure.text}{each.text}{meanings[i + 3].text}"
            fields.notes.append(Note("note.machines", text=text, total=count * per_machine, machines=count,
                                     each=per_machine))
            count *= per_machine
        else:
            fields.notes.append(Note("note.machines_alone", text=f"{number.text}{measure.text}", count=count))
    fields.put("gpu_count", count, Meaning("set", number.pos, f"{number.text}{measure.text}"))


def _gpu_follows(meanings: list[Meaning], i: int) -> bool:
    i += 1
    while i < len(meanings) and meanings[i].text in COUNT_GAP_WORDS:
        i += 1
    return i < len(meanings) and meanings[i].kind == "gpu"


def _count_after(meanings: list[Meaning], i: int, fields: _Fields) -> None:
    """'a100 x 8': a count after the GPU, joined by 'x'."""
    if i + 2 < len(meanings) and meanings[i + 1].text.lower() in ("x", "×", "*"):
        number = meanings[i + 2]
        if number.kind == "number" and not number.used and not number.value[1]:
            number.used = True
            fields.put("gpu_count", scaled("gpu_count", *number.value, number.pos), number)


def _take_sizes(meanings: list[Meaning], fields: _Fields) -> None:
    for index, meaning in enumerate(meanings):
        if meaning.kind != "number" or meaning.used:
            continue
        mantissa, suffix = meaning.value
        # copy_abs, not abs(): abs() rounds to the decimal context and raises Overflow past 1e999999
        if suffix in SIZE_SUFFIXES or (not suffix and mantissa.copy_abs() >= PLAIN_PARAMS_FROM):
            params = scaled("params", mantissa, suffix, meaning.pos)
            if not _own_size(fields, params, meaning):
                fields.put("params", params, meaning)
        elif suggest.where_a_gpu_goes(meanings, index):  # "on 3080": a number where a GPU goes
            raise suggest.unknown_gpu(meaning)
        elif suffix == "k":  # "llama-3-8b 8k": a context length, said so
            fields.put("seq_len", scaled("seq_len", mantissa, suffix, meaning.pos), meaning)
            fields.notes.append(f"'{meaning.text}' taken as the context length (say 'seq {meaning.text}')")
        else:
            raise QueryError.said("error.number_alone", text=meaning.text, position=meaning.pos)


def _unsaid_fine_tune(fields: _Fields) -> None:
    """'微调 qwen2.5-7b': no adapter named, so a full fine-tune; said, with how to ask for LoRA."""
    text = fields.texts.get("task", "")
    if fields.values.get("task") is Task.TRAINING and text.lower() in UNSAID_FINE_TUNE_WORDS:
        fields.notes.append(Note("note.full_fine_tune", text=text))


def _own_size(fields: _Fields, params: float, meaning: Meaning) -> bool:
    """'deepseek-r1 671b': a size that restates the named model's own is let go, and said so."""
    spec = catalog.find_model(fields.values["model"]) if isinstance(fields.values.get("model"), str) else None
    if spec is None or spec.nominal_params != params:
        return False
    fields.notes.append(Note("note.own_size", text=meaning.text, model=spec.id))
    return True


#: Objectives that generate with a colocated vLLM: their 'gpu_memory_utilization' is its share.
ROLLOUT_OBJECTIVES = frozenset({Objective.GRPO, Objective.PPO})


def _runtime(fields: _Fields) -> None:
    """'transformers' both serves (generate) and trains (Trainer): the task says which it is. 'serve'
    and an engine's own setting ('gpu-memory-utilization 0.9') with no engine named: that engine. In a
    training job 'gpu_memory_utilization' is a colocated rollout vLLM's share (TRL's GRPOConfig)."""
    if "memory_fraction" in fields.values and fields.values.get("objective") in ROLLOUT_OBJECTIVES:
        fields.move("memory_fraction", "rollout_fraction")
    if "runtime" in fields.values:
        name = "framework" if fields.values["task"] in TRAINING_TASKS else "engine"
        fields.move("runtime", name)
        if "runtime_version" in fields.values:  # transformers==4.45.0
            fields.move("runtime_version", f"{name}_version")
    if "engine" in fields.values or fields.values["task"] in TRAINING_TASKS:
        return
    # a field FIELD_BY_ENGINE places says no engine: SGLang's and TGI's flags share its spelling
    said = [f for f in ENGINE_FIELDS if f in fields.values and f not in FIELD_BY_ENGINE]
    if said:
        engine = ENGINE_SPELLINGS.get(_spelling(fields.texts[said[0]]), Engine.VLLM)
        _engine_from(fields, said[0], engine, "note.engine_by_setting", engine=engine)
    elif ggml := [f for f in (*ENGINE_SETTINGS, "seq_len") if f in fields.values
                  and _spelling(fields.texts[f]) in GGML_SPELLINGS]:
        engine = GGML_SPELLINGS[_spelling(fields.texts[ggml[0]])]
        _engine_from(fields, ggml[0], engine, "note.engine_by_setting", engine=engine)
    elif fields.values.get("solve") is Solve.GPU_LAYERS:
        _engine_from(fields, "solve", Engine.LLAMA_CPP, "note.engine_by_question")
    elif fields.texts.get("task", "").lower() in SERVE_WORDS:
        _engine_from(fields, "task", Engine.VLLM, "note.engine_by_verb")


def _field_by_engine(fields: _Fields) -> None:
    """A flag one engine reads as one setting and others as another ('--max-total-tokens': SGLang's
    pool cap, TGI's context): placed in the field its engine reads (FIELD_BY_ENGINE)."""
    engine = fields.values.get("engine")
    for field, (engines, otherwise) in FIELD_BY_ENGINE.items():
        if field not in fields.values or engine in engines:
            continue
        value, position, text = fields.values.pop(field), fields.positions.pop(field), fields.texts.pop(field)
        fields.put(otherwise, value, Meaning("set", position, text, otherwise, value))


def _engine_from(fields: _Fields, source: str, engine: Engine, note: str, /, **said: Any) -> None:
    """The engine a field's words imply, placed at those words, and the note that says so."""
    text = fields.texts[source]
    fields.put("engine", engine, Meaning("set", fields.positions[source], text, "engine", engine))
    fields.notes.append(Note(note, text=text, **said))


def _spelling(text: str) -> str:
    """A setting's key as the tables spell it: '--n-gpu-layers 20' -> 'n_gpu_layers'."""
    return text.split()[0].split("=")[0].lstrip("-").lower().replace("-", "_")


def _adapter_task(fields: _Fields) -> None:
    """'dora llama-3.1-8b r 32', 'train ... with dora': a setting only an adapter has says the task is
    LoRA's, as 'fine-tune ... with lora' does (a more specific task wins; 'infer ... dora' conflicts)."""
    adapter = [f for f in ADAPTER_ONLY_FIELDS if fields.values.get(f)]
    if not adapter:
        return
    said = "task" in fields.values
    source = Meaning("set", fields.positions[adapter[0]], fields.texts[adapter[0]], "task")
    fields.put("task", PHRASES["lora"][1], source)
    if not said:
        fields.notes.append(Note("note.task_adapter", text=fields.texts[adapter[0]]))


def _default_task(fields: _Fields) -> None:
    """No task said ("does llama-3-8b fit on a 4090?"): serving is what such questions mean."""
    if "task" in fields.values:
        return
    if "model" not in fields.values and "params" not in fields.values:
        raise MissingError.said("error.missing_job",
                                expected=("'infer llama-3-8b'", "'train 7b bf16 adamw'", "'lora llama-2-13b'"))
    training = [f for f in TRAINING_ONLY_FIELDS if fields.values.get(f, Offload.NONE) != Offload.NONE]
    if training:  # "deepspeed zero 3 with cpu offload for 13b": only a training job has these
        first = min(training, key=fields.positions.__getitem__)
        fields.values["task"] = PHRASES["train"][1]
        fields.notes.append(Note("note.task_training", text=fields.texts[first]))
        return
    fields.values["task"] = PHRASES["infer"][1]
    if "engine" not in fields.values:  # an engine named ("vllm serve ...") says serving: nothing assumed
        fields.notes.append(Note("note.task_inference"))


def _laptop_gpu(meanings: list[Meaning], fields: _Fields) -> None:
    """'laptop 3060': refused rather than read as the desktop card, whose memory may be larger."""
    gpu = fields.values.get("gpu")
    laptop = next((m for m in meanings if m.text.lower() in LAPTOP_WORDS), None)
    if laptop is None or gpu is None:
        return
    card = catalog.find_gpu(gpu)
    if card is None or card.vendor not in ("nvidia", "amd") or gpu.startswith("gpu-"):
        return
    if re.search(r"\d\s*gb?$", fields.texts.get("gpu", ""), re.IGNORECASE):
        return  # its memory was said ("laptop 4060 8gb"): the card of that memory was taken
    raise QueryError.said("error.laptop_gpu", gpu=gpu, position=laptop.pos)


def _four_bit_lora(fields: _Fields) -> None:
    """'lora ... 4bit': LoRA on a 4-bit base is QLoRA (Dettmers et al. 2023); read so, and said."""
    if fields.values.get("task") is Task.LORA and fields.values.get("dtype") in FOUR_BIT_DTYPES:
        fields.values["task"] = Task.QLORA
        fields.notes.append(Note("note.four_bit_lora", dtype=str(fields.values["dtype"])))
    # "unsloth 微调 qwen3-8b 4bit": a fine-tune word that names no method, on a 4-bit base whose
    # weights cannot be trained (bitsandbytes' Linear4bit holds frozen Params4bit), can only train
    # adapters: QLoRA, as Unsloth's load_in_4bit with get_peft_model does
    text = fields.texts.get("task", "")
    if fields.values.get("task") is Task.TRAINING and text.lower() in UNSAID_FINE_TUNE_WORDS \
            and fields.values.get("dtype") in FOUR_BIT_DTYPES:
        fields.values["task"] = Task.QLORA
        fields.notes.append(Note("note.four_bit_fine_tune", text=text, dtype=str(fields.values["dtype"])))

