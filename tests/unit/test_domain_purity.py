"""The domain is pure: stdlib only, and it never reads the wall clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import bot.domain

DOMAIN = Path(bot.domain.__file__).parent
FILES = sorted(DOMAIN.rglob("*.py"))
# datetime.now(), date.today(), time.time() and friends; `local.time()` is fine.
CLOCK_METHODS = {"now", "utcnow", "today", "fromtimestamp"}
TIME_FUNCTIONS = {"time", "time_ns", "monotonic", "perf_counter", "localtime", "gmtime"}


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def _allowed(module: str, level: int) -> bool:
    if level > 0:
        return True
    if module == "bot.domain" or module.startswith("bot.domain."):
        return True
    return module.split(".")[0] in sys.stdlib_module_names


def test_there_are_domain_files() -> None:
    assert len(FILES) >= 9


def test_domain_imports_only_the_standard_library() -> None:
    bad = [
        f"{path.name}: {module or '.'}"
        for path in FILES
        for module, level in _imports(ast.parse(path.read_text(), str(path)))
        if not _allowed(module, level)
    ]
    assert bad == []


def test_domain_never_imports_clock_functions_directly() -> None:
    bad = [
        f"{path.name}: from {node.module} import {alias.name}"
        for path in FILES
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and node.module == "time"
        for alias in node.names
    ]
    assert bad == []


def test_domain_never_reads_the_clock() -> None:
    bad = [
        f"{path.name}:{node.lineno}"
        for path in FILES
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and (
            node.func.attr in CLOCK_METHODS
            or (
                node.func.attr in TIME_FUNCTIONS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "time"
            )
        )
    ]
    assert bad == []
