"""One line for every error a command can end in: the cause and the fix, never a traceback
(``--debug`` shows it). Database and Slack errors are unwrapped to what a person can act on."""

from __future__ import annotations

import re

from bot.errors import FlowPilotError

DEBUG_HINT = "run again with --debug for the details"


def explain(exc: BaseException, database_url: str | None = None) -> str:
    """The one line to print for ``exc`` (without the ``flowpilot:`` prefix)."""
    if isinstance(exc, FlowPilotError):
        return _one_line(exc.message)
    from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

    if isinstance(exc, DBAPIError | ArgumentError):
        return database_problem(exc, database_url)
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {_first(exc)} ({DEBUG_HINT})"
    from slack_sdk.errors import SlackApiError

    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", "unknown_error"))
        return f"Slack answered {error}: check the Slack tokens with `flowpilot doctor`"
    if isinstance(exc, OSError):
        return f"{exc.__class__.__name__}: {_first(exc)} ({DEBUG_HINT})"
    return f"unexpected {exc.__class__.__name__}: {_first(exc)} ({DEBUG_HINT})"


def database_problem(exc: BaseException, database_url: str | None = None) -> str:
    """Why the database failed, in words that name the fix. The URL is shown without its
    password."""
    text = _chain_text(exc)
    where = safe_url(database_url) if database_url else "FLOWPILOT_DATABASE_URL"
    lower = text.lower()
    missing = re.search(r'database "([^"]+)" does not exist', text)
    if missing:
        name = missing.group(1)
        return (f'the database "{name}" does not exist ({where}): create it '
                f"(`createdb {name}`) or fix FLOWPILOT_DATABASE_URL, then `flowpilot db upgrade`")
    if "connection refused" in lower or "could not connect" in lower or "connection timed out" in lower:
        return (f"the database server refused the connection ({where}): start PostgreSQL "
                "or fix the host and port in FLOWPILOT_DATABASE_URL")
    if "password authentication failed" in lower or "no pg_hba.conf entry" in lower:
        return (f"the database refused the login ({where}): fix the user and password "
                "in FLOWPILOT_DATABASE_URL")
    if "role" in lower and "does not exist" in lower:
        return (f"the database user does not exist ({where}): create it or fix the user "
                "in FLOWPILOT_DATABASE_URL")
    if "unable to open database file" in lower:
        return (f"the SQLite file cannot be opened ({where}): its folder is missing or not "
                "writable; create the folder or fix FLOWPILOT_DATABASE_URL")
    if "no such table" in lower or ("relation" in lower and "does not exist" in lower):
        return f"the database has no FlowPilot schema ({where}): run `flowpilot db upgrade`"
    if "database is locked" in lower:
        return (f"the SQLite file is locked by another process ({where}): stop it, or use "
                "PostgreSQL for more than one process")
    if "could not parse" in lower or "can't load plugin" in lower:
        return (f"FLOWPILOT_DATABASE_URL is not a database URL ({where}): use "
                "sqlite:///path.db or postgresql+psycopg://user@host/db")
    return f"database error ({where}): {_first_of(text)} ({DEBUG_HINT})"


def safe_url(url: str) -> str:
    """The URL with any password masked (it is printed)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _chain_text(exc: BaseException) -> str:
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(str(cur))
        orig = getattr(cur, "orig", None)
        if isinstance(orig, BaseException):
            parts.append(str(orig))
        cur = cur.__cause__ or cur.__context__
    return "\n".join(parts)


def _first(exc: BaseException) -> str:
    return _first_of(str(exc)) or exc.__class__.__name__


def _first_of(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("(Background on this error"):
            return line[:300]
    return ""


def _one_line(message: str) -> str:
    return " ".join(message.split())
