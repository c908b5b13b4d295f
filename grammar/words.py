"""Pass 1: what each word (or phrase of several) of a query means.

Runs of words and numbers are read longest phrase first ("sgd with momentum", "a100 80gb",
"llama 2 7b"), against the core's vocabulary tables and catalogs; the rest of the classifier
pairs the meanings up (numbers with keys, counts with GPUs).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from vram import catalog
from vram.catalog.framework_files import looks_like_framework_config
from vram.catalog.resolve import could_be_model
from vram.errors import UnknownWordError
from vram.messages import Note
from vram.request.vocabulary import (
    BIND_KEYS, BOOLEANS, FILLERS, FLAG_KEYS, FLAG_OFF, FLAG_SWITCHES, FLAG_WORD_KEYS, GGUF_SHORT, GLUED_KEYS,
    GPU_NAME_PREFIXES, HELP_WORDS, IGNORED_KEYS, IGNORED_SWITCHES, KEYS, LAUNCH_WORDS, LET_GO_WORDS,
    MAGNITUDE_WORDS, MAX_PHRASE_WORDS, NAME_QUANT, NEGATION_AFTER, NEGATION_BEFORE, NOT_MODELLED_FLAGS,
    NUMBER_WORDS, OUTSIDE_MEMORY, PHRASES, QUESTION_WORDS, SAVE_KEYS, SCRIPT_SUFFIXES, SCRIPT_TASK_WORDS,
    SHORT_KEYS, TARGET_KEYS, TARGETS_ALONE, TORCHTUNE_CONFIG_TASKS, WORD_KEYS
)

from .numbers import SIZE_FIELDS, SIZE_READS, flag_size, number_for, split_number
from .overrides import cpu_moe_blocks
from .parser import Atom

_GLUED = re.compile(r"([a-z_]+?)[-_]?(\d+(?:\.\d+)?[kmbt]?)", re.IGNORECASE)
#: A GPU with its count after it: "a100x8", "3090x2".
_GPU_TIMES = re.compile(r"(.+?)[x×*](\d{1,7})", re.IGNORECASE)
#: A count after a GPU, on its own: "x8".
_POSTFIX_COUNT = re.compile(r"[x×*](\d{1,7})", re.IGNORECASE)
#: Options of the frontends (vram --json "..."), pasted inside the query by mistake.
FRONTEND_OPTIONS = frozenset({"json", "gib", "list", "no_formulas", "trace", "version"})
#: A memory size said after a GPU's name: "rtx 4090 24gb", "2080 11gb", "4090 48gb".
_SIZE_WORD = re.compile(r"(\d{1,4}(?:\.\d+)?)gb?", re.IGNORECASE)
#: The longest phrase any table holds, in words.
MAX_WORDS = max(MAX_PHRASE_WORDS, *(len(k.split()) for k in (*BIND_KEYS, *IGNORED_KEYS, *OUTSIDE_MEMORY,
                                                               *QUESTION_WORDS, *LAUNCH_WORDS, *LET_GO_WORDS, *HELP_WORDS)))


@dataclass
class Meaning:
    """What one atom (or a phrase of several) means."""

    kind: str  #: set, key, bind, targets, ignored, model, gpu, family, number, magnitude, count, postcount,
    #: filler, letgo (a question word,
    #: listed in the answer), outside (a question about speed, time or cost),
    #: help, negation (value: (negates the word after, negates the word before)), unknown
    pos: int
    text: str
    field: str | None = None
    value: Any = None
    used: bool = False  #: a number taken by a key or a GPU
    note: str | None = None  #: what the reading assumed, for the answer's assumptions


def meanings(atoms: list[Atom]) -> list[Meaning]:
    found: list[Meaning] = []
    trimmed = [_trimmed(atom) for atom in atoms]  # once an atom, not once each phrase it may start or end
    i = 0
    while i < len(atoms):
        atom = atoms[i]
        if atom.kind == "setting":
            found.append(setting(atom))
            i += 1
        elif atom.kind == "pin":
            found += pinned(atom)
            i += 1
        elif atom.kind == "flag":
            flag, width = read_flag(atoms, i)
            found += flag
            i += width
        elif atom.kind == "override":  # llama.cpp's -ot: the experts its patterns move (overrides.py)
            text = f"{atom.text} {atom.value}"
            blocks = cpu_moe_blocks(atom.text, atom.value, atom.value_pos)
            found.append(Meaning("set", atom.pos, text, "cpu_moe_layers", blocks,
                                 note=f"'{text}' read as --n-cpu-moe {blocks}: the MoE experts it moves to the CPU"))
            i += 1
        elif atom.kind == "count":
            found.append(Meaning("count", atom.pos, atom.text, value=int(re.match(r"\d+", atom.text)[0])))
            i += 1
        else:
            phrase, width = _phrase(trimmed, i, found[-1] if found else None)
            found += phrase
            i += width
            if (release := _release_after(phrase, atoms, i)) is not None:  # "torchtune 0.4"
                found.append(release)
                i += 1
    return found


#: The release field of each kind of runtime a package name can be ("vllm==0.10.1", "torchtune==0.4").
RELEASE_FIELDS = {"engine": "engine_version", "framework": "framework_version",
                  # 'transformers' serves and trains: classify._runtime names the field by the task
                  "runtime": "runtime_version"}
#: A release written after a framework's name: dotted numbers ("0.4", "2024.11.7"), so "unsloth 8"
#: stays a number the query places elsewhere.
DOTTED_RELEASE = re.compile(r"v?\d{1,4}(?:\.\d{1,4}){1,3}")


def pinned(atom: Atom) -> list[Meaning]:
    """'torchtitan==0.1.0': the runtime, and the release its answer follows."""
    meaning = PHRASES.get(atom.text.lower())
    if meaning is None or meaning[0] not in RELEASE_FIELDS:
        raise UnknownWordError(f"'{atom.text}=={atom.value}' pins a package's release, and '{atom.text}' is not an "
                               "engine or framework vram describes; a setting takes one '=', as in seq=4096",
                               position=atom.pos, expected=("torchtitan==0.1.0", "unsloth==2024.12.1", "vllm==0.10.1"))
    field, value = meaning
    return [Meaning("set", atom.pos, atom.text, field, value),
            Meaning("set", atom.value_pos, atom.value, RELEASE_FIELDS[field], atom.value)]


def _release_after(phrase: list[Meaning], atoms: list[Atom], i: int) -> Meaning | None:
    # frameworks only: after an engine a bare fraction is more likely its memory share ("vllm 0.9")
    runtime = phrase[-1] if phrase else None
    if runtime is None or runtime.field != "framework" or i >= len(atoms):
        return None
    after = atoms[i]
    if after.kind not in ("word", "number") or not DOTTED_RELEASE.fullmatch(after.text):
        return None
    return Meaning("set", after.pos, after.text, RELEASE_FIELDS[runtime.field], after.text.lower())


def _phrase(atoms: list[Atom], start: int, previous: Meaning | None) -> tuple[list[Meaning], int]:
    """The longest run of words from ``start`` that means something (``atoms`` trimmed: _trimmed)."""
    run = []
    for atom in atoms[start:start + MAX_WORDS]:
        if atom.kind not in ("word", "number"):
            break
        run.append(atom)
    after_key = previous is not None and previous.kind in ("key", "ignored")
    texts = [a.text for a in run]
    for width in range(len(run), 0, -1):
        meaning = _lookup(texts[:width], run[0], catalogs=not (after_key and run[0].kind == "number"))
        if meaning is not None:
            return [meaning, *_quantised_name(meaning)], width
    single = _single(run[0])
    if single[-1].kind == "unknown" and run[0].kind == "word":
        return _typo(run) or (single, 1)
    return single, 1


def _typo(run: list[Atom]) -> tuple[list[Meaning], int] | None:
    """'adamww', 'gradeint checkpointing', 'lama-3-8b': a word one or two edits from one known word
    (grammar/typos.py) read as it, and the answer says so; else None, and the word stays unknown."""
    typed = run[0].text
    from . import typos  # here, not at the top: only a word nothing else read needs it (cold start)

    found = typos.correction(typed)
    if found is None:
        return None
    kind, known = found
    words = [known, *(a.text for a in run[1:])]
    note = (Note("note.typo", typed=typed, known=known) if kind == "word" else
            Note("note.typo_catalog", typed=typed, known=known, kind=kind))
    for width in range(len(words), 0, -1):
        meaning = _lookup(words[:width], run[0], catalogs=True)
        if meaning is not None and meaning.kind not in ("filler", "letgo", "unknown"):
            meaning.text = " ".join([typed, *words[1:width]])
            meaning.note = f"{note}; {meaning.note}" if meaning.note else note
            return [meaning, *_quantised_name(meaning)], width
    return None


def _trimmed(atom: Atom) -> Atom:
    # sentence punctuation stuck to a word ("bf16.", "7b:"); paths and versions keep their dots
    if atom.kind == "word" and len(atom.text) > 1 and atom.text[-1] in ".:" and not could_be_model(atom.text):
        return Atom(atom.kind, atom.text.rstrip(".:"), atom.pos)
    return atom


def _lookup(words: list[str], first: Atom, catalogs: bool) -> Meaning | None:
    found = _classify(tuple(words), catalogs)
    if found is None:
        return None
    kind, field, value = found
    text = " ".join(words)
    meaning = Meaning(kind, first.pos, text, field, list(value or ()) if kind == "targets" else value)
    if kind == "gpu" and catalog.find_gpu("-".join(words)) is None and _named_otherwise(
            list(_size_last(tuple(words))), value):
        meaning.note = (f"'{text}' read as {value}" if _prefixed_gpu(tuple(words)) == value
                        else _sized_gpu_note(" ".join(_size_last(tuple(words))), value))
    if kind == "letgo":
        meaning.note = let_go(text)
    elif text.lower().endswith(SCRIPT_SUFFIXES):
        meaning.note = f"'{text}' read as {value.value} by its name (the script itself is not read)"
    if text.lower() in GGUF_SHORT:
        name, why = GGUF_SHORT[text.lower()]
        meaning.note = f"'{text}' read as GGUF {name.upper()} ({why})"
    return meaning


@functools.lru_cache(maxsize=8192)
def _classify(words: tuple[str, ...], catalogs: bool) -> tuple[str, str | None, Any] | None:
    """What a run of words means, as (kind, field, value); the same words always mean the same."""
    phrase = " ".join(words).lower()
    if phrase in OUTSIDE_MEMORY:
        return "outside", None, OUTSIDE_MEMORY[phrase]
    if phrase in HELP_WORDS:
        return "help", None, None
    if phrase in TARGET_KEYS:
        return "targets", "lora_targets", None
    if phrase in TARGETS_ALONE:  # "lora llama-3.1-8b all-linear": a target that can only be one
        return "targets", "lora_targets", (phrase,)
    if phrase in SAVE_KEYS:
        return "targets", "modules_to_save", None
    for table, kind in ((PHRASES, "set"), (KEYS, "key"), (BIND_KEYS, "bind")):
        if phrase in table:
            entry = table[phrase]
            field, value = entry if kind == "set" else (entry, None)
            return kind, field, value
    if phrase in IGNORED_KEYS:
        return "ignored", None, None
    if phrase in FILLERS:
        return "filler", None, None
    if phrase in QUESTION_WORDS or phrase in LAUNCH_WORDS or phrase in LET_GO_WORDS:
        return "letgo", None, None
    if len(words) == 1 and phrase.endswith(SCRIPT_SUFFIXES) and len(phrase) > 3:
        return _script(phrase)
    if phrase in NEGATION_BEFORE or phrase in NEGATION_AFTER:
        return "negation", None, (phrase in NEGATION_BEFORE, phrase in NEGATION_AFTER)
    if len(words) == 1 and (runtime := _launcher_path(phrase)) is not None:
        return runtime
    if not catalogs:
        return None
    name = "-".join(words)
    # a variant suffix is read off one word ("llama-3-8b-instruct"), never off a phrase: in
    # "chatglm-6b int8" the int8 is the dtype, not part of the name
    model = catalog.find_model(name, variants=len(words) == 1)
    if model is not None:
        return "model", "model", model.id
    gpu = catalog.find_gpu(name)
    if gpu is not None:
        return "gpu", "gpu", gpu.id
    if len(words) > 1 and (prefixed := _prefixed_gpu(words)) is not None:
        return "gpu", "gpu", prefixed
    if len(words) > 1 and (sized := _sized_gpu(_size_last(words))) is not None:
        return "gpu", "gpu", sized
    if len(words) == 1 and looks_like_framework_config(words[0]):
        return "set", "framework_config", words[0]  # read when the request is resolved
    if len(words) == 1 and could_be_model(words[0]):
        return "model", "model", words[0]  # a path or repo id: the Request reads it
    return None


#: A path to a program or a container image: "./llama-server", "build/bin/llama-cli",
#: "ghcr.io/huggingface/text-generation-inference:3.0", "vllm/vllm-openai:latest".
_LAUNCHER_PATH = re.compile(r"(?:\.{0,2}/|~/|[\w.-]+/)(?:[\w.-]+/)*([\w.-]+?)(?::[\w.-]+)?")


def _launcher_path(phrase: str) -> tuple[str, str | None, Any] | None:
    """A program or image whose last part names an engine or framework runs that runtime; any
    other path is left to the model and config readers."""
    match = _LAUNCHER_PATH.fullmatch(phrase)
    found = PHRASES.get(match[1]) if match else None
    return ("set", *found) if found is not None and found[0] in ("engine", "framework") else None


def _prefixed_gpu(words: tuple[str, ...]) -> str | None:
    """'gtx 1660': the maker's series prefix before a card the catalog names without it."""
    if _SIZE_WORD.fullmatch(words[-1]):  # "rtx 4090 48gb": a name and a size, read by _sized_gpu
        return None
    maker = GPU_NAME_PREFIXES.get(words[0].lower())
    gpu = catalog.find_gpu("-".join(words[1:])) if maker else None
    return gpu.id if gpu is not None and gpu.vendor == maker else None


