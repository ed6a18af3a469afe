"""The newcomer docs stay true: every variable .env.example names is a real setting, the
example loads, and every local link in README and docs/ points at a file that exists."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import parser
from bot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_names_real_settings_and_loads() -> None:
    text = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.M))
    aliases = {f.alias for f in Settings.model_fields.values()}
    assert names and names <= aliases, sorted(names - aliases)
    settings = load_settings(env_file=str(ROOT / ".env.example"))
    assert settings.database_url == "sqlite:///flowpilot.db" and not settings.ai_enabled


def test_local_links_resolve() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"


def test_commands_the_readme_shows_exist() -> None:
    readme = (ROOT / "README.md").read_text() + (ROOT / "docs" / "deploy.md").read_text()
    used = set(re.findall(r"flowpilot (db upgrade|doctor|run|serve|try|scheduler|workspace purge)",
                          readme))
    assert {"db upgrade", "doctor", "run", "serve", "try", "workspace purge"} <= used
    for words in used:
        args = words.split() + (["T0123ABCD"] if words == "workspace purge" else [])
        assert parser().parse_args(args).fn is not None
