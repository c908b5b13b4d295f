"""The package's layers and the absence of import cycles, as import-linter checks them.

The contracts live in pyproject.toml ([tool.importlinter]). import-linter reads a package from
its folders, and vram's subpackages live in folders of their own (design.md 2), so the check runs
on a copy laid out as installed: vram/ from core/, vram/grammar/ from grammar/, and so on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("grammar", "slackbot", "ipymagic", "validation")


def test_import_contracts_hold(tmp_path):
    installed = tmp_path / "vram"
    ignore = shutil.ignore_patterns("__pycache__", "*.toml", "*.json", "*.lark", "*.yml")
    shutil.copytree(ROOT / "core", installed, ignore=ignore)
    for name in SUBPACKAGES:
        shutil.copytree(ROOT / name, installed / name, ignore=ignore)
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