def _size_last(words: tuple[str, ...]) -> tuple[str, ...]:
    """'24gb 4090', '48gb a6000', '16gb 4060 ti': the memory said before the name, as after it."""
    if _SIZE_WORD.fullmatch(words[0]) and not _SIZE_WORD.fullmatch(words[-1]):
        return (*words[1:], words[0])
    return words


def _script(name: str) -> tuple[str, str | None, Any]:
    """'train.py', 'pretrain_gpt.py', 'run_sft.sh': the script a pasted command runs says its task
    when a word of its name is a task word; vram does not read the script, and says so."""
    stem = re.split(r"[/.]", name)[-2]
    tasks = {PHRASES[w] for w in re.split(r"[_-]", stem) if w in SCRIPT_TASK_WORDS}
    return ("set", *tasks.pop()) if len(tasks) == 1 else ("letgo", None, None)


def _sized_gpu(words: tuple[str, ...]) -> str | None:
    """'rtx 4090 24gb', '2080 11gb', '4090 48gb': a GPU's name and then its memory. The card of
    that name with that memory (a 2080 with 11 GB is the 2080 Ti); none such is a modded card, read
    as a GPU of that size ('4090 48gb'); the number is never a count of GPUs."""
    size = _SIZE_WORD.fullmatch(words[-1])
    named = gpus_named(" ".join(words[:-1]))
    if size is None or not named:
        return None
    exact = catalog.find_gpu(" ".join(words[:-1]))
    same = [g for g in named if g.marketed_gb == float(size[1])]
    if exact is not None and exact in same:
        return exact.id
    if len(same) == 1:
        return same[0].id
    # several cards of that name and size ("v100 32g": the V100 32GB and the V100S): the one whose
    # own name is the name and the size ("V100 32GB")
    spelled = catalog.find_gpu(f"{' '.join(words[:-1])} {size[1]}gb")
    if spelled is not None and spelled in same:
        return spelled.id
    generic = catalog.find_gpu(words[-1])
    return None if generic is None else generic.id


