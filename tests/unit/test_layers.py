"""The house's arrows point one way (STYLE.md): handlers → bot → storage.

Walks every module's imports (module level and inside functions) and fails on a backward
arrow, naming the file, the line and the rule it breaks. Entry points that wire everything
together (the composition root, the CLI, the local sandbox, the servers) may import any
layer. Beside it, tests/unit/test_domain_purity.py keeps bot/domain stdlib-only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage")
# Entry points: they build or run the app, so they see every layer.
ENTRY_POINTS = (
    "bot.bootstrap", "bot.cli", "bot.cli_errors", "bot.cli_flows", "bot.cli_jobs",
    "bot.cli_psa", "bot.cli_workspace", "bot.sandbox", "bot.server", "bot.socket_mode",
    "bot.doctor", "bot.preflight",
)

# (who, may not import, why)
RULES: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (("storage",), ("bot", "handlers"), "storage imports nothing of ours above it"),
    (("handlers",), ("storage",), "handlers reach storage only through bot/services"),
    (("bot",), ("handlers",), "bot never imports handlers (handlers → bot)"),
    (("bot.render",), ("bot.services", "bot.jobs", "bot.engines", "storage", "handlers"),
     "render is pure: view-model in, blocks out"),
    (("bot.engines",), ("bot.services", "bot.jobs", "storage", "handlers"),
     "engines don't reach into use cases or storage"),
    (("bot.flows",), ("bot.engines", "bot.services", "bot.jobs", "storage", "handlers"),
     "flows are data: model, loader, check, match"),
    (("bot.domain",), ("bot.services", "bot.engines", "bot.render", "bot.jobs", "storage",
                       "handlers"),
     "the domain is pure"),
]

# Backward arrows that exist today and are not fixed yet: (file, imported module) -> why.
# This list may only shrink: an entry that no longer matches anything fails the test too.
ALLOWED: dict[tuple[str, str], str] = {
}


def _module_name(name: str) -> str:
    parts = list(Path(name).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(name: str, source: str) -> list[tuple[str, int]]:
    """Every module ``source`` imports, relative imports resolved, with its line."""
    tree = ast.parse(source, name)
    module_name = _module_name(name)
    package = module_name if name.endswith("__init__.py") else module_name.rsplit(".", 1)[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
                if not node.module:  # `from . import x` imports the submodule x
                    found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
                    continue
            found.append((module, node.lineno))
    return found


def _within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations_in(name: str, source: str) -> list[tuple[str, str, int, str]]:
    """The backward arrows in one file: (file, imported module, line, rule broken)."""
    module_name = _module_name(name)
    if _within(module_name, *ENTRY_POINTS):
        return []
    bad = []
    for module, line in _imports(name, source):
        for who, banned, why in RULES:
            if _within(module_name, *who) and _within(module, *banned):
                bad.append((name, module, line, why))
    return bad


def _files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "migrations" not in p.parts)


def _all_violations() -> list[tuple[str, str, int, str]]:
    found = []
    for path in _files():
        name = path.relative_to(ROOT).as_posix()
        found += violations_in(name, path.read_text())
    return found


def test_every_package_is_walked() -> None:
    assert len(_files()) > 100


def test_no_backward_arrow() -> None:
    new = [f"{f}:{line} imports {m}: {why}" for f, m, line, why in _all_violations()
           if (f, m) not in ALLOWED]
    assert new == []


def test_the_allow_list_only_shrinks() -> None:
    """An allowed arrow that was fixed must leave the list, so it cannot come back quietly."""
    present = {(f, m) for f, m, _, _ in _all_violations()}
    assert [key for key in ALLOWED if key not in present] == []


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("storage/x.py", "from bot.config import Settings\n", "storage imports nothing"),
        ("bot/render/x.py", "from storage.models import AISession\n", "render is pure"),
        ("bot/render/x.py", "from ..services import turns\n", "render is pure"),
        ("bot/engines/x.py", "def f():\n    from bot.services import turns\n", "engines"),
        ("bot/jobs/x.py", "from handlers import common\n", "bot never imports handlers"),
        ("bot/flows/x.py", "import bot.engines.offline\n", "flows are data"),
        ("handlers/x.py", "from storage.db import unit_of_work\n", "handlers reach storage"),
        ("bot/domain/x.py", "from bot.render import blocks\n", "the domain is pure"),
    ],
)
def test_the_check_can_fail(name: str, source: str, expected: str) -> None:
    """A new backward arrow is caught: the same rule function applied to a planted file."""
    found = violations_in(name, source)
    assert found and expected in found[0][3]


def test_entry_points_may_import_anything() -> None:
    assert violations_in("bot/bootstrap.py", "from handlers import register\n") == []
    assert violations_in("bot/cli_jobs.py", "from storage.db import unit_of_work\n") == []
