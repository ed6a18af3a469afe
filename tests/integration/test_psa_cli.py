"""`flowpilot psa …` and `flowpilot secrets …` as an operator runs them (real processes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from test_cli import run

from bot.crypto import generate_key
from bot.sandbox.fake_psa import FakePsa


def _connect(tmp: Path, psa: FakePsa, **env: str) -> object:
    return run(tmp, "psa", "connect", "--workspace", "T0001", "--site", psa.url,
               "--company", psa.company, "--public-key", psa.public_key,
               "--client-id", psa.client_id, "--note-flag", "internal", **env)


def test_connect_test_rotate_and_webhook(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    key = generate_key()
    with FakePsa() as psa:
        # Without FLOWPILOT_SECRET_KEY: one line, nothing stored, nothing sent.
        refused = _connect(tmp_path, psa, FLOWPILOT_PSA_PRIVATE_KEY=psa.private_key)
        assert refused.returncode != 0  # type: ignore[attr-defined]
        last = refused.stderr.strip().splitlines()[-1]  # type: ignore[attr-defined]
        assert last.startswith("flowpilot: FLOWPILOT_SECRET_KEY is not set")
        assert psa.calls() == []
        # Wrong private key: the one validating call is refused; nothing stored.
        wrong = _connect(tmp_path, psa, FLOWPILOT_SECRET_KEY=key,
                         FLOWPILOT_PSA_PRIVATE_KEY="not-the-key")
        assert wrong.returncode != 0 and "401" in wrong.stderr  # type: ignore[attr-defined]
        assert "not-the-key" not in wrong.stderr + wrong.stdout  # type: ignore[attr-defined]
        ok = _connect(tmp_path, psa, FLOWPILOT_SECRET_KEY=key,
                      FLOWPILOT_PSA_PRIVATE_KEY=psa.private_key)
        assert ok.returncode == 0, ok.stderr  # type: ignore[attr-defined]
        assert "connected T0001" in ok.stdout  # type: ignore[attr-defined]
        assert psa.private_key not in ok.stdout + ok.stderr  # type: ignore[attr-defined]
        db = sqlite3.connect(tmp_path / "fp.db")
        (stored,) = db.execute("SELECT credentials_encrypted FROM psa_connections").fetchone()
        assert stored.startswith("fp1:") and psa.private_key not in stored
        assert psa.client_id not in stored

        tested = run(tmp_path, "psa", "test", "--workspace", "T0001", FLOWPILOT_SECRET_KEY=key)
        assert tested.returncode == 0 and "answered" in tested.stdout, tested.stderr
        assert len(tested.stdout.strip().splitlines()) == 1
        none = run(tmp_path, "psa", "test", "--workspace", "T9999", FLOWPILOT_SECRET_KEY=key)
        assert none.returncode == 1 and "no PSA connected" in none.stderr

        # Rotation: a new key in front re-encrypts; then the old key can go.
        new = generate_key()
        rotated = run(tmp_path, "secrets", "rotate", FLOWPILOT_SECRET_KEY=f"{new},{key}")
        assert rotated.returncode == 0 and "psa_connections.credentials_encrypted=1" in \
            rotated.stdout, rotated.stderr
        (after,) = db.execute("SELECT credentials_encrypted FROM psa_connections").fetchone()
        assert after != stored
        tested = run(tmp_path, "psa", "test", "--workspace", "T0001", FLOWPILOT_SECRET_KEY=new)
        assert tested.returncode == 0, tested.stderr

    hook = run(tmp_path, "psa", "webhook", "--workspace", "T0001", "--url",
               "https://hooks.example.com/fp", FLOWPILOT_SECRET_KEY=new)
    assert hook.returncode != 0 and "FLOWPILOT_PSA_WEBHOOK_SECRET" in hook.stderr
    hook = run(tmp_path, "psa", "webhook", "--workspace", "T0001", "--url",
               "https://hooks.example.com/fp", FLOWPILOT_SECRET_KEY=new,
               FLOWPILOT_PSA_WEBHOOK_SECRET="a-long-enough-webhook-secret")
    assert hook.returncode == 0, hook.stderr
    assert db.execute("SELECT count(*) FROM psa_connections").fetchone() == (2,)
    fresh = run(tmp_path, "secrets", "new-key")
    assert fresh.returncode == 0 and len(fresh.stdout.strip()) == 44