def gpus_named(name: str) -> list[catalog.Gpu]:
    """The catalog's GPUs that ``name`` names or begins the name of ('2080' begins '2080 Ti')."""
    key = catalog.normalise(name)
    if not key or not any(c.isdigit() for c in key) or catalog.find_gpu(name) is None and len(key) < 4:
        return []
    index = catalog.gpus()
    found = {g.id: g for n, g in index.by_name.items() if n.startswith(key) or n.startswith("rtx" + key)}
    return list(found.values())


def _named_otherwise(words: list[str], gpu_id: str) -> bool:
    named = catalog.find_gpu(" ".join(words[:-1]))
    return named is None or named.id != gpu_id


def _sized_gpu_note(text: str, gpu_id: str) -> str:
    if gpu_id.startswith("gpu-"):
        name, size = text.rsplit(" ", 1)
        return Note("note.modded_gpu", text=text, name=name, size=size)
    return Note("note.sized_gpu", text=text, gpu=gpu_id)


def _quantised_name(model: Meaning) -> list[Meaning]:
    """'Qwen/Qwen2.5-32B-Instruct-AWQ', 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf': the catalog's
    model, and the format (or dtype) its name says it is stored in."""
    if model.kind != "model" or " " in model.text or model.value == model.text:
        return []
    lower = model.text.lower()
    for suffix, field, value in NAME_QUANT:
        # ':' too: llama-server -hf "bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M" names the type after the repo
        if re.search(rf"[-_.:]{re.escape(suffix)}(?:[-_.](?:instruct|chat|hf|it|gguf))*$", lower):
            note = Note("note.quantised_name", text=model.text, format=suffix.upper(), dtype=str(value),
                        model=model.value)
            return [Meaning("set", model.pos, model.text, field, value, note=note)]
    return []


