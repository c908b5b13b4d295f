"""Published training peaks asked as queries (validation/published_queries.toml): each case is
where its table says, within 10 % or outside with the reason, and docs/accuracy.md shows them."""

from __future__ import annotations

import pytest

import vram
from vram.validation import published

CASES = published.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_is_where_its_table_says(case):
    assert case.expect in ("within", "outside")
    assert case.within is (case.expect == "within"), f"{case.id}: {case.error:+.1%}; update the table"
    assert case.expect == "within" or case.why  # a miss says why


def test_every_case_asks_its_own_framework():
    # transformers is the default: its cases name no framework (axolotl and LLaMA-Factory would)
    for case in CASES:
        asked = vram.parse(case.query).framework
        assert (asked or "transformers") == case.framework, case.id


def test_the_page_shows_every_case():
    page = published.PAGE.read_text(encoding="utf-8")
    assert page.split(published.HEADING, 1)[1].strip() == "\n".join(published.section_lines(CASES)[1:]).strip()
