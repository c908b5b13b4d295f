"""The LoRA module catalog (catalog/data/lora_modules.toml): each family's names for its linear
layers and the block matrices each one holds, loaded once into frozen records."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from vram.catalog.index import load_toml
from vram.request.lora import BLOCK_MATRICES, TARGET_NAMES


@dataclass(frozen=True)
class FamilyModules:
    """A family's linear layers as PEFT's target_modules names them."""

    family: str
    #: name -> the linear layers it matches, each the block matrices it fuses
    modules: dict[str, tuple[tuple[str, ...], ...]]
    peft_default: tuple[str, ...]  #: PEFT's target_modules for the family when none are given
    experts: frozenset[str]  #: names that stand for one linear layer an expert
    source: str


@functools.cache
def family_modules() -> dict[str, FamilyModules]:
    """Every family with names of its own, by family."""
    found = {}
    for family, row in load_toml("lora_modules.toml")["family"].items():
        modules = {name: tuple(tuple(layer.split()) for layer in layers) for name, layers in row["modules"].items()}
        entry = FamilyModules(family, modules, tuple(row["peft_default"]), frozenset(row.get("experts", ())),
                              row["source"])
        for name, layers in modules.items():
            unknown = {m for layer in layers for m in layer} - set(BLOCK_MATRICES)
            if name not in TARGET_NAMES or unknown:
                raise ValueError(f"lora_modules.toml: {family}.{name}: a name the request cannot hold, or "
                                 f"matrices {sorted(unknown)} no block has")
        if not set(entry.peft_default) <= set(modules) or not entry.experts <= set(modules):
            raise ValueError(f"lora_modules.toml: {family}: peft_default and experts must be among its modules")
        found[family] = entry
    return found


def modules_of(family: str) -> FamilyModules | None:
    """The family's own names, or None where it names its layers as Llama does."""
    return family_modules().get(family)