def flag_spellings() -> set[str]:
    """The flags read_flag reads as a field: FLAG_KEYS' and every KEYS spelling as a flag ('max_model_len')."""
    return {*FLAG_KEYS, *(k.replace(" ", "_").replace("-", "_") for k in KEYS if k.isascii())}


def read_flag(atoms: list[Atom], i: int) -> tuple[list[Meaning], int]:
    """'--max-model-len 4096', '--dtype bfloat16', '--bf16', '--gradient_checkpointing False': a
    launch flag in an engine's or trainer's spelling, with its value when it takes one."""
    atom = atoms[i]
    key = atom.text.lstrip("-").lower().replace("-", "_")
    spaced = key.replace("_", " ")
    value = atoms[i + 1] if i + 1 < len(atoms) and atoms[i + 1].kind in ("word", "number") else None
    if key in NOT_MODELLED_FLAGS:
        raise UnknownWordError(f"'{atom.text}' is not modelled: {NOT_MODELLED_FLAGS[key]}; drop it to get the "
                               "answer without it", position=atom.pos)
    field = FLAG_KEYS.get(key) or KEYS.get(key) or KEYS.get(spaced)
    if field in SIZE_FIELDS and value is not None and (size := flag_size(field, value.text, value.pos)) is not None:
        text = f"{atom.text} {value.text}"
        return [Meaning("set", atom.pos, text, field, size, note=f"'{text}' read as {size:,} {SIZE_READS[field]}")], 2
    if field is not None:
        return [Meaning("key", atom.pos, atom.text, field)], 1
    if key == "m" and value is not None and PHRASES.get(value.text.lower(), ("",))[0] in ("engine", "framework"):
        # 'python -m sglang.launch_server': the module that runs, not llama.cpp's -m model file
        return [Meaning("letgo", atom.pos, atom.text, note=let_go(atom.text)),
                Meaning("set", value.pos, value.text, *PHRASES[value.text.lower()])], 2
    if key == "config" and value is not None:
        if tune := _torchtune_config(value):
            return tune, 2
        raise UnknownWordError(f"'--config {value.text}' is not a config vram reads", position=value.pos,
                               expected=("a torchtune config such as llama3_1/8B_lora_single_device",
                                         "the config's .yaml file", "the model and task in words (lora llama-3.1-8b)"))
    if (field := FLAG_WORD_KEYS.get(key) or WORD_KEYS.get(key)) is not None and value is not None:
        meaning = Meaning("set", atom.pos, f"{atom.text} {value.text}", *_flag_word(field, value.text))
        # '-m Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf': the model, and the format its file name says
        named = _quantised_name(Meaning("model", value.pos, value.text, "model", meaning.value)) \
            if meaning.field == "model" else []
        return [meaning, *named], 2
    if key in IGNORED_SWITCHES:
        return [Meaning("letgo", atom.pos, atom.text, note=let_go(atom.text))], 1
    if key in IGNORED_KEYS or spaced in IGNORED_KEYS:
        text = f"{atom.text} {value.text}" if value is not None else atom.text
        return [Meaning("ignored", atom.pos, text, value=text)], 1 + (value is not None)
    if key in HELP_WORDS:
        return [Meaning("help", atom.pos, atom.text)], 1
    phrase = FLAG_SWITCHES.get(key) or PHRASES.get(key) or PHRASES.get(spaced)
    if phrase is None and key in FRONTEND_OPTIONS:
        raise UnknownWordError(f"'{atom.text}' is an option of the command, not a word of the query; options "
                               f"such as --json go outside the quoted query", position=atom.pos)
    if phrase is None:
        close = catalog.closest(key, sorted({*flag_spellings(), *FLAG_WORD_KEYS, *IGNORED_SWITCHES}))
        raise UnknownWordError(f"unknown flag '{atom.text}'", position=atom.pos,
                               suggestion=f"--{close.replace('_', '-')}" if close else None,
                               expected=("a setting vram models, as in --max-model-len 8192 or "
                                         "--tensor-parallel-size 2",))
    switch = BOOLEANS.get(value.text.lower()) if value is not None else None
    if switch is False:
        if phrase[0] not in FLAG_OFF and not isinstance(phrase[1], bool):
            return [Meaning("letgo", atom.pos, f"{atom.text} {value.text}",
                            note=let_go(f"{atom.text} {value.text}"))], 2
        field, off = FLAG_OFF.get(phrase[0], (phrase[0], not phrase[1]))
        return [Meaning("set", atom.pos, f"{atom.text} {value.text}", field, off)], 2
    return [Meaning("set", atom.pos, atom.text, *phrase)], 1 + (switch is not None)


