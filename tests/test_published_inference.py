"""Published inference peaks of model makers asked as queries (validation/published_inference_queries.toml):
each case is where its table says, within 10 % or outside with the reason, and docs/accuracy.md shows them."""

from __future__ import annotations

import tomllib

import pytest

from vram.validation import published_inference

CASES = published_inference.cases()
PEAKS = tomllib.loads(published_inference.PEAKS.read_text(encoding="utf-8"))["peak"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_where_its_table_says(case):
    assert case.expect in ("within", "outside")
    assert case.within is (case.expect == "within"), f"{case.id}: {case.error:+.1%}; update the table"
    assert case.expect == "within" or case.why  # a miss says why


@pytest.mark.parametrize("row", PEAKS, ids=[row["id"] for row in PEAKS])
def test_each_row_quotes_its_figure(row):
    (key, figure), = ((k, v) for k, v in row["peak"].items() if k != "statistic")
    assert f"{figure:.2f}" in row["quote"] or f"{figure:g}" in row["quote"], row["id"]
    assert row["source"].startswith("https://github.com/") and "/blob/" in row["source"]


def test_the_page_shows_every_case():
    page = published_inference.PAGE.read_text(encoding="utf-8")
    shown = page.split(published_inference.HEADING, 1)[1]
    shown = shown[:shown.find("\n## ")] if "\n## " in shown else shown
    assert shown.strip() == "\n".join(published_inference.section_lines(CASES)[1:]).strip()
