"""``flowpilot workspace list``: every Slack workspace FlowPilot knows, installed or not, with
its sessions and people; ``flowpilot workspace purge TEAM_ID``: delete everything stored for
one workspace (docs/privacy.md). Without ``--yes`` purge only counts what would go."""

from __future__ import annotations

import argparse

from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import ConfigError


def cmd_workspace_purge(args: argparse.Namespace) -> int:
    from bot.cli import cli_settings
    from storage.db import make_engine, make_session_factory
    from storage.migrate import is_current

    team = str(args.team_id).strip()
    if not team.startswith(("T", "E")) or not team.isalnum():
        raise ConfigError(f"{team!r} is not a Slack team id (T…): see `/flowpilot settings` "
                          "or the workspace's URL in Slack's admin pages")
    engine = make_engine(cli_settings().database_url)
    try:
        if not is_current(engine):
            raise ConfigError("The database schema is not migrated: run `flowpilot db upgrade`.")
        found = purge(make_session_factory(engine), team, apply=args.yes)
    finally:
        engine.dispose()
    if found is None:
        print(f"nothing stored for workspace {team}")
    elif not args.yes:
        print(f"would delete workspace {team}: {found[0]} session(s), {found[1]} delivery "
              "record(s), its people, settings, knowledge and install; add --yes to delete")
    else:
        print(f"deleted workspace {team}: {found[0]} session(s), {found[1]} delivery record(s)")
    return 0


def cmd_workspace_list(args: argparse.Namespace) -> int:
    from bot.cli import cli_settings
    from storage.db import make_engine, make_session_factory
    from storage.migrate import is_current

    engine = make_engine(cli_settings().database_url)
    try:
        if not is_current(engine):
            raise ConfigError("The database schema is not migrated: run `flowpilot db upgrade`.")
        lines = workspace_lines(make_session_factory(engine))
    finally:
        engine.dispose()
    print("\n".join(lines) if lines else "no workspace yet: install the app or open a session")
    return 0


def _day(at: object) -> str:
    return f"{at:%Y-%m-%d}" if at is not None else "?"


def workspace_lines(factory: sessionmaker[Session]) -> list[str]:
    """One line per workspace: team id and name, installed since, active or uninstalled (and
    when), when its record last changed, its sessions (open / all) and people (newest)."""
    from storage.db import unit_of_work
    from storage.models import Account, AISession, User
    from storage.models.session import OPEN_STATUSES

    with unit_of_work(factory) as db:
        accounts = db.execute(select(Account).order_by(Account.created_at)).scalars().all()
        sessions = {a: (int(n), int(o or 0)) for a, n, o in db.execute(
            select(AISession.account_id, func.count(),
                   func.sum(case((AISession.status.in_(OPEN_STATUSES), 1), else_=0)))
            .group_by(AISession.account_id)).all()}
        people = {a: (int(n), newest) for a, n, newest in db.execute(
            select(User.account_id, func.count(), func.max(User.created_at))
            .group_by(User.account_id)).all()}
        lines = []
        for a in accounts:
            state = ("active" if a.is_active and a.uninstalled_at is None
                     else f"uninstalled {_day(a.uninstalled_at)}")
            total, open_ = sessions.get(a.id, (0, 0))
            count, newest = people.get(a.id, (0, None))
            who = f"{count} people" + (f" (newest {_day(newest)})" if newest else "")
            lines.append(f"{a.slack_team_id}  {a.name or '(no name)'}  since {_day(a.created_at)}"
                         f"  {state}  changed {_day(a.updated_at)}  sessions {open_} open / "
                         f"{total}  {who}")
        return lines


def purge(factory: sessionmaker[Session], team: str, *, apply: bool) -> tuple[int, int] | None:
    """(sessions, delivery records) stored for ``team``, deleted when ``apply``; None when
    nothing is stored. The account's foreign keys cascade to all it owns."""
    from storage.db import unit_of_work
    from storage.models import Account, AISession, InboundEvent
    from storage.models.slack_oauth import bots, installations

    with unit_of_work(factory) as db:
        account_id = db.execute(select(Account.id).where(Account.slack_team_id == team)
                                ).scalar_one_or_none()
        sessions = 0 if account_id is None else int(db.execute(
            select(func.count()).select_from(AISession)
            .where(AISession.account_id == account_id)).scalar_one())
        events = int(db.execute(select(func.count()).select_from(InboundEvent)
                                .where(InboundEvent.slack_team_id == team)).scalar_one())
        if account_id is None and not events:
            return None
        if apply:
            db.execute(delete(InboundEvent).where(InboundEvent.slack_team_id == team))
            db.execute(delete(installations).where(installations.c.team_id == team))
            db.execute(delete(bots).where(bots.c.team_id == team))
            if account_id is not None:
                db.execute(delete(Account).where(Account.id == account_id))
    return sessions, events


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ws = sub.add_parser("workspace", help="data of one Slack workspace").add_subparsers(
        dest="workspace_command", required=True)
    listing = ws.add_parser("list", help="every workspace: installed, sessions, people")
    listing.set_defaults(fn=cmd_workspace_list)
    purge = ws.add_parser("purge", help="delete everything stored for a workspace")
    purge.add_argument("team_id", help="the Slack team id, T…")
    purge.add_argument("--yes", action="store_true", help="delete (without it: count only)")
    purge.set_defaults(fn=cmd_workspace_purge)