#: A torchtune built-in config name: "llama3_1/8B_lora_single_device", "qwen2_5/7B_full".
_TUNE_CONFIG = re.compile(r"([a-z]+\d*(?:_\d+)?)/(\d+(?:\.\d+)?[bm])_(\w+)", re.IGNORECASE)


def _torchtune_config(value: Atom) -> list[Meaning]:
    """'--config llama3_1/8B_lora_single_device' (torchtune): the model and the task its name says;
    a file ('--config my.yaml') is read whole instead, and any other name is left to the caller."""
    if looks_like_framework_config(value.text):
        return [Meaning("set", value.pos, value.text, "framework_config", value.text)]
    match = _TUNE_CONFIG.fullmatch(value.text)
    if match is None:
        return []
    family = re.sub(r"(\d)_(\d)", r"\1.\2", match[1].lower())  # "llama3_1" is llama3.1
    model = catalog.find_model(f"{family}-{match[2].lower()}")
    if model is None:
        return []
    found = [Meaning("model", value.pos, value.text, "model", model.id,
                     note=f"torchtune config '{value.text}' read as {model.id}")]
    words = match[3].lower().split("_")
    task = next((task for word, task in TORCHTUNE_CONFIG_TASKS if word in words), None)
    if task is not None:
        found.append(Meaning("set", value.pos, value.text, "task", task))
    return found


