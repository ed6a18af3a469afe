"""``/flowpilot stats [7d|30d|90d]``, the digest's chart and App Home's "my week".

Every number is an aggregate computed by the database over the sessions *opened* in the
window (``ai_sessions.created_at``, index ``ix_ai_sessions_account_created``): no row is
loaded into Python to be counted. Definitions (also in docs/operations-jobs.md):

- *escalated*: escalation requested or package posted at some point (a session escalated
  and later resolved counts in both);
- *median time to resolve*: median ``total_active_seconds`` of the resolved sessions (the
  exact active-time ledger; parked time is in ``total_parked_seconds`` and left out);
- *first-session resolution*: of the sessions that reached an outcome (resolved, abandoned
  or escalated), the share resolved by their first owner with no hand-off
  (``handoff_count = 0``) and no escalation;
- *cost*: tokens per model (from ``system_prompt_snapshot``) × the list prices of
  ``bot.engines.models`` (cache reads and writes priced separately; writes at the
  configured cache TTL's rate).

A non-admin sees only their own sessions; admins see the workspace, by team and by technician.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from bot.domain import status as st
from bot.engines.models import builtin
from bot.errors import DomainError, SlackError
from bot.render.chart import DayBar, stats_chart_png
from bot.render.stats import (
    FeedbackLine,
    ModelUsage,
    StatLine,
    StatsView,
    TeamLine,
    TechnicianLine,
    chart_title,
)
from bot.services.admin import is_admin
from bot.services.container import Services
from bot.services.feedback import turn_feedback_counts
from bot.services.identity import ensure_account, ensure_user, meet
from storage.db import is_postgres, unit_of_work
from storage.models import AISession, AISessionStep, SessionHandoff, Team, Tree, User

log = logging.getLogger(__name__)

WINDOWS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_WINDOW = "7d"
TOP = 5
MAX_TECHNICIANS = 15
RECENT_FEEDBACK = 3


def parse_window(text: str) -> str:
    """``""`` → 7d; ``30d`` → 30d; anything else is refused in one line naming the windows."""
    words = (text or "").split()
    if not words:
        return DEFAULT_WINDOW
    word = words[0].lower()
    if len(words) == 1 and word in WINDOWS:
        return word
    shown = " ".join(words)[:30].replace("`", "'")
    raise DomainError(f"`{shown}` is not a stats window. Use `/flowpilot stats 7d`, `30d` or "
                      "`90d` (7d when left out).")


@dataclass(frozen=True)
class Scope:
    account_id: uuid.UUID
    user_id: uuid.UUID | None  # only this owner's sessions (a non-admin)
    since: datetime
    until: datetime

    def where(self) -> list[ColumnElement[bool]]:
        out = [AISession.account_id == self.account_id, AISession.created_at >= self.since,
               AISession.created_at < self.until]
        if self.user_id is not None:
            out.append(AISession.user_id == self.user_id)
        return out


def window_bounds(now: datetime, days: int) -> tuple[datetime, datetime]:
    """Whole UTC days: the last ``days`` days including today, up to now."""
    first = datetime.combine(now.astimezone(UTC).date() - timedelta(days=days - 1), time(0),
                             tzinfo=UTC)
    return first, now


def stats_for(svc: Services, team_id: str, user_id: str, window: str = DEFAULT_WINDOW,
              *, own_only: bool | None = None) -> StatsView:
    """The numbers ``user_id`` may see: the workspace's for an admin, else their own.
    ``own_only=True`` forces their own numbers (App Home's "my week")."""
    days = WINDOWS[window]
    now = svc.clock()
    since, until = window_bounds(now, days)
    meet(svc, team_id, user_id, create_account=True)  # users.info outside any transaction
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        user = ensure_user(db, account, user_id)  # met above
        admin = is_admin(db, svc, user)
        mine = True if own_only else not admin
        scope = Scope(account.id, user.id if mine else None, since, until)
        view = StatsView(window=window, since=since.date().isoformat(),
                         until=until.date().isoformat(), own_only=mine, user=user_id)
        fill(db, view, scope, cache_ttl=svc.settings.ai_cache_ttl, per_person=not mine)
        votes = turn_feedback_counts(db, team_id, since, user_id if mine else None)
        if votes.total:  # 👍/👎 under the model's turns (issue 19): a quality signal
            view.quality.append(StatLine("Model turns rated 👍 / 👎", f"{votes.up} / {votes.down}"))
        if not mine:
            view.all_time_tokens = (account.total_input_tokens, account.total_output_tokens,
                                    account.total_cache_read_tokens,
                                    account.total_cache_write_tokens)
    return view


def fill(db: Session, v: StatsView, scope: Scope, *, cache_ttl: str = "1h",
         per_person: bool = False) -> None:
    where = scope.where()
    escalated = or_(AISession.status.in_((st.ESCALATED, st.REQUESTING_ESCALATION)),
                    AISession.escalation_package_posted_at.is_not(None))
    resolved = AISession.status == st.RESOLVED
    first_owner = and_(resolved, AISession.handoff_count == 0,
                       AISession.escalation_package_posted_at.is_(None),
                       AISession.escalated_to_id.is_(None))
    outcome = or_(AISession.status.in_((st.RESOLVED, st.ABANDONED)), escalated)

    def n(cond: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    row = db.execute(select(
        func.count(), n(resolved), n(escalated), n(AISession.status == st.ABANDONED),
        n(AISession.status.in_((st.ACTIVE, st.PAUSED))), n(first_owner), n(outcome),
        func.coalesce(func.sum(AISession.handoff_count), 0), n(AISession.handoff_count > 0),
    ).where(*where)).one()
    (v.opened, v.resolved, v.escalated, v.abandoned, v.still_open, v.first_session_resolved,
     v.reached_outcome, v.handoffs, v.handed_off_sessions) = (int(x or 0) for x in row)
    if not v.opened:
        return
    v.median_active_seconds = _median_active(db, where, v.resolved)
    v.ratings = {int(r or 0): int(c) for r, c in db.execute(
        select(AISession.session_rating, func.count()).where(
            *where, AISession.session_rating.is_not(None))
        .group_by(AISession.session_rating)).all()}
    v.feedback = [FeedbackLine(rating, str(text), str(summary or problem or "Session"), str(owner))
                  for rating, text, summary, problem, owner in db.execute(
        select(AISession.session_rating, AISession.session_feedback,
               AISession.resolution_summary, AISession.problem_summary, User.slack_user_id)
        .select_from(AISession).join(User, User.id == AISession.user_id)
        .where(*where, AISession.session_feedback.is_not(None))
        .order_by(AISession.updated_at.desc()).limit(RECENT_FEEDBACK)).all()]
    v.domains = _top(db, AISession.problem_domain, where, default="other")
    v.flows = [(str(t), int(c)) for t, c in db.execute(
        select(Tree.title, func.count()).select_from(AISession)
        .join(Tree, Tree.id == AISession.matched_flow_id)
        .where(*where).group_by(Tree.title).order_by(func.count().desc(), Tree.title)
        .limit(TOP)).all()]
    v.actions = _top(db, AISession.resolution_action, [*where, resolved,
                                                       AISession.resolution_action.is_not(None)])
    v.handoff_kinds = [(str(k), int(c)) for k, c in db.execute(
        select(SessionHandoff.kind, func.count())
        .join(AISession, AISession.id == SessionHandoff.session_id)
        .where(*where).group_by(SessionHandoff.kind).order_by(func.count().desc())).all()]
    v.usage = _usage(db, where, cache_ttl)
    v.model_turns = int(db.scalar(
        select(func.count()).select_from(AISessionStep)
        .join(AISession, AISession.id == AISessionStep.session_id)
        .where(*where, or_(AISessionStep.input_tokens > 0, AISessionStep.output_tokens > 0))
    ) or 0)
    v.days = _days(db, where, scope)
    if per_person:
        v.teams = [TeamLine(str(name or "no team"), int(o), int(r)) for name, o, r in db.execute(
            select(Team.name, func.count(), n(resolved))
            .select_from(AISession).outerjoin(Team, Team.id == AISession.team_id)
            .where(*where).group_by(Team.name).order_by(func.count().desc()).limit(10)).all()]
        if len(v.teams) == 1 and v.teams[0].name == "no team":
            v.teams = []  # no teams set up: the line would repeat the totals
        v.technicians = [
            TechnicianLine(str(u), int(o), int(r), int(e), float(c) if c is not None else None)
            for u, o, r, e, c in db.execute(
                select(User.slack_user_id, func.count(), n(resolved), n(escalated),
                       func.avg(AISession.session_rating))
                .select_from(AISession).join(User, User.id == AISession.user_id).where(*where)
                .group_by(User.slack_user_id).order_by(func.count().desc(), User.slack_user_id)
                .limit(MAX_TECHNICIANS)).all()]


def _median_active(db: Session, where: list[ColumnElement[bool]], count: int) -> int | None:
    """The median of the resolved sessions' active seconds: the middle one or two rows by
    ORDER BY … OFFSET (both backends; no percentile function in SQLite)."""
    if not count:
        return None
    middle = db.execute(select(AISession.total_active_seconds)
                        .where(*where, AISession.status == st.RESOLVED)
                        .order_by(AISession.total_active_seconds)
                        .offset((count - 1) // 2).limit(2 - count % 2)).scalars().all()
    return round(sum(middle) / len(middle)) if middle else None


def _top(db: Session, column: Any, where: list[ColumnElement[bool]], *,
         default: str = "") -> list[tuple[str, int]]:
    return [(str(value or default), int(c)) for value, c in db.execute(
        select(column, func.count()).where(*where).group_by(column)
        .order_by(func.count().desc(), func.coalesce(column, default)).limit(TOP)).all()]


def model_of(snapshot: str | None) -> str:
    """``system_prompt_snapshot`` is "claude <model>; system prompt sha256:…" or "offline…"."""
    text = (snapshot or "").strip()
    if text.startswith("claude "):
        return text[len("claude "):].split(";", 1)[0].strip() or "claude (unknown model)"
    return "offline" if text.startswith("offline") or not text else text[:40]


def cost_usd(model: str, input_tokens: int, output_tokens: int, cache_read: int,
             cache_write: int, cache_ttl: str = "1h") -> float | None:
    """List price of these tokens (USD), or None when the model has no known price."""
    prices = builtin(model).prices
    if prices is None:
        return None
    write = prices.write_1h if cache_ttl == "1h" else prices.write_5m
    return (input_tokens * prices.input + output_tokens * prices.output
            + cache_read * prices.read + cache_write * write) / 1_000_000


def _usage(db: Session, where: list[ColumnElement[bool]], cache_ttl: str) -> list[ModelUsage]:
    per_model: dict[str, list[int]] = {}
    for snapshot, i, o, r, w in db.execute(
        select(AISession.system_prompt_snapshot, func.sum(AISession.total_input_tokens),
               func.sum(AISession.total_output_tokens),
               func.sum(AISession.total_cache_read_tokens),
               func.sum(AISession.total_cache_write_tokens))
        .where(*where).group_by(AISession.system_prompt_snapshot)).all():
        sums = per_model.setdefault(model_of(snapshot), [0, 0, 0, 0])
        for k, x in enumerate((i, o, r, w)):
            sums[k] += int(x or 0)
    return [ModelUsage(model, i, o, r, w, cost_usd(model, i, o, r, w, cache_ttl))
            for model, (i, o, r, w) in sorted(per_model.items())
            if i or o or r or w]


def _days(db: Session, where: list[ColumnElement[bool]], scope: Scope) -> list[DayBar]:
    """Sessions opened per UTC day, by what became of them (each session in one bucket)."""
    created = AISession.created_at
    day = func.date(func.timezone("UTC", created)) if is_postgres(db) else func.date(created)
    bucket = case((AISession.status == st.RESOLVED, "resolved"),
                  (AISession.status == st.ABANDONED, "abandoned"),
                  (AISession.status.in_((st.ESCALATED, st.REQUESTING_ESCALATION)), "escalated"),
                  else_="open")
    counts: dict[tuple[str, str], int] = {
        (str(d), str(b)): int(c) for d, b, c in db.execute(
            select(day, bucket, func.count()).where(*where).group_by(day, bucket)).all()}
    out = []
    current = scope.since.date()
    while current <= scope.until.date():
        iso = current.isoformat()
        out.append(DayBar(iso, **{b: counts.get((iso, b), 0)
                                  for b in ("resolved", "escalated", "abandoned", "open")}))
        current += timedelta(days=1)
    return out


def chart_png(view: StatsView) -> bytes:
    return stats_chart_png(chart_title(view), view.days, view.ratings)


NO_SCOPE_NOTE = ("📉 No chart: FlowPilot lacks Slack's `files:write` permission (an admin can "
                 "reinstall the app from its current manifest). Every number is above.")
FAILED_NOTE = "📉 The chart could not be uploaded this time. Every number is above."


def share_chart(svc: Services, view: StatsView, *, user: str | None = None,
                channel: str | None = None, thread_ts: str | None = None) -> str:
    """Upload the window's chart to ``channel`` (or the DM with ``user``). Returns a line
    saying where it went or why it did not; the numbers never depend on it."""
    if not view.opened:
        return ""  # nothing to draw: the text says "no sessions yet"
    try:
        png = chart_png(view)
        svc.notifier.upload_file(
            content=png, filename=f"flowpilot-stats-{view.window}-{view.until}.png",
            title=chart_title(view), channel=channel, user=None if channel else user,
            thread_ts=thread_ts,
            alt_txt=(f"Sessions opened per day from {view.since} to {view.until}, by outcome, "
                     f"and the CSAT distribution"))
    except SlackError as exc:
        log.warning("stats chart not uploaded (%s): %s", exc.code or "upload failed", exc.message)
        return NO_SCOPE_NOTE if exc.code == "missing_scope" else FAILED_NOTE
    except Exception:
        log.exception("stats chart could not be drawn")
        return FAILED_NOTE
    return "" if channel else "📈 The chart is in your messages with FlowPilot."
