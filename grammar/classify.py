"""Atoms to a Request: each word classified against the core's vocabulary and catalogs.

Pass 1 (words.py) gives each word or phrase a meaning. Pass 2, here, pairs them: binding keys
("kv", "recompute") with the value word beside them, numbers with magnitudes ("7 billion"),
families with sizes ("llama 70b"), keys with their numbers ("seq 4096", "32k context"), counts with
GPUs ("8x a100", "a100 x8"), bare sizes ("7b"). Every field is recorded once; a second, different
value is a conflict, except that a more specific task wins ("fine-tune ... with lora" is lora).
What the parse assumed is kept as the Request's notes, which the answer lists.
"""

from __future__ import annotations

from typing import Any

from vram import catalog
from vram.errors import ConflictError, HelpRequested, MissingError, QueryError, UnsupportedError, VramError
from vram.request.enums import TRAINING_TASKS, Offload, Recompute, Task
from vram.request.lora import TARGET_ALIASES
from vram.request.request import Request
from vram.request.vocabulary import BIND_DEFAULTS, BIND_SOURCES, FINE_TUNE_WORDS, NEGATED, PHRASES

from . import suggest
from .help import QUERY_LANGUAGE
from .numbers import PLAIN_PARAMS_FROM, SIZE_SUFFIXES, scaled
from .parser import Atom
from .words import Meaning, gpus_named, let_go, meanings as read_meanings

#: Tasks by how specific they are: "fine-tune llama with lora" is a LoRA job, not a conflict.
TASK_SPECIFICITY = {Task.TRAINING: 1, Task.LORA: 2, Task.QLORA: 3}
SKIPPABLE = ("filler", "letgo")
#: Settings only a training job has: a query naming one and no task is a training job.
TRAINING_ONLY_FIELDS = ("optimizer", "zero", "precision_regime", "offload", "optimizer_foreach", "framework",
                        "objective")
#: What a question outside memory is told: vram answers memory, and says so plainly.
OUTSIDE_MESSAGE = ("{topic} is not modelled yet (vram answers memory); ask how much memory a job needs, "
                   "as in 'infer llama-3-8b fp16 on a100'")


def to_request(atoms: list[Atom]) -> Request:
    meanings = read_meanings(atoms)
    _asks_outside_memory(meanings)
    fields = _Fields()
    _targets(meanings, fields)
    for meaning in meanings:
        if meaning.kind == "unknown":
            raise suggest.unknown(meaning, meanings)
    _negate(meanings)
    _full_fine_tune(meanings)
    fields.notes += [m.note for m in meanings if m.note]
    _bind(meanings)
    _magnitudes(meanings)
    _families(meanings, fields)
    for meaning in meanings:
        if meaning.kind in ("set", "model", "gpu"):
            fields.put(meaning.field or meaning.kind, meaning.value, meaning)
    _pair_keys(meanings, fields)
    _pair_counts(meanings, fields)
    _take_sizes(meanings, fields)
    _default_task(fields)
    _runtime(fields)
    try:
        return Request(**fields.values, notes=tuple(fields.notes), positions=tuple(fields.positions.items()))
    except VramError as error:
        raise error.at(fields.positions.get(error.field)) from None


def _asks_outside_memory(meanings: list[Meaning]) -> None:
    """'tokens per second', 'how long to train', 'cost': refused plainly; 'help' alone: the help."""
    for meaning in meanings:
        if meaning.kind == "outside":
            raise UnsupportedError(OUTSIDE_MESSAGE.format(topic=meaning.value), position=meaning.pos)
        if meaning.kind == "generated":
            raise QueryError(f"'{meaning.text}': generated tokens fill the KV cache as the prompt does; say "
                             "the whole context, prompt and generated tokens together, as in 'seq 6144'",
                             position=meaning.pos)
    asks_help = any(m.kind == "help" for m in meanings)
    if asks_help and all(m.kind in ("help", "filler", "letgo") for m in meanings):
        raise HelpRequested(QUERY_LANGUAGE)
    for meaning in meanings:
        if meaning.kind == "help":  # "help" inside a query that says more: not a word of the query
            meaning.kind, meaning.note = "letgo", let_go(meaning.text)