def let_go(text: str) -> str:
    """The assumption that lists a word let go: the words of a query are never dropped unsaid."""
    return Note("note.let_go", text=text)


def _flag_word(field: str, word: str) -> tuple[str, Any]:
    """A flag's word value, and the field it sets: '--optim adamw_torch_fused' says a fused optimizer."""
    phrase = PHRASES.get(word.lower())
    if phrase is not None and phrase[0] != field and field not in (*KV_FIELDS, "model", "gpu"):
        return phrase
    return field, _word_value(field, word)


def _single(atom: Atom) -> list[Meaning]:
    """A word no phrase or catalog entry matched: a number, a glued key, a family, or unknown."""
    text, lower = atom.text, atom.text.lower()
    if atom.kind == "number":
        return [Meaning("number", atom.pos, text, value=split_number(text))]
    if lower in NUMBER_WORDS:
        return [Meaning("number", atom.pos, text, value=(Decimal(NUMBER_WORDS[lower]), ""))]
    if lower in MAGNITUDE_WORDS:
        return [Meaning("magnitude", atom.pos, text, value=MAGNITUDE_WORDS[lower])]
    if (count := _POSTFIX_COUNT.fullmatch(text)) is not None:
        return [Meaning("postcount", atom.pos, text, value=int(count[1]))]
    if (times := _GPU_TIMES.fullmatch(text)) is not None and (gpu := catalog.find_gpu(times[1])) is not None:
        return [Meaning("gpu", atom.pos, times[1], "gpu", gpu.id),
                Meaning("postcount", atom.pos + len(times[1]), text[len(times[1]):], value=int(times[2]))]
    if lower in catalog.model_families():
        return [Meaning("family", atom.pos, text, value=lower)]
    return [_glued_key(atom) or Meaning("unknown", atom.pos, text)]


