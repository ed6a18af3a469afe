"""``flowpilot flows import FILE --workspace T…``: store a workspace's own flow in ``trees``.

A workspace flow overrides the built-in (or ``FLOWPILOT_FLOWS_DIR``) flow with the same id
for that workspace only. The file is checked first; any problem is printed as file:line and
nothing is stored (exit 1).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from sqlalchemy import select

TEAM_ID = re.compile(r"^[TE][A-Z0-9]{2,}$")


def cmd_flows_import(args: argparse.Namespace) -> int:
    from bot.cli import cli_settings as load_settings
    from bot.errors import ConfigError, StorageError
    from bot.flows.check import check_flow
    from bot.flows.loader import load_flow_file
    from bot.services.identity import ensure_account
    from storage.db import make_engine, make_session_factory, unit_of_work
    from storage.migrate import is_current
    from storage.models import Tree

    team_id = str(args.workspace).strip().upper()
    if not TEAM_ID.match(team_id):
        raise ConfigError(f"--workspace must be a Slack team id like T01ABCDEF, not '{args.workspace}'")
    path = Path(args.file)
    flow, problems = load_flow_file(path)
    if flow is not None:
        problems = check_flow(flow)
    if flow is None or problems:
        for problem in problems:
            print(str(problem))
        print(f"{len(problems)} problem(s) in {path}: nothing imported", file=sys.stderr)
        return 1
    text = path.read_text(encoding="utf-8")

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        if not is_current(engine):
            raise StorageError("The database schema is not migrated: run `flowpilot db upgrade` first.")
        with unit_of_work(make_session_factory(engine)) as db:
            account = ensure_account(db, team_id)
            tree = db.execute(
                select(Tree).where(Tree.account_id == account.id, Tree.flow_key == flow.id)
            ).scalar_one_or_none()
            verb = "updated" if tree is not None else "imported"
            if tree is not None:  # say which version this replaces
                verb += (f" (first imported {tree.created_at:%Y-%m-%d}, last changed "
                         f"{tree.updated_at:%Y-%m-%d %H:%M} UTC)")
            if tree is None:
                tree = Tree(account_id=account.id, flow_key=flow.id, source="workspace")
                db.add(tree)
            tree.title = flow.title[:255]
            tree.domain = flow.domain[:100]
            tree.yaml_text = text
            tree.definition = {"source": str(path)}
    finally:
        engine.dispose()

    from bot.services.catalog import FlowCatalog

    base = FlowCatalog(None, settings.flows_dir).base
    what = "overrides the built-in flow" if flow.id in base.flows else "a new flow"
    print(f"{verb} flow '{flow.id}' ({flow.title}) for workspace {team_id}: {what} "
          "(a running bot picks it up within a minute)")
    return 0


def cmd_flows_match(args: argparse.Namespace) -> int:
    """Print the flow each text matches (id and score, or null), one line a text; no
    session is opened and nothing is stored."""
    import json

    from bot.cli import cli_settings as load_settings
    from bot.flows.match import match_flow
    from bot.services.catalog import FlowCatalog

    texts = list(args.text)
    if texts == ["-"]:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    library = FlowCatalog(None, load_settings().flows_dir).base
    for text in texts:
        found = match_flow(text, library)
        if args.json:
            record = {"text": text, "id": found.flow.id if found else None,
                      "score": found.score if found else None}
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{found.flow.id} {found.score:.2f}" if found else "null")
    return 0


def add_flow_commands(flows: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the flows subcommands that live here to ``flowpilot flows``."""
    imp = flows.add_parser("import", help="store a flow for one workspace (overrides by id)")
    imp.add_argument("file", help="a flow YAML file")
    imp.add_argument("--workspace", required=True, metavar="TEAM_ID",
                     help="the Slack team id (T…) whose flow this is")
    imp.set_defaults(fn=cmd_flows_import)
    match = flows.add_parser(
        "match", help="which flow each text matches (id and score, null for none)")
    match.add_argument("text", nargs="+", help="problem texts, one per argument ('-': stdin lines)")
    match.add_argument("--json", action="store_true", help="one JSON object a line")
    match.set_defaults(fn=cmd_flows_match)
