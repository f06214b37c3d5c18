"""The import-linter contracts in pyproject.toml name every module of the core.

A module that no contract names would escape the dependency rules, so a new core module must be
classified there: a contract module (what adapters may import) or an internal one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _core_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "bridge").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules.append(".".join(parts))
    return modules


def _covered(module: str, names: list[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def _classified() -> tuple[list[str], list[str]]:
    """The core's contract modules, and the internal modules adapters may not import."""
    contracts = _contracts()
    contract_modules = contracts[
        "the core's contract modules import only the standard library and each other"
    ]["source_modules"]
    internal = contracts["adapters know only the core's contract modules"]["forbidden_modules"]
    assert isinstance(contract_modules, list) and isinstance(internal, list)
    return contract_modules, internal


def test_every_core_module_is_a_contract_module_or_forbidden_to_adapters() -> None:
    contract_modules, internal = _classified()
    unnamed = [
        module
        for module in _core_modules()
        if module != "bridge"
        and not _covered(module, contract_modules)
        and not _covered(module, internal)
    ]
    assert unnamed == [], f"classify these in pyproject's import-linter contracts: {unnamed}"


def test_no_contract_module_is_also_internal() -> None:
    contract_modules, internal = _classified()
    assert [m for m in contract_modules if _covered(m, internal)] == []