def _glued_key(atom: Atom) -> Meaning | None:
    """'tp2', 'zero3', 'bs8', 'r16': a key and its number written as one word."""
    match = _GLUED.fullmatch(atom.text)
    if match is None or match[1].lower() not in GLUED_KEYS:
        return None
    field = GLUED_KEYS[match[1].lower()]
    return Meaning("set", atom.pos, atom.text, field, number_for(field, match[2], atom.pos))


def setting(atom: Atom) -> Meaning:
    """``key=value``: the key names the field, the value is read as that field's."""
    key = atom.text.lower().replace("-", "_")
    field = (KEYS.get(key) or KEYS.get(key.replace("_", " ")) or SHORT_KEYS.get(key) or WORD_KEYS.get(key)
             or BIND_KEYS.get(key) or FLAG_KEYS.get(key))
    if field is None and key in FLAG_SWITCHES and atom.value.lower() in BOOLEANS:  # "OLLAMA_FLASH_ATTENTION=1"
        name, on = FLAG_SWITCHES[key]
        if not BOOLEANS[atom.value.lower()]:
            name, on = FLAG_OFF.get(name, (name, not on))
        return Meaning("set", atom.pos, f"{atom.text}={atom.value}", name, on)
    if field is None and key in FLAG_WORD_KEYS:  # "--dtype=bfloat16"
        field, value = _flag_word(FLAG_WORD_KEYS[key], atom.value)
        return Meaning("set", atom.pos, f"{atom.text}={atom.value}", field, value)
    text = f"{atom.text}={atom.value}"
    if key in TARGET_KEYS or key.replace("_", " ") in TARGET_KEYS:
        return Meaning("targets", atom.pos, text, "lora_targets", [atom.value])
    if key in SAVE_KEYS or key.replace("_", " ") in SAVE_KEYS:
        return Meaning("targets", atom.pos, text, "modules_to_save", [atom.value])
    if field is None and (key in IGNORED_KEYS or key.replace("_", " ") in IGNORED_KEYS):
        return Meaning("ignored", atom.pos, text, value=atom.value)
    if field is None:
        close = catalog.closest(key, sorted({*KEYS, *SHORT_KEYS, *WORD_KEYS}))
        raise UnknownWordError(f"unknown setting '{atom.text}'", position=atom.pos,
                               suggestion=f"{close}=" if close else None)
    if key in WORD_KEYS or key in BIND_KEYS:
        return Meaning("set", atom.pos, text, field, _word_value(field, atom.value))
    return Meaning("set", atom.pos, text, field, number_for(field, atom.value, atom.value_pos))


#: Fields whose value is a KV cache type, written with the dtype words ("f16", "q8_0").
KV_FIELDS = ("kv_dtype", "cache_type_k", "cache_type_v")


def _word_value(field: str, word: str) -> Any:
    if field in ("model", "teacher"):
        found = catalog.find_model(word)
        return found.id if found is not None else word  # else the resolver says what is close
    if field == "gpu":
        gpu = catalog.find_gpu(word)
        return gpu.id if gpu is not None else word
    if word.lower() in BOOLEANS and field in ("sp", "flash_attention", "mixed_precision", "dropout", "reference",
                                                 "dora"):
        return BOOLEANS[word.lower()]
    meaning = PHRASES.get(word.lower())
    if meaning is not None and meaning[0] in (field, "dtype" if field in KV_FIELDS else field):
        return meaning[1]
    return word  # the Request names the allowed values when this one is not among them
