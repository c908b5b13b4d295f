"""Every docstring example in the package runs, and says what it shows (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import vram

# the subpackages live in their own folders (design.md 2), so each is walked from its own path
PACKAGES = ("vram", "vram.grammar", "vram.slackbot", "vram.ipymagic", "vram.validation")
MODULES = sorted({name for package in PACKAGES
                  for name in (package, *(info.name for info in pkgutil.walk_packages(
                      importlib.import_module(package).__path__, package + ".")))
                  if not name.endswith("__main__")})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_found():
    # the facade, the request and the sweep show their use in examples; losing them is a regression
    counts = {name: doctest.testmod(importlib.import_module(name)).attempted
              for name in ("vram", "vram.request.request", "vram.answer.sweep", "vram.answer.pipeline")}
    assert all(counts.values()), counts
