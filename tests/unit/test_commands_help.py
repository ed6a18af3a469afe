"""``/flowpilot help`` is generated from the registered subcommands, grouped: a subcommand
missing from help fails here; a single unknown word is asked about, never run."""

from __future__ import annotations

from typing import Any

import handlers.register  # noqa: F401  (imports every module that registers a subcommand)
from bot.render.check import violations
from bot.render.commands import render_start_prompt
from bot.render.history import render_history_modal
from bot.render.views import HistoryView
from handlers import commands


def test_every_subcommand_is_in_help_under_a_known_group() -> None:
    text = commands.help_text()
    assert commands.SPECS.keys() == commands.SUBCOMMANDS.keys()
    for name, spec in commands.SPECS.items():
        assert f"`/flowpilot {spec.usage}`" in text, name
        assert spec.usage.split()[0] == name
        assert spec.group in commands.GROUPS, f"{name}: group {spec.group!r} has no heading"
        assert spec.summary, f"{name} has no line in help"


def test_a_new_subcommand_shows_up_without_touching_help() -> None:
    @commands.subcommand("zzprobe", group="admin", usage="zzprobe <x>", summary="a probe")
    def _probe(svc: Any, body: dict[str, Any], rest: str, respond: Any) -> None:
        return None

    try:
        assert "`/flowpilot zzprobe <x>` — a probe" in commands.help_text()
        assert commands.classify("zzprobe") == "sub"
    finally:
        del commands.SUBCOMMANDS["zzprobe"], commands.SPECS["zzprobe"]
    assert "zzprobe" not in commands.help_text()


def test_classify_and_suggest() -> None:
    assert commands.classify("") == "form" and commands.classify("   ") == "form"
    assert commands.classify("HELP") == "sub" and commands.classify("park fp-123") == "sub"
    assert commands.classify("staus") == "ask" and commands.classify("printer") == "ask"
    assert commands.classify("printer is offline") == "open"
    assert commands.classify("park\nfp-123") == "sub" and commands.classify("pakr\tnow") == "open"
    assert commands.classify("x" * (commands.ASK_MAX + 1)) == "open"
    assert commands.suggestion("pakr") == "park" and commands.suggestion("lsit") == "list"
    assert commands.suggestion("printer") is None and commands.suggestion("x" * 500) is None
    assert commands.opens_session({"text": "outlook broken"})
    assert not commands.opens_session({"text": "outlook"})


def test_start_prompt_is_safe_and_fits() -> None:
    word = "<!channel>" + "a" * 1800
    msg = render_start_prompt(word, "n" * 32, "park")
    assert violations(msg.blocks, msg.text) == []
    start = msg.blocks[1]["elements"][0]
    assert start["value"] == f"{'n' * 32}|{word}"  # the whole word, for the session
    assert "<!channel>" not in msg.blocks[0]["text"]["text"]


def test_empty_history_says_so() -> None:
    view = render_history_modal(HistoryView("sid", "<!here> title", [], 0))
    text = str(view["blocks"])
    assert "Nothing has happened yet" in text and "<!here>" not in text
    assert violations(view["blocks"], None, max_blocks=100, max_chars=None) == []
