"""``/flowpilot team …``: admins define teams and their members (issue 18)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.services import teams
from bot.services.container import Services
from handlers.commands import subcommand
from handlers.common import team_of, user_of

USAGE = ("`/flowpilot team list` · `/flowpilot team add NAME` · "
         "`/flowpilot team members NAME @a @b` · `/flowpilot team group NAME @user-group|none` · "
         "`/flowpilot team routing NAME all|round-robin` · "
         "escalate to one: `/flowpilot escalate fp-… team:NAME reason`")
_ROUTING_TEXT = {"tag_all": "tags every member", "round_robin": "one member in turn"}


def _line(t: teams.TeamView) -> str:
    people = " ".join(f"<@{m}>" for m in t.members) or "_no members yet_"
    if t.usergroup:  # the members come from the Slack user group
        people = f"members of <!subteam^{t.usergroup}>"
    since = f" _since {t.since}_" if t.since else ""
    return f"• *{t.name}* ({_ROUTING_TEXT.get(t.routing, t.routing)}): {people}{since}"


@subcommand("team", group="teams",
            usage="team list | add <name> | members <name> @user… | group <name> @group|none "
                  "| routing <name> all|round-robin",
            summary="teams own their members' sessions; escalations can go to a team")
def _team(svc: Services, body: dict[str, Any], rest: str, respond: Callable[..., Any]) -> None:
    words = rest.split()
    team, user = team_of(body), user_of(body)
    verb = words[0].lower() if words else "list"
    if verb == "list":
        shown = teams.list_teams(svc, team)
        text = "\n".join(_line(t) for t in shown) if shown else "No teams yet."
        respond(text=f"*Teams*\n{text}\n{USAGE}", response_type="ephemeral")
    elif verb == "add" and len(words) == 2:
        name = teams.add(svc, team, user, words[1])
        respond(text=f"✅ Team *{name}* added. Next: `/flowpilot team members {name} @a @b`.",
                response_type="ephemeral")
    elif verb == "members" and len(words) >= 3:
        view = teams.set_members(svc, team, user, words[1], words[2:])
        respond(text=f"✅ {_line(view)}", response_type="ephemeral")
    elif verb == "group" and len(words) == 3:
        view = teams.set_usergroup(svc, team, user, words[1], words[2])
        respond(text=f"✅ {_line(view)}", response_type="ephemeral")
    elif verb == "routing" and len(words) == 3:
        routing = teams.set_routing(svc, team, user, words[1], words[2])
        respond(text=f"✅ Team *{words[1]}* now {_ROUTING_TEXT[routing]}.",
                response_type="ephemeral")
    else:
        respond(text=f"Usage: {USAGE}", response_type="ephemeral")
