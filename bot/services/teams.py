"""Teams (tier 1, tier 2, security…): admins define them and their members in Slack; a
session belongs to its owner's team; an escalation to a team tags its members, or one member
in turn (round-robin), per the team's ``routing``.

A person is in at most one team (``users.team_id``, the seed's column): setting a team's
members moves those people into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import DomainError, NotAllowedError, NotFoundError
from bot.services.admin import is_admin
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work
from storage.models import Account, Team, User

ROUTINGS = {"all": "tag_all", "tag_all": "tag_all", "round-robin": "round_robin",
            "round_robin": "round_robin", "rr": "round_robin"}
NAME = re.compile(r"^[\w][\w.&/-]{0,62}$")
USER_REF = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
MAX_MEMBERS = 100


@dataclass(frozen=True)
class TeamView:
    name: str
    routing: str
    members: list[str]  # Slack user ids


def _admin(db: Session, svc: Services, team_id: str, user_id: str) -> Account:
    account = ensure_account(db, team_id)
    if not is_admin(db, svc, ensure_user(db, account, user_id, svc.notifier)):
        raise NotAllowedError("Only workspace admins can change teams.")
    return account


def _name(raw: str) -> str:
    name = (raw or "").strip()
    if not NAME.match(name):
        raise DomainError("A team name is one word of 1–63 letters, digits or . & / - _ "
                          "(e.g. `tier2`).")
    return name


def find(db: Session, account: Account, name: str) -> Team:
    team = db.execute(select(Team).where(
        Team.account_id == account.id, func.lower(Team.name) == name.lower())).scalar_one_or_none()
    if team is None:
        raise NotFoundError(f"There is no team `{name}`. `/flowpilot team list` shows them.")
    return team


def members(db: Session, team: Team) -> list[User]:
    return list(db.execute(select(User).where(User.team_id == team.id)
                           .order_by(User.slack_user_id)).scalars())


def add(svc: Services, team_id: str, user_id: str, raw_name: str) -> str:
    name = _name(raw_name)
    with unit_of_work(svc.factory) as db:
        account = _admin(db, svc, team_id, user_id)
        exists = db.execute(select(Team.id).where(
            Team.account_id == account.id, func.lower(Team.name) == name.lower())).first()
        if exists:
            raise DomainError(f"Team `{name}` already exists.")
        db.add(Team(account_id=account.id, name=name, routing="tag_all", next_member=0))
    return name


def set_members(svc: Services, team_id: str, user_id: str, raw_name: str,
                refs: list[str]) -> TeamView:
    ids: list[str] = []
    for ref in refs:
        m = USER_REF.match(ref.strip())
        if not m:
            raise DomainError(f"`{ref[:40]}` is not a person; mention them, e.g. `@alice`.")
        ids.append(m.group(1) or m.group(2))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise DomainError("Name the members: `/flowpilot team members NAME @a @b`.")
    if len(ids) > MAX_MEMBERS:
        raise DomainError(f"A team has at most {MAX_MEMBERS} members.")
    with unit_of_work(svc.factory) as db:
        account = _admin(db, svc, team_id, user_id)
        team = find(db, account, _name(raw_name))
        for user in members(db, team):
            user.team_id = None  # the list replaces the team's members
        for slack_id in ids:
            ensure_user(db, account, slack_id, svc.notifier).team_id = team.id
        team.next_member = 0
        db.flush()
        return TeamView(team.name, team.routing, [u.slack_user_id for u in members(db, team)])


def set_routing(svc: Services, team_id: str, user_id: str, raw_name: str, mode: str) -> str:
    routing = ROUTINGS.get(mode.strip().lower())
    if routing is None:
        raise DomainError("Routing is `all` (tag every member) or `round-robin` (one in turn).")
    with unit_of_work(svc.factory) as db:
        team = find(db, _admin(db, svc, team_id, user_id), _name(raw_name))
        team.routing = routing
    return routing


def list_teams(svc: Services, team_id: str) -> list[TeamView]:
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        teams = db.execute(select(Team).where(Team.account_id == account.id)
                           .order_by(Team.name)).scalars().all()
        return [TeamView(t.name, t.routing, [u.slack_user_id for u in members(db, t)])
                for t in teams]


def escalation_targets(db: Session, team: Team) -> list[str]:
    """Whom an escalation to ``team`` tags: every member, or the next one in turn (the
    cursor advances, so the caller's transaction must commit)."""
    people = [u.slack_user_id for u in members(db, team)]
    if not people or team.routing != "round_robin":
        return people
    pick = people[team.next_member % len(people)]
    team.next_member = (team.next_member + 1) % len(people)
    return [pick]
