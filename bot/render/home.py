"""The App Home tab (pure): my open sessions, escalations waiting for someone (Take over),
my team's stale sessions, for admins the drafts to review and the settings at a glance, and
my numbers this week. Home tabs take at most 100 blocks (docs.slack.dev/surfaces/app-home:
"up to 100 blocks"); ``limits.enforce_blocks`` keeps it there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot import ids
from bot.domain.refs import session_ref
from bot.domain.status import STATUS_LABELS

from . import blocks as bk
from .knowledge import DraftView
from .limits import MAX_MODAL_BLOCKS, Block, enforce_blocks
from .safe import mention, neutralize, one_line, safe_link
from .stats import StatsView, headline, pct


@dataclass(frozen=True)
class HomeSession:
    session_id: str
    title: str
    status: str
    link: str | None
    owner: str  # Slack id
    age: str = ""  # "waiting 2h 05m" / "quiet for 3h 10m"


@dataclass
class HomeView:
    user: str
    mine: list[HomeSession] = field(default_factory=list)
    waiting: list[HomeSession] = field(default_factory=list)
    waiting_total: int = 0
    team_name: str | None = None
    team_stale: list[HomeSession] = field(default_factory=list)
    team_stale_total: int = 0
    is_admin: bool = False
    drafts: list[DraftView] = field(default_factory=list)
    drafts_total: int = 0
    settings: list[tuple[str, str]] = field(default_factory=list)  # admins: (name, value)
    week: StatsView | None = None


def _title(s: HomeSession) -> str:
    label = neutralize(one_line(s.title), max_len=120) or "(no summary)"
    return safe_link(s.link, label) if s.link else label


def _more(shown: int, total: int) -> list[Block]:
    return [bk.context([f"…and {total - shown} more."])] if total > shown else []


def render_home(h: HomeView, drafts: list[Block] | None = None) -> dict[str, Any]:
    """The ``views.publish`` view; ``drafts`` are the review-queue blocks (admins)."""
    out: list[Block] = [bk.header("FlowPilot")]
    if h.mine:
        out.append(bk.section("*Your open sessions*\n" + "\n".join(
            f"• {_title(s)} — _{STATUS_LABELS.get(s.status, s.status)}_ · "
            f"`{session_ref(s.session_id)}`" for s in h.mine)))
    else:
        out.append(bk.section("You have no open sessions. Start one with `/flowpilot <problem>`."))
    out.append(bk.context(["Start a session anywhere with `/flowpilot <problem>` or `@FlowPilot`."]))
    if h.waiting:
        out += [bk.divider(), bk.header(f"🔺 Escalations waiting for someone ({h.waiting_total})")]
        for s in h.waiting:
            out.append(bk.section(f"{_title(s)}\n{s.age} · from {mention(s.owner)}",
                                  accessory=bk.button("🙋 Take over", ids.TAKE_OVER,
                                                      s.session_id, style="primary")))
        out += _more(len(h.waiting), h.waiting_total)
    if h.team_name is not None:
        out += [bk.divider(), bk.header(f"Stale in {neutralize(h.team_name, max_len=60)} "
                                        f"({h.team_stale_total})")]
        if h.team_stale:
            out.append(bk.section("\n".join(f"• {_title(s)} — {s.age}, {mention(s.owner)}"
                                            for s in h.team_stale)))
            out += _more(len(h.team_stale), h.team_stale_total)
        else:
            out.append(bk.context(["Nothing stale in your team. 🎉"]))
    if h.week is not None:
        w = h.week
        csat = f"{w.csat:.1f}/5" if w.csat is not None else "—"
        out += [bk.divider(), bk.header("Your week"),
                bk.section(f"{headline(w)}\nFirst-session resolution {pct(w.first_session_rate)}"
                           f" · CSAT {csat} · `/flowpilot stats` for more")]
    if h.is_admin:
        out += drafts or []
        if h.settings:
            out += [bk.divider(), bk.header("Workspace settings"),
                    bk.section("\n".join(f"• *{neutralize(k, max_len=40)}*: {v}"
                                         for k, v in h.settings)),
                    bk.context(["Change them with `/flowpilot settings`."])]
    return {"type": "home", "blocks": enforce_blocks(out, max_blocks=MAX_MODAL_BLOCKS, max_chars=None)}
