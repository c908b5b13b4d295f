"""How people phrase queries (tests/data/reading.jsonl): each reads to its fields or gets its refusal.

Each row is a query and either ``want`` (the fields it must read to) with, when the reading let a
word go or took a likelier reading, the ``note`` the answer's assumptions must carry; or ``error``
(the VramError class) and ``says`` (words its message must hold). ``who`` says which kind of user
phrased it (issue 15: serving, finetune, pretrain, student in English; zh in Chinese or mixed).
"""

from __future__ import annotations

import json

import pytest
from conftest import read_jsonl

import vram
from vram import errors, messages
from vram.grammar.help import EXAMPLES as HELP_EXAMPLES
from vram.grammar.parser import atoms
from vram.grammar.words import flag_spellings, read_flag
from vram.request.vocabulary import FLAG_KEYS, KEYS, QUESTION_WORDS

ROWS = read_jsonl("reading.jsonl")
READS = [row for row in ROWS if "want" in row]
REFUSED = [row for row in ROWS if "error" in row]


@pytest.mark.parametrize("row", READS, ids=[row["q"] for row in READS])
def test_phrasing_reads_to_its_fields(row):
    request = vram.parse(row["q"])
    got = json.loads(json.dumps(request.to_dict()))  # the JSON form: lists, as the table writes them
    assert {key: got[key] for key in row["want"]} == row["want"]
    if "note" in row:
        assert any(row["note"] in note for note in request.notes), request.notes


@pytest.mark.parametrize("row", READS, ids=[row["q"] for row in READS])
def test_phrasing_gets_an_answer_listing_what_it_let_go(row):
    estimate = vram.ask(row["q"])
    assert estimate.total_bytes > 0
    assert set(vram.parse(row["q"]).notes) <= set(estimate.assumptions)
    said = row["q"].lower().replace(",", " ").replace("?", " ").split()
    ignored = messages.text("note.let_go", messages.language_of(row["q"]), text="").split("''", 1)[1]
    let_go = [a for a in estimate.assumptions if a.endswith(ignored)]
    for word in set(said) & QUESTION_WORDS:
        assert any(f"'{word}" in a or f" {word}" in a for a in let_go), (word, let_go)


@pytest.mark.parametrize("row", READS, ids=[row["q"] for row in READS])
def test_phrasing_prints_back_to_the_same_request(row):
    request = vram.parse(row["q"])
    assert vram.parse(request.to_query()) == request


@pytest.mark.parametrize("row", REFUSED, ids=[row["q"] for row in REFUSED])
def test_refusal_says_what_would_work(row):
    with pytest.raises(getattr(errors, row["error"])) as info:
        vram.ask(row["q"])
    assert row["says"] in info.value.message


#: The phrasings the table must hold per kind of user (issue 15: 300+ by five kinds, 100+ Chinese).
LEAST_ROWS_BY_WHO = {"serving": 60, "finetune": 60, "pretrain": 60, "student": 60, "zh": 100}


@pytest.mark.parametrize("who, least", LEAST_ROWS_BY_WHO.items())
def test_the_table_holds_each_kind_of_user(who, least):
    assert sum(row.get("who") == who for row in ROWS) >= least


def test_every_row_says_who_phrased_it():
    assert {row.get("who") for row in ROWS} <= {*LEAST_ROWS_BY_WHO, None}
    cjk = [row["q"] for row in ROWS if messages.CJK.search(row["q"])]
    assert all(row.get("who") == "zh" for row in ROWS if row["q"] in cjk)


@pytest.mark.parametrize("what, query", HELP_EXAMPLES)
def test_every_help_example_reads(what, query):
    assert vram.parse(query).to_dict()["task"] is not None


def test_flag_keys_hold_only_flags_keys_does_not_spell():
    # read_flag reads any KEYS spelling as a flag; a copy in FLAG_KEYS would be a second place to drift
    assert not {flag for flag in FLAG_KEYS if KEYS.get(flag) or KEYS.get(flag.replace("_", " "))}


@pytest.mark.parametrize("flag", sorted(flag_spellings()))
def test_every_flag_an_unknown_flag_may_be_told_reads_as_a_setting(flag):
    meanings, _ = read_flag(atoms(f"--{flag.replace('_', '-')} 4"), 0)
    assert meanings[0].kind == "key"