#: The settings negation switches off, as people name them, for the message when it cannot.
NEGATABLE = "flash attention, checkpointing, zero, offload, sp or dropout"


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
        return QueryError(f"'{word.text}' needs the setting it switches off beside it, as in 'no flash attention' "
                          f"or 'checkpointing off' ({NEGATABLE})", position=word.pos)
    return QueryError(f"'{word.text}' cannot switch off '{beside.text}'; negation takes {NEGATABLE}; for "
                      f"anything else name what to use instead (as in 'adafactor', not 'no adamw')",
                      position=word.pos)


def _full_fine_tune(meanings: list[Meaning]) -> None:
    """'sft llama-3.1-8b full bf16': beside a fine-tuning word, a bare 'full' is a full fine-tune
    (every weight trained), not full recompute; the answer says which reading was taken."""
    fine_tune = [m for m in meanings if m.field == "task" and m.text.lower() in FINE_TUNE_WORDS]
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
        if field == "task" and old is not None and {old, value} <= TASK_SPECIFICITY.keys():
            value = max(old, value, key=TASK_SPECIFICITY.__getitem__)
        elif field in self.values and old != value:
            raise ConflictError(
                f"conflicting {field.replace('_', ' ')} '{meaning.text}'; '{self.texts[field]}' at column "
                f"{self.positions[field] + 1} already set it, say only one",
                position=meaning.pos, field=field,
            )
        self.values[field] = value
        self.positions.setdefault(field, meaning.pos)
        self.texts.setdefault(field, meaning.text)


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
        source = BIND_SOURCES[key.field]
        takes = lambda m: m.kind == "set" and m.field == source and not m.used  # noqa: E731
        value = _neighbour(meanings, index, 1, takes) or _neighbour(meanings, index, -1, takes)
        if value is not None:
            value.field, value.used = key.field, True
            value.text = f"{key.text} {value.text}" if value.pos > key.pos else f"{value.text} {key.text}"
        elif key.field in BIND_DEFAULTS:
            key.kind, key.value = "set", BIND_DEFAULTS[key.field]
        else:
            raise MissingError(f"'{key.text}' needs a value beside it, as in '{key.text} fp8'", position=key.pos)


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
    """'7 billion': the word is the number's suffix."""
    for index, word in enumerate(meanings):
        if word.kind != "magnitude":
            continue
        number = meanings[index - 1] if index else None
        if number is None or number.kind != "number" or number.value[1]:
            raise QueryError(f"'{word.text}' needs a number before it, as in '7 {word.text}'", position=word.pos)
        number.value, number.text = (number.value[0], word.value), f"{number.text} {word.text}"
        word.kind = "filler"


def _families(meanings: list[Meaning], fields: _Fields) -> None:
    """'llama 70b': the catalog's one model of that family and size, or the choice to make."""
    for index, family in enumerate(meanings):
        if family.kind != "family":
            continue
        is_size = lambda m: m.kind == "number" and not m.used and m.value[1] in SIZE_SUFFIXES  # noqa: E731
        size = _neighbour(meanings, index, 1, is_size) or _neighbour(meanings, index, -1, is_size)
        if size is None:
            raise QueryError(f"which {family.text}? name one with its size, as in "
                             f"'{_examples(family.value, None)[0]}'", position=family.pos)
        params = scaled("params", *size.value, size.pos)
        found = catalog.models_of_family(family.value, params)
        if len(found) != 1:
            which = "could be " + ", ".join(m.id for m in found) if found else (
                f"is not in the catalog (its {family.text} models: {', '.join(_examples(family.value, params))})")
            raise QueryError(f"{family.text} {size.text} {which}; name one, or give the size alone",
                             position=family.pos)
        size.used, family.kind = True, "model"
        family.field, family.value, family.text = "model", found[0].id, f"{family.text} {size.text}"


def _examples(family: str, params: float | None) -> list[str]:
    specs = [s for s in catalog.models().by_id.values() if s.id.startswith(family)]
    if params is not None:
        specs.sort(key=lambda s: abs(s.nominal_params - params))
    return [s.id for s in specs[:6]]


