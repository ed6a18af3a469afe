"""Teams (tier 1, tier 2, security…): admins define them and their members in Slack; a
session belongs to its owner's team; an escalation to a team tags its members, or one member
in turn (round-robin), per the team's ``routing``.

A person is in at most one team (``users.team_id``, the seed's column): setting a team's
members moves those people into it. A team backed by a Slack user group
(``teams.slack_usergroup_id``) takes its members from the group instead, read when needed.

Round-robin keeps its cursor in ``teams.next_member`` (an index into the members in a stable
order). A pick reads the cursor, finds the next member still in the workspace (``users.info``
``deleted``) outside any transaction, then moves the cursor with a compare-and-set UPDATE in
the caller's transaction: two processes picking at once never get the same turn, and a
restart keeps it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.errors import DomainError, NotAllowedError, NotFoundError, SlackError
from bot.services.admin import GROUP, is_admin
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work
from storage.models import Account, Team, User

ROUTINGS = {"all": "tag_all", "tag_all": "tag_all", "round-robin": "round_robin",
            "round_robin": "round_robin", "rr": "round_robin"}
NAME = re.compile(r"^[\w][\w.&/-]{0,62}$")
USER_REF = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,})$")
MAX_MEMBERS = 100
TEAM_WORD = re.compile(r"^(?:team:|@)([\w][\w.&/-]{0,62})$", re.I)
SUBTEAM = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|@?([^>]*))?>$")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TeamView:
    name: str
    routing: str
    members: list[str]  # Slack user ids
    usergroup: str | None = None  # the Slack user group the members come from
    since: str = ""  # the day the team was defined (YYYY-MM-DD), shown in `team list`


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
        return [TeamView(t.name, t.routing, [u.slack_user_id for u in members(db, t)],
                         t.slack_usergroup_id,
                         f"{t.created_at:%Y-%m-%d}" if t.created_at is not None else "")
                for t in teams]


def team_names(svc: Services, team_id: str) -> list[str]:
    """The workspace's team names (the escalate modal's picker); no row is created."""
    with unit_of_work(svc.factory) as db:
        return list(db.execute(
            select(Team.name).join(Account, Account.id == Team.account_id)
            .where(Account.slack_team_id == team_id).order_by(Team.name)).scalars())


def set_usergroup(svc: Services, team_id: str, user_id: str, raw_name: str,
                  raw_group: str) -> TeamView:
    """``/flowpilot team group NAME @group|none``: the team's members come from a Slack user
    group (read with ``usergroups.users.list`` when an escalation needs them)."""
    group: str | None = None
    if raw_group.strip().lower() not in ("none", "off", "-"):
        m = GROUP.match(raw_group.strip())
        if not m:
            raise DomainError("Name a Slack user group, e.g. `@tier2-oncall` (or `none`).")
        group = m.group(1) or m.group(2)
    with unit_of_work(svc.factory) as db:
        team = find(db, _admin(db, svc, team_id, user_id), _name(raw_name))
        team.slack_usergroup_id = group
        team.next_member = 0
        db.flush()
        return TeamView(team.name, team.routing, [u.slack_user_id for u in members(db, team)],
                        group)


# ── escalation to a team ────────────────────────────────────────────────────────────────


def team_word(word: str) -> bool:
    """Whether a command word names a team: ``team:tier2``, ``@tier2`` or a user group."""
    return bool(TEAM_WORD.match(word) or SUBTEAM.match(word))


def find_for_escalation(db: Session, account: Account, word: str) -> Team:
    """The team a command word or the modal's picker names; unknown → one readable line."""
    sub = SUBTEAM.match(word)
    if sub:
        team = db.execute(select(Team).where(Team.account_id == account.id,
                                             Team.slack_usergroup_id == sub.group(1))
                          ).scalars().first()
        if team is not None:
            return team
        word = sub.group(2) or sub.group(1)
    m = TEAM_WORD.match(word)
    return find(db, account, _name(m.group(1) if m else word[:100]))


