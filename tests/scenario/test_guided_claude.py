"""Guided mode with Claude: a matched flow is part of the cached prefix, turn after turn."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support import Harness

from storage.models import AISession


def test_matched_flow_is_in_the_cached_prefix(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    h.command("outlook keeps asking for pw after password change")
    h.settle()
    with h.svc.factory() as db:
        s = db.execute(select(AISession)).scalar_one()
    assert s.flow_key == "outlook" and s.engine == "claude"
    h.reply("web works fine", s.slack_thread_ts)
    h.settle()
    first, second = (r.body for r in fake_anthropic.message_requests[:2])
    system = json.dumps(first["system"])
    flow = h.svc.flows.get("outlook")
    assert flow is not None and flow.title in system
    assert "cache_control" in json.dumps(first["system"][-1])
    assert json.dumps(first["system"]) == json.dumps(second["system"])  # byte-stable prefix


def test_a_malformed_flow_file_is_reported_and_skipped(
    db_url: str, engine: Any, fake_slack: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    good = Path(__file__).resolve().parents[2] / "bot" / "flows" / "library" / "dns.yaml"
    (tmp_path / "dns-copy.yaml").write_text(good.read_text().replace("id: dns", "id: dns-local", 1))
    with caplog.at_level(logging.WARNING):
        h = Harness(db_url, fake_slack, FLOWPILOT_FLOWS_DIR=str(tmp_path))
    try:
        assert any("broken.yaml:" in r.getMessage() for r in caplog.records)
        assert h.svc.flows.get("dns-local") is not None and h.svc.flows.get("outlook") is not None
        h.command("cant resolve hostname fileserver01")
        h.settle()
        assert h.bot_messages("C1"), "the bot still works"
    finally:
        h.close()
