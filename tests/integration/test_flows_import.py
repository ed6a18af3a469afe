"""``flowpilot flows import FILE --workspace T…``: a workspace's own flow overrides the
built-in of the same id for that workspace only; a malformed file is refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from storage.models import Account, Tree

WORKSPACE_FLOW = """\
id: outlook
title: Contoso Outlook runbook
domain: email
match:
  - outlook keeps asking for password
  - outlook not syncing
start: vpn
nodes:
  vpn:
    question: Is the Contoso VPN client connected?
    kind: check
    options:
      Connected: fix_profile
      Not connected: esc
  fix_profile:
    fix:
      title: Recreate the Outlook profile
      steps:
        - Remove the profile in Control Panel > Mail and add it again
    on_fail: esc
  esc:
    escalate: Contoso messaging team
"""

BROKEN = """\
id: outlook
title: Broken runbook
domain: email
match:
  - outlook
start: vpn
nodes:
  vpn:
    question: Connected?
    options:
      Yes: nowhere
      No: esc
  esc:
    escalate: Contoso messaging team
"""


@pytest.fixture()
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("FLOWPILOT_DATABASE_URL", db_url)
    return tmp_path


def _account(harness, team: str) -> Account:  # type: ignore[no-untyped-def]
    with harness.svc.factory() as db:
        return db.execute(select(Account).where(Account.slack_team_id == team)).scalar_one()


def test_workspace_flow_overrides_builtin_for_that_workspace(  # type: ignore[no-untyped-def]
    harness, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cli_env / "contoso-outlook.yaml"
    path.write_text(WORKSPACE_FLOW, encoding="utf-8")

    assert main(["flows", "import", str(path), "--workspace", "T0ACME"]) == 0
    out = capsys.readouterr().out
    assert "imported flow 'outlook'" in out and "T0ACME" in out and "overrides" in out

    account = _account(harness, "T0ACME")
    mine = harness.svc.flows.get("outlook", account.id)
    assert mine is not None and mine.title == "Contoso Outlook runbook"
    builtin = harness.svc.flows.get("outlook")
    assert builtin is not None and builtin.title != "Contoso Outlook runbook"
    with harness.svc.factory() as db:
        tree = db.execute(select(Tree).where(Tree.account_id == account.id)).scalar_one()
    assert (tree.flow_key, tree.source, tree.domain) == ("outlook", "workspace", "email")
    assert tree.yaml_text == WORKSPACE_FLOW and tree.definition == {"source": str(path)}

    # importing again updates the same row
    path.write_text(WORKSPACE_FLOW.replace("Contoso Outlook runbook", "Contoso Outlook v2"),
                    encoding="utf-8")
    assert main(["flows", "import", str(path), "--workspace", "T0ACME"]) == 0
    again = capsys.readouterr().out
    assert "updated (first imported 20" in again and "last changed 20" in again
    assert "flow 'outlook'" in again
    with harness.svc.factory() as db:
        rows = db.execute(select(Tree).where(Tree.account_id == account.id)).scalars().all()
    assert [r.title for r in rows] == ["Contoso Outlook v2"]


def test_session_in_that_workspace_follows_its_flow(  # type: ignore[no-untyped-def]
    harness, cli_env: Path
) -> None:
    path = cli_env / "contoso-outlook.yaml"
    path.write_text(WORKSPACE_FLOW, encoding="utf-8")
    assert main(["flows", "import", str(path), "--workspace", "T0ACME"]) == 0

    status, _ = harness.command("outlook keeps asking for password", team="T0ACME")
    assert status == 200
    harness.settle()
    assert "Contoso VPN client" in str([m.get("blocks") for m in harness.slack.messages("C1")])

    status, _ = harness.command("outlook keeps asking for password", channel="C2")
    assert status == 200
    harness.settle()
    assert "Contoso VPN client" not in str([m.get("blocks") for m in harness.slack.messages("C2")])


def test_malformed_file_is_refused_with_file_and_line(  # type: ignore[no-untyped-def]
    engine, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cli_env / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")

    assert main(["flows", "import", str(path), "--workspace", "T0ACME"]) == 1
    captured = capsys.readouterr()
    assert f"{path}:11:" in captured.out and "nowhere" in captured.out
    assert "nothing imported" in captured.err
    with engine.connect() as conn:
        assert conn.execute(select(Tree.id)).first() is None


def test_unreadable_yaml_and_bad_workspace(  # type: ignore[no-untyped-def]
    engine, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cli_env / "tabs.yaml"
    path.write_text("id: x\n  title: [unclosed\n", encoding="utf-8")
    assert main(["flows", "import", str(path), "--workspace", "T0ACME"]) == 1
    assert f"{path}:" in capsys.readouterr().out

    assert main(["flows", "import", str(path), "--workspace", "acme"]) == 2
    assert "--workspace" in capsys.readouterr().err