def name_of(svc: Services, team_id: str, word: str) -> str:
    """The name of the team a command word names (refuses an unknown team)."""
    with unit_of_work(svc.factory) as db:
        return find_for_escalation(db, ensure_account(db, team_id), word).name


@dataclass(frozen=True)
class Snapshot:
    """What a pick needs from the team row, read in a short transaction."""
    id: uuid.UUID
    name: str
    routing: str
    usergroup: str | None
    cursor: int
    stored: list[str]  # members kept in FlowPilot (``users.team_id``)


def snapshot(db: Session, team: Team) -> Snapshot:
    return Snapshot(team.id, team.name, team.routing, team.slack_usergroup_id, team.next_member,
                    [u.slack_user_id for u in members(db, team)])


@dataclass(frozen=True)
class Pick:
    """Whom an escalation to a team tags, and how to move the round-robin cursor."""
    team_id: uuid.UUID
    team: str
    tagged: list[str] = field(default_factory=list)
    note: str = ""  # one line when nobody could be tagged (the package still goes out)
    cursor: tuple[int, int] | None = None  # (expected, new) for the compare-and-set


def roster(svc: Services, snap: Snapshot) -> tuple[list[str], str]:
    """The team's members in a stable order, and a line when they could not be read."""
    if not snap.usergroup:
        return sorted(snap.stored), ""
    try:
        people = sorted(dict.fromkeys(svc.notifier.group_members(snap.usergroup)))
    except SlackError as exc:
        log.warning("could not read the Slack user group of team %s: %s", snap.name, exc.code)
        return [], (f"Slack did not give the members of team *{snap.name}*'s user group "
                    f"({exc.code or 'error'}), so the package was posted without tagging anyone.")
    if not people:
        return [], (f"Team *{snap.name}*'s Slack user group has no members, so the package "
                    "was posted without tagging anyone.")
    return people, ""


def _gone(svc: Services, user_id: str) -> bool:
    """A member who left the workspace (``users.info`` says ``deleted``); when Slack can't
    say, the member is kept (a tag too many beats an escalation nobody sees)."""
    return bool(svc.notifier.user_info(user_id).get("deleted"))


def pick(svc: Services, snap: Snapshot) -> Pick:
    """Whom to tag (Slack calls; run it outside any transaction): every member, or the next
    member in turn who is still in the workspace."""
    people, problem = roster(svc, snap)
    if problem:
        return Pick(snap.id, snap.name, note=problem)
    if snap.routing != "round_robin":
        return Pick(snap.id, snap.name, tagged=people)
    n = len(people)
    for step in range(n):
        index = (snap.cursor + step) % n
        if not _gone(svc, people[index]):
            return Pick(snap.id, snap.name, tagged=[people[index]],
                        cursor=(snap.cursor, (index + 1) % n))
    return Pick(snap.id, snap.name, note=(
        f"Every member of team *{snap.name}* has left the workspace, so the package was "
        "posted without tagging anyone."))


class TurnTaken(Exception):
    """Another process moved the round-robin cursor between the read and the write."""


def take_turn(db: Session, chosen: Pick) -> None:
    """Move the cursor in the caller's transaction, only if nobody moved it meanwhile."""
    if chosen.cursor is None:
        return
    expected, new = chosen.cursor
    result = db.execute(update(Team).where(Team.id == chosen.team_id,
                                           Team.next_member == expected)
                        .values(next_member=new).execution_options(synchronize_session=False))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise TurnTaken()


def members_of(db: Session, team: Team, group_members: frozenset[str] | None) -> list[str]:
    """Everyone in the team: its stored members, or, for a team backed by a user group, the
    group's members the caller read from Slack before any row lock (``group_members``; None
    when Slack couldn't say → nobody)."""
    if not team.slack_usergroup_id:
        return [u.slack_user_id for u in members(db, team)]
    return sorted(group_members or ())
