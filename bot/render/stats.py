"""``/flowpilot stats``: the typed view-model and its message (pure: numbers in, blocks out).

The view-model is what ``bot.services.stats`` fills. To show another number, add a field
here (or a ``StatLine`` to ``quality``), fill it in the service and render it below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.timekeeping import seconds_to_text

from . import blocks as bk
from .blocks import Message
from .chart import DayBar
from .safe import mention, neutralize, one_line


@dataclass(frozen=True)
class StatLine:
    """One labelled figure, e.g. ("👍 helpful turns", "42")."""

    label: str
    value: str


@dataclass(frozen=True)
class FeedbackLine:
    rating: int | None
    text: str
    summary: str  # the session's resolution summary (or problem summary)
    user: str  # Slack id of the session's owner


@dataclass(frozen=True)
class ModelUsage:
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None  # None: no price known for this model


@dataclass(frozen=True)
class TechnicianLine:
    user: str  # Slack id
    opened: int
    resolved: int
    escalated: int
    csat: float | None


@dataclass(frozen=True)
class TeamLine:
    name: str
    opened: int
    resolved: int


@dataclass
class StatsView:
    window: str  # "7d"
    since: str  # first day (ISO, UTC)
    until: str  # last day (ISO, UTC)
    own_only: bool  # a non-admin: only their own sessions
    user: str  # who asked (Slack id)
    opened: int = 0
    resolved: int = 0
    escalated: int = 0  # escalated at some point (requested or package posted)
    abandoned: int = 0
    still_open: int = 0
    median_active_seconds: int | None = None
    first_session_resolved: int = 0  # numerator of the first-session resolution rate
    reached_outcome: int = 0  # its denominator
    ratings: dict[int, int] = field(default_factory=dict)
    feedback: list[FeedbackLine] = field(default_factory=list)
    domains: list[tuple[str, int]] = field(default_factory=list)
    flows: list[tuple[str, int]] = field(default_factory=list)
    handoffs: int = 0
    handed_off_sessions: int = 0
    handoff_kinds: list[tuple[str, int]] = field(default_factory=list)
    usage: list[ModelUsage] = field(default_factory=list)
    model_turns: int = 0
    teams: list[TeamLine] = field(default_factory=list)
    actions: list[tuple[str, int]] = field(default_factory=list)
    technicians: list[TechnicianLine] = field(default_factory=list)
    days: list[DayBar] = field(default_factory=list)
    quality: list[StatLine] = field(default_factory=list)  # e.g. turn feedback (issue 19)
    # Admins: the workspace's all-time counters (input, output, cache reads, cache writes).
    all_time_tokens: tuple[int, int, int, int] | None = None

    @property
    def csat(self) -> float | None:
        n = sum(self.ratings.values())
        return sum(k * v for k, v in self.ratings.items()) / n if n else None

    @property
    def first_session_rate(self) -> float | None:
        return self.first_session_resolved / self.reached_outcome if self.reached_outcome else None

    @property
    def cost_usd(self) -> float | None:
        priced = [u.cost_usd for u in self.usage if u.cost_usd is not None]
        return sum(priced) if priced else None


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else "<$0.01"


def tokens(n: int) -> str:
    return f"{n / 1_000_000:.1f}M" if n >= 1_000_000 else (f"{n / 1000:.1f}k" if n >= 1000 else str(n))


def _label(text: str, limit: int = 60) -> str:
    return neutralize(one_line(text), max_len=limit)


def chart_title(v: StatsView) -> str:
    who = "your sessions" if v.own_only else "workspace"
    return f"FlowPilot · {who} · {v.since} to {v.until}"


def headline(v: StatsView) -> str:
    return (f"{v.opened} opened · {v.resolved} resolved · {v.escalated} escalated · "
            f"{v.abandoned} abandoned · {v.still_open} still open")


def render_stats(v: StatsView, chart_note: str = "") -> Message:
    """The stats message; ``chart_note`` says where the chart went (or why it did not)."""
    scope = "your own sessions" if v.own_only else "the whole workspace"
    out = [bk.header(f"📊 FlowPilot stats · last {v.window}"),
           bk.context([f"{v.since} to {v.until} (UTC) · {scope} · sessions opened in the window"])]
    if not v.opened:
        out.append(bk.section("No sessions yet in this window: 0 opened · 0 resolved · "
                              "0 escalated · 0 abandoned. Start one with `/flowpilot <problem>`."))
        if chart_note:
            out.append(bk.context([chart_note]))
        return bk.finish(out, f"FlowPilot stats (last {v.window}): no sessions yet")
    median = seconds_to_text(v.median_active_seconds) if v.median_active_seconds else "—"
    csat = f"{v.csat:.1f}/5 from {sum(v.ratings.values())}" if v.csat is not None else "no ratings"
    lines = [
        f"*Sessions*: {headline(v)}",
        f"*Median time to resolve* (active time, parked time excluded): {median}",
        f"*First-session resolution*: {pct(v.first_session_rate)} "
        f"({v.first_session_resolved} of {v.reached_outcome} that reached an outcome were "
        "resolved by their first owner, with no hand-off and no escalation)",
        f"*CSAT*: {csat}" + (" · " + "  ".join(f"{k}★ {v.ratings.get(k, 0)}"
                                               for k in (5, 4, 3, 2, 1)) if v.ratings else ""),
        f"*Handoffs*: {v.handoffs} in {v.handed_off_sessions} sessions"
        + (" (" + ", ".join(f"{_label(k, 20)} {n}" for k, n in v.handoff_kinds) + ")"
           if v.handoff_kinds else ""),
    ]
    out.append(bk.section("\n".join(lines)))
    tops = []
    if v.domains:
        tops.append("*Top domains*: " + ", ".join(f"{_label(d, 40)} ({n})" for d, n in v.domains))
    if v.flows:
        tops.append("*Top flows*: " + ", ".join(f"{_label(f, 50)} ({n})" for f, n in v.flows))
    if v.actions:
        tops.append("*Top resolution actions*:\n" + "\n".join(
            f"• {_label(a.splitlines()[0] if a.strip() else a, 90)} ({n})" for a, n in v.actions))
    if tops:
        out.append(bk.section("\n".join(tops)))
    if v.usage:
        rows = [f"• `{_label(u.model, 40)}`: {tokens(u.input_tokens)} in · "
                f"{tokens(u.output_tokens)} out · {tokens(u.cache_read_tokens)} cache reads · "
                f"{tokens(u.cache_write_tokens)} cache writes · "
                + (money(u.cost_usd) if u.cost_usd is not None else "no price known")
                for u in v.usage]
        if v.all_time_tokens is not None:
            i, o, r, w = v.all_time_tokens
            rows.append(f"• all time, whole workspace: {tokens(i)} in · {tokens(o)} out · "
                        f"{tokens(r)} cache reads · {tokens(w)} cache writes")
        out.append(bk.section(f"*Model use*: {v.model_turns} model turns · estimated cost "
                              f"{money(v.cost_usd)}\n" + "\n".join(rows)))
    if v.feedback:
        out.append(bk.section("*Recent feedback*\n" + "\n".join(
            f"• {(str(f.rating) + '★ ') if f.rating else ''}“{_label(f.text, 200)}” — "
            f"{_label(f.summary, 80)}, {mention(f.user)}" for f in v.feedback)))
    if v.quality:
        out.append(bk.section("*Quality*\n" + "\n".join(
            f"• {_label(q.label, 60)}: {_label(q.value, 60)}" for q in v.quality)))
    if v.teams:
        out.append(bk.section("*By team*\n" + "\n".join(
            f"• {_label(t.name, 40)}: {t.opened} opened · {t.resolved} resolved"
            for t in v.teams)))
    if v.technicians:
        out.append(bk.section("*By technician*\n" + "\n".join(
            f"• {mention(t.user)}: {t.opened} opened · {t.resolved} resolved · "
            f"{t.escalated} escalated · CSAT {f'{t.csat:.1f}' if t.csat is not None else '—'}"
            for t in v.technicians)))
    notes = [chart_note] if chart_note else []
    if v.own_only:
        notes.append("Your own numbers; workspace and per-technician numbers are for admins.")
    if v.usage:
        notes.append("Cost is an estimate from list prices per million tokens.")
    if notes:
        out.append(bk.context(notes))
    return bk.finish(out, f"FlowPilot stats (last {v.window}): {headline(v)}")