def _pair_keys(meanings: list[Meaning], fields: _Fields) -> None:
    for i, meaning in enumerate(meanings):
        if meaning.kind not in ("key", "ignored"):
            continue
        if meaning.kind == "ignored" and meaning.value is not None:  # "lr=1e-4"
            fields.notes.append(f"'{meaning.text}' does not change memory: ignored")
            continue
        # a number after the key, else one before it ("32k context") unless that is a model size
        number = _free_number(meanings, i + 1) or _free_number(meanings, i - 1, meaning.field)
        if number is None:
            raise MissingError(f"'{meaning.text}' needs a number, as in '{meaning.text} 8'", position=meaning.pos)
        number.used = True
        if meaning.field == "gpu_count":
            _not_a_gpu_name(number)
        if meaning.kind == "ignored":
            fields.notes.append(f"'{meaning.text} {number.text}' does not change memory: ignored")
            continue
        fields.put(meaning.field, scaled(meaning.field, *number.value, number.pos),
                   Meaning("set", number.pos, f"{meaning.text} {number.text}"))


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
                raise QueryError(f"'{meaning.text}' should be followed by a GPU, as in '{meaning.text} a100'",
                                 position=meaning.pos, expected=("a GPU name",))
            fields.put("gpu_count", meaning.value, meaning)
        elif meaning.kind == "postcount":
            if i == 0 or meanings[i - 1].kind != "gpu":
                raise QueryError(f"'{meaning.text}' should follow a GPU, as in 'a100 {meaning.text}'",
                                 position=meaning.pos)
            fields.put("gpu_count", meaning.value, meaning)
        elif meaning.kind == "number" and not meaning.used and not meaning.value[1] and _gpu_follows(meanings, i):
            _not_a_gpu_name(meaning)
            meaning.used = True  # "2 a100", "2 张 a100"
            fields.put("gpu_count", scaled("gpu_count", *meaning.value, meaning.pos), meaning)
        elif meaning.kind == "gpu":
            _count_after(meanings, i, fields)


def _not_a_gpu_name(number: Meaning) -> None:
    """A count is a count by its form ('2x', 'on 4 h100'), never a GPU's model number ('2080')."""
    named = gpus_named(number.text) if len(number.text) >= 4 and number.text.isdigit() else []
    if named:
        raise QueryError(f"'{number.text}' is a GPU's model number, not a count of GPUs; name the card "
                         f"({', '.join(sorted(g.id for g in named)[:3])}) and give a count by its form "
                         f"('2x {named[0].id}')", position=number.pos)


#: Words that may stand between a count and its GPU: Chinese measure words ("2 张 a100"), and the
#: 'x' of "2 x 3090" (the lexer leaves a spaced 'x' before a number as a word).
COUNT_GAP_WORDS = frozenset({"张", "块", "个", "x", "×", "*"})


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
            fields.put("params", scaled("params", mantissa, suffix, meaning.pos), meaning)
        elif suggest.where_a_gpu_goes(meanings, index):  # "on 3080": a number where a GPU goes
            raise suggest.unknown_gpu(meaning)
        elif suffix == "k":  # "llama-3-8b 8k": a context length, said so
            fields.put("seq_len", scaled("seq_len", mantissa, suffix, meaning.pos), meaning)
            fields.notes.append(f"'{meaning.text}' taken as the context length (say 'seq {meaning.text}')")
        else:
            raise QueryError(
                f"number '{meaning.text}' without a name; a model size takes a suffix (7b, 350m), other "
                f"numbers a name (seq {meaning.text}, batch {meaning.text}, on {meaning.text} a100)",
                position=meaning.pos,
            )


def _runtime(fields: _Fields) -> None:
    """'transformers' both serves (generate) and trains (Trainer): the task says which it is."""
    if "runtime" not in fields.values:
        return
    name = "framework" if fields.values["task"] in TRAINING_TASKS else "engine"
    fields.values[name] = fields.values.pop("runtime")
    fields.positions[name] = fields.positions.pop("runtime")


def _default_task(fields: _Fields) -> None:
    """No task said ("does llama-3-8b fit on a 4090?"): serving is what such questions mean."""
    if "task" in fields.values:
        return
    if "model" not in fields.values and "params" not in fields.values:
        raise MissingError("say what the job does and with which model",
                           expected=("'infer llama-3-8b'", "'train 7b bf16 adamw'", "'lora llama-2-13b'"))
    training = [f for f in TRAINING_ONLY_FIELDS if fields.values.get(f, Offload.NONE) != Offload.NONE]
    if training:  # "deepspeed zero 3 with cpu offload for 13b": only a training job has these
        first = min(training, key=fields.positions.__getitem__)
        fields.values["task"] = PHRASES["train"][1]
        fields.notes.append(f"no task named: taken as training, which '{fields.texts[first]}' is a setting of "
                            "(say infer, lora or qlora otherwise)")
        return
    fields.values["task"] = PHRASES["infer"][1]
    fields.notes.append("no task named: taken as inference (say train, lora or qlora otherwise)")

