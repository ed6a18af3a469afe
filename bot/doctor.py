"""``flowpilot doctor``: check every setting the chosen mode needs, one line each, with a live
call where one exists. It changes nothing: no database file is created, nothing is migrated,
no message is posted (``apps.connections.open`` only issues a URL nobody connects to).

Checks are plain functions ``(settings, mode) -> lines``; other features add theirs to
``EXTRA_CHECKS`` (see the marked place below).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.preflight import (
    APP_TOKEN_PAGE,
    BOT_TOKEN_PAGE,
    CHANNEL_ID,
    SIGNING_PAGE,
    check_app_token,
    offline_line,
    token_problems,
)


@dataclass(frozen=True)
class Line:
    status: str  # "ok", "FAIL", "warn" or "info"
    text: str


Check = Callable[[Settings, str], list[Line]]


def ok(text: str) -> Line:
    return Line("ok", text)


def fail(text: str) -> Line:
    return Line("FAIL", text)


def warn(text: str) -> Line:
    return Line("warn", text)


def info(text: str) -> Line:
    return Line("info", text)


def infer_mode(settings: Settings) -> str:
    """The mode the settings point at: Socket Mode when an app token is set, HTTP when only
    a signing secret is."""
    if settings.slack_app_token is None and settings.slack_signing_secret is not None:
        return "serve"
    return "run"


def check_mode(settings: Settings, mode: str) -> list[Line]:
    how = "Socket Mode" if mode == "run" else "HTTP"
    other = "serve" if mode == "run" else "run"
    return [info(f"checking the settings `flowpilot {mode}` needs ({how}); "
                 f"`flowpilot doctor --mode {other}` checks the other")]


def check_database(settings: Settings, mode: str) -> list[Line]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from bot.cli_errors import database_problem, safe_url
    from storage.db import make_engine
    from storage.migrate import current_revision, head_revision

    url = settings.database_url
    shown = safe_url(url)
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:" and not path.startswith("file:") and not Path(path).exists():
            return [fail(f"no database at {shown}: run `flowpilot db upgrade` to create it")]
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev, head = current_revision(engine), head_revision()
    except Exception as exc:
        return [fail(database_problem(exc, url))]
    finally:
        engine.dispose()
    if rev == head:
        return [ok(f"database {shown} at schema {rev} (latest)")]
    if rev is None:
        return [fail(f"database {shown} has no FlowPilot schema: run `flowpilot db upgrade`")]
    return [fail(f"database schema is behind ({rev}, latest {head}): run `flowpilot db upgrade`")]


def check_slack(settings: Settings, mode: str) -> list[Line]:
    from bot.notify import Notifier, make_web_client

    lines = [fail(p) for p in token_problems(settings)]
    if lines:
        return lines
    bot = settings.slack_bot_token
    if bot is None or not bot.get_secret_value():
        if mode == "serve" and settings.slack_client_id:
            lines.append(info("no SLACK_BOT_TOKEN: tokens come from OAuth installs"))
        else:
            lines.append(fail(f"SLACK_BOT_TOKEN is not set: copy it from {BOT_TOKEN_PAGE}"))
    else:
        client = make_web_client(bot.get_secret_value(), settings.slack_api_url)
        try:
            auth = Notifier(client).auth_test()
            lines.append(ok(f"SLACK_BOT_TOKEN accepted by auth.test (team {auth.get('team')}, "
                            f"bot user {auth.get('user_id')})"))
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code is None:
                lines.append(fail(offline_line(settings)))
            else:
                lines.append(fail(f"Slack refused SLACK_BOT_TOKEN ({code}): copy a current one "
                                  f"from {BOT_TOKEN_PAGE}"))
    if mode == "run":
        live = check_app_token(settings)
        lines.append(Line("ok" if live.ok else "FAIL", live.text))
    else:
        secret = settings.slack_signing_secret
        if secret is None or not secret.get_secret_value().strip():
            lines.append(fail(f"SLACK_SIGNING_SECRET is not set: flowpilot serve needs it "
                              f"({SIGNING_PAGE})"))
        else:
            lines.append(ok("SLACK_SIGNING_SECRET is set (Slack checks it on the first request)"))
        if settings.slack_app_token is not None:
            lines.append(info(f"SLACK_APP_TOKEN is set but unused by serve ({APP_TOKEN_PAGE})"))
    return lines


def check_escalation_channel(settings: Settings, mode: str) -> list[Line]:
    from slack_sdk.errors import SlackApiError

    from bot.notify import make_web_client

    channel = (settings.escalation_channel or "").strip()
    if not channel:
        return [warn("FLOWPILOT_ESCALATION_CHANNEL is not set: escalations need a channel "
                     "(set it, or `/flowpilot settings set escalation_channel #channel`)")]
    if not CHANNEL_ID.fullmatch(channel):
        return [fail(f"FLOWPILOT_ESCALATION_CHANNEL={channel!r} is not a channel id: use the "
                     "id (C… or G…, in Slack: open the channel → its name → About, at the bottom)")]
    bot = settings.slack_bot_token
    if bot is None or not bot.get_secret_value() or token_problems(settings):
        return [info(f"escalation channel {channel} not checked (no usable SLACK_BOT_TOKEN)")]
    client = make_web_client(bot.get_secret_value(), settings.slack_api_url)
    try:
        found = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        if error == "channel_not_found":
            return [fail(f"escalation channel {channel} is not visible to the bot: check the id, "
                         "and for a private channel `/invite @FlowPilot` in it")]
        if error == "missing_scope":
            return [warn(f"escalation channel {channel} not checked: the app lacks "
                         f"{exc.response.get('needed') or 'channels:read'}; reinstall it")]
        return [fail(f"escalation channel {channel}: Slack answered {error}")]
    except Exception:
        return [fail(offline_line(settings))]
    name = found.get("name") or channel
    if found.get("is_archived"):
        return [fail(f"escalation channel #{name} ({channel}) is archived: pick another")]
    if not found.get("is_member"):
        return [fail(f"the bot is not in the escalation channel #{name} ({channel}): "
                     "`/invite @FlowPilot` there")]
    return [ok(f"escalation channel #{name} ({channel}) visible, bot is a member")]


def model_line(settings: Settings) -> tuple[bool, str]:
    """The Anthropic check: the model exists, the request shape it will get, one minimal
    structured call (``bot.engines.check``)."""
    from bot.engines.check import check_model

    assert settings.anthropic_api_key is not None
    return check_model(settings.anthropic_api_key.get_secret_value(), settings.ai_model,
                       base_url=settings.anthropic_base_url, effort=settings.ai_effort,
                       cache_ttl=settings.ai_cache_ttl)


def check_engine(settings: Settings, mode: str) -> list[Line]:
    if settings.ai_enabled and settings.anthropic_api_key is not None:
        good, text = model_line(settings)
        return [ok(text) if good else fail(text)]
    return [info("model engine: offline flows (no ANTHROPIC_API_KEY)")]


def check_flows(settings: Settings, mode: str) -> list[Line]:
    from bot.flows.loader import load_library

    library = load_library([settings.flows_dir] if settings.flows_dir else [])
    problems = [str(p) for p in library.problems]
    summary = f"{len(library)} flows loaded, {len(problems)} problem(s)"
    if not problems:
        return [ok(summary)]
    return [fail(summary + ": `flowpilot flows check` shows them with file:line"),
            *[Line("    ", p) for p in problems]]



def check_psa(settings: Settings, mode: str) -> list[Line]:
    from sqlalchemy.engine import make_url

    from bot.cli_psa import doctor_line  # the PSA's line (issue 13)

    url = settings.database_url
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:" and not Path(path).exists():
            return [info("psa: not checked (no database yet)")]
    return [info(doctor_line(settings))]


CHECKS: list[Check] = [check_mode, check_database, check_slack, check_escalation_channel,
                       check_engine, check_flows]

# ---- hooks: features add their own live check here, one line each (kept last) ----------
# i10: the Anthropic model check (a live call with ANTHROPIC_API_KEY and FLOWPILOT_AI_MODEL).
# i13: the PSA line (ConnectWise credentials, webhook target).
EXTRA_CHECKS: list[Check] = [check_psa]


def doctor(settings: Settings, mode: str | None = None,
           checks: list[Check] | None = None) -> int:
    """Print one line per finding; exit 1 when any check failed."""
    chosen = mode or infer_mode(settings)
    failures = 0
    for check in checks if checks is not None else [*CHECKS, *EXTRA_CHECKS]:
        try:
            lines = check(settings, chosen)
        except Exception as exc:  # a broken check must not hide the others
            from bot.cli_errors import explain

            lines = [fail(f"{check.__name__}: {explain(exc, settings.database_url)}")]
        for line in lines:
            failures += line.status == "FAIL"
            print(f"{line.status:<4} {line.text}", flush=True)
    return 1 if failures else 0
