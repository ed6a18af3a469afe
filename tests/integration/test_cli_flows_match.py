"""``flowpilot flows match TEXT… [--json]``: one line a text, id and score or null."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.test_cli import run


def test_plain_output_is_one_line_a_text(tmp_path: Path) -> None:
    done = run(tmp_path, "flows", "match", "outlook keeps asking for pw", "thanks!", "S drive gone")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    flow, score = lines[0].split()
    assert flow == "outlook" and 0.6 <= float(score) < 1.0
    assert lines[1] == "null"
    assert lines[2].split()[0] == "file-share-rdp"
    assert not list(tmp_path.glob("*.db")), "matching must not create a database"


def test_json_output_and_stdin(tmp_path: Path) -> None:
    done = run(tmp_path, "flows", "match", "--json", "veeam job failed", "lunch?")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["id"] == "backup-failure" and 0.6 <= first["score"] < 1.0
    assert first["text"] == "veeam job failed"
    assert second == {"text": "lunch?", "id": None, "score": None}


def test_stdin_lines_and_hostile_text(tmp_path: Path) -> None:
    from tests.integration.test_cli import FLOWPILOT, _env

    text = "printer offline\n\n<!channel> ```; DROP TABLE x``` \u202e\x00\n" + "x" * 50_000 + "\n"
    done = subprocess.run([*FLOWPILOT, "flows", "match", "-"], input=text, cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["printer " + done.stdout.split()[1], "null", "null"]


def test_no_text_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path, "flows", "match")
    assert done.returncode == 2 and "text" in done.stderr
