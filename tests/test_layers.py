"""The import graph agrees with the package tree: only engine/ knows doit, and no stage imports a later one.

Read from the source with `ast` (nothing is imported), so a violation names the file and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "claudebuild"
BASE = ("errors", "model", "hashing", "text_lines", "atomic_write", "untrusted_text", "output_guard", "contained")
"""Modules every layer uses; they import no layer."""
LAYERS = ("repo", "secrets", "pipeline", "claude", "run", "engine", "render", "publish", "commands", "fakeapi")

FORBIDDEN: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(BASE, LAYERS),
    "repo": ("pipeline", "claude", "run", "engine", "render", "publish", "commands", "fakeapi"),
    "secrets": ("repo", "pipeline", "claude", "run", "engine", "render", "publish", "commands", "fakeapi"),
    "pipeline": ("claude", "run", "engine", "render", "publish", "commands", "fakeapi"),
    "claude": ("repo", "secrets", "pipeline", "run", "engine", "render", "publish", "commands", "fakeapi"),
    "run": ("publish", "commands", "fakeapi"),
    "engine": ("commands", "fakeapi"),
    "render": ("claude", "run", "engine", "publish", "commands", "fakeapi"),
    "publish": ("commands", "fakeapi"),
    "commands": (),
    "fakeapi": ("repo", "secrets", "pipeline", "claude", "run", "engine", "render", "publish", "commands", *BASE),
}
"""Per layer (a subpackage or a base module), the layers it must not import: the later stages."""


def source_files() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "sample_repo" not in path.parts)


def layer_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports (absolute names; relative imports resolved), with its line."""
    found: list[tuple[int, str]] = []
    package = ".".join(("claudebuild", *path.relative_to(PACKAGE).parts[:-1]))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.append((node.lineno, f"{base}.{node.module}" if node.module else base))
            elif node.module:
                found.append((node.lineno, node.module))
    return found


def claudebuild_layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "claudebuild" and len(parts) > 1 else None


def test_the_scan_sees_the_whole_package() -> None:
    layers = {layer_of(path) for path in source_files()}
    assert set(LAYERS) <= layers
    assert set(BASE) <= layers


def test_only_the_engine_imports_doit() -> None:
    offenders = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
                 for path in source_files() if layer_of(path) != "engine"
                 for line, module in imported_modules(path) if module == "doit" or module.startswith("doit.")]
    assert offenders == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_layer_imports_a_later_stage(layer: str) -> None:
    offenders = [f"{path.relative_to(PACKAGE)}:{line} imports {module}"
                 for path in source_files() if layer_of(path) == layer
                 for line, module in imported_modules(path) if claudebuild_layer(module) in FORBIDDEN[layer]]
    assert offenders == []
