"""Issue 18, teams: admins define teams, members and routing in Slack; a session belongs to
its owner's team; round-robin picks one member in turn."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support import Harness

from bot.services import teams
from storage.db import unit_of_work
from storage.models import AISession, Team


def test_admins_define_teams_members_and_routing_others_are_refused(harness: Harness) -> None:
    h = harness
    h.command("team add tier2", user="UTECH")
    h.settle()
    assert "Only workspace admins" in h.ephemerals_text("UTECH")

    h.slack.set_user("UADMIN", is_admin=True)
    for text in ("team add tier2", "team add Tier2", "team add <!channel>", "team add " + "x" * 80,
                 "team members tier2 <@UANA|ana> <@UBEN> UANA", "team members nope <@UANA>",
                 "team members tier2 bob", "team routing tier2 round-robin",
                 "team routing tier2 sometimes", "team add tier1", "team members tier1 <@U1>"):
        assert h.command(text, user="UADMIN")[0] == 200
        h.settle()  # one after the other, as a person types them (work runs after the ack)
    told = h.ephemerals_text("UADMIN")
    assert "Team *tier2* added" in told and "Team `Tier2` already exists" in told
    assert told.count("A team name is one word") == 2
    assert "There is no team `nope`" in told and "`bob` is not a person" in told
    assert "now one member in turn" in told and "Routing is `all`" in told

    h.command("team list", user="UTECH")
    h.settle()
    listed = h.ephemerals_text("UTECH")
    assert "*tier2* (one member in turn): <@UANA> <@UBEN>" in listed
    assert "*tier1* (tags every member): <@U1> _since 20" in listed  # when it was defined

    # A session belongs to its owner's team (U1 is in tier1).
    h.command("outlook keeps popping pw box since this morning", user="U1")
    h.settle()
    with unit_of_work(h.svc.factory) as db:
        session = db.execute(select(AISession)).scalar_one()
        team = db.get(Team, session.team_id)
        assert team is not None and team.name == "tier1"


def test_round_robin_picks_one_member_in_turn_and_tag_all_tags_everyone(
    harness: Harness
) -> None:
    h = harness
    h.slack.set_user("UADMIN", is_admin=True)
    h.command("team add tier2", user="UADMIN")
    h.command("team members tier2 <@UCAT> <@UANA> <@UBEN>", user="UADMIN")
    h.command("team routing tier2 rr", user="UADMIN")
    h.settle()

    def snap() -> teams.Snapshot:
        with unit_of_work(h.svc.factory) as db:
            return teams.snapshot(db, db.execute(select(Team).where(Team.name == "tier2"))
                                  .scalar_one())

    picks = []
    for _ in range(4):
        chosen = teams.pick(h.svc, snap())
        with unit_of_work(h.svc.factory) as db:
            teams.take_turn(db, chosen)
        picks.append(chosen.tagged)
    assert picks == [["UANA"], ["UBEN"], ["UCAT"], ["UANA"]]  # stored cursor, survives restarts

    # Two processes reading the same cursor: only the first takes that turn.
    seen = snap()
    first, second = teams.pick(h.svc, seen), teams.pick(h.svc, seen)
    assert first.tagged == second.tagged == ["UBEN"]
    with unit_of_work(h.svc.factory) as db:
        teams.take_turn(db, first)
    with pytest.raises(teams.TurnTaken), unit_of_work(h.svc.factory) as db:
        teams.take_turn(db, second)
    assert teams.pick(h.svc, snap()).tagged == ["UCAT"]

    h.command("team routing tier2 all", user="UADMIN")
    h.settle()
    assert teams.pick(h.svc, snap()).tagged == ["UANA", "UBEN", "UCAT"]
