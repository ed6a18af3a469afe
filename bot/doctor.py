"""``flowpilot doctor``: check configuration, database, Slack and flows; one line each."""

from __future__ import annotations

from bot.config import Settings


def model_line(settings: Settings) -> tuple[bool, str]:
    """The Anthropic check (i10's part): model exists, request shape, one minimal call."""
    from bot.engines.check import check_model

    assert settings.anthropic_api_key is not None
    return check_model(settings.anthropic_api_key.get_secret_value(), settings.ai_model,
                       base_url=settings.anthropic_base_url, effort=settings.ai_effort,
                       cache_ttl=settings.ai_cache_ttl)


def doctor(settings: Settings) -> int:
    from sqlalchemy import text

    from bot.flows.loader import load_library
    from bot.notify import Notifier, make_web_client
    from storage.db import make_engine
    from storage.migrate import current_revision, head_revision

    failures = 0

    def line(ok: bool, what: str) -> None:
        nonlocal failures
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {what}")

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev = current_revision(engine)
        line(rev == head_revision(), f"database schema at {rev or 'nothing'} (head {head_revision()})")
    except Exception as exc:
        line(False, f"database unreachable: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    if settings.slack_bot_token:
        client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        try:
            auth = Notifier(client).auth_test()
            line(True, f"Slack token accepted (team {auth.get('team')}, bot {auth.get('user_id')})")
        except Exception as exc:
            line(False, f"Slack: {exc}")
    else:
        line(False, "SLACK_BOT_TOKEN is not set")
    if settings.ai_enabled and settings.anthropic_api_key is not None:
        line(*model_line(settings))
    else:
        print("info model engine: offline flows (no ANTHROPIC_API_KEY)")
    library = load_library([settings.flows_dir] if settings.flows_dir else [])
    line(not library.problems, f"{len(library)} flows loaded, {len(library.problems)} problem(s)")
    return 1 if failures else 0
