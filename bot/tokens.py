"""One token source for everything FlowPilot does in Slack.

Single-workspace mode (``SLACK_BOT_TOKEN``): that token, for every call. Many workspaces
(``SLACK_CLIENT_ID``): the workspace's bot token from the encrypted installation store, cached,
refreshed before it expires (token rotation), dropped on revoke or uninstall.

Which workspace a call is for travels with the work as a context variable (``acting_for``):
set for each Slack request (``handlers.tenancy``), each turn, each job's session, each queued
work item, and copied onto the worker threads that run them.

Token rotation (https://docs.slack.dev/authentication/using-token-rotation): an access token
expires 12 hours after it is issued; ``oauth.v2.access`` with ``grant_type=refresh_token``
returns a new access token and a new refresh token, and the old refresh token stops working.
So two processes must never refresh the same installation at once: the refresh runs inside a
transaction holding a per-installation lock (``pg_advisory_xact_lock`` on PostgreSQL; SQLite
takes its write lock at BEGIN), and re-reads the newest row before deciding to refresh.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Bot
from sqlalchemy import Engine, desc, select, text

from bot.clock import Clock, utcnow

if TYPE_CHECKING:
    from bot.installs import EncryptedInstallationStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# (team id, enterprise id) of the workspace the current work is for.
Workspace = tuple[str | None, str | None]
_current: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar(
    "flowpilot_workspace", default=None
)
# Slack errors meaning "this workspace's token is gone" (revoked, uninstalled, expired).
REFUSALS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "token_expired",
                      "not_authed", "not_installed", "team_access_not_granted"})
# Refresh this long before expiry (Bolt's ``token_rotation_expiration_minutes`` default: 120).
ROTATE_BEFORE = timedelta(minutes=120)
# A token that does not expire is re-read after this long (another process may have replaced
# it by a reinstall).
CACHE_FOR = timedelta(minutes=10)


def current() -> Workspace | None:
    return _current.get()


@contextlib.contextmanager
def acting_for(team_id: str | None, enterprise_id: str | None = None) -> Iterator[None]:
    """Slack calls made inside use this workspace's token."""
    token = _current.set((team_id, enterprise_id))
    try:
        yield
    finally:
        _current.reset(token)


def enter(team_id: str | None, enterprise_id: str | None = None) -> None:
    """Act for this workspace for the rest of the current context (a Slack request, which the
    server runs in a context of its own)."""
    _current.set((team_id, enterprise_id))


def carry(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` run in a copy of the current context (the workspace goes with work handed to
    another thread)."""
    return functools.partial(contextvars.copy_context().run, fn)


@dataclass
class Grant:
    """A workspace's bot token (and who the bot is there)."""

    token: str
    team_id: str | None
    enterprise_id: str | None
    bot_user_id: str | None = None
    bot_id: str | None = None
    expires_at: datetime | None = None
    fresh_until: datetime | None = None


class TokenSource:
    """Single-workspace when ``single_token`` is given; else reads ``store``."""

    def __init__(
        self, *, single_token: str | None = None, store: EncryptedInstallationStore | None = None,
        engine: Engine | None = None, client_id: str = "", client_secret: str = "",
        oauth_client: WebClient | None = None, clock: Clock = utcnow,
        rotate_before: timedelta = ROTATE_BEFORE,
    ) -> None:
        self.single_token = single_token
        self.store = store
        self.engine = engine
        self.client_id = client_id
        self.client_secret = client_secret
        self.oauth_client = oauth_client
        self.clock = clock
        self.rotate_before = rotate_before
        self._cache: dict[Workspace, Grant] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Workspace, threading.Lock] = {}
        self._refused: dict[Workspace, datetime] = {}  # until when a workspace is skipped
        self._missing_logged: set[Workspace] = set()
        self.on_refused: Callable[[str | None, str | None, str], None] | None = None

    @property
    def single(self) -> bool:
        return self.store is None

    # ── lookup ──────────────────────────────────────────────────────────────────────────
    def grant(self, team_id: str | None, enterprise_id: str | None = None,
              is_enterprise_install: bool = False) -> Grant | None:
        if self.store is None:
            if not self.single_token:
                return None
            return Grant(self.single_token, team_id, enterprise_id)
        key: Workspace = (None if is_enterprise_install else team_id, enterprise_id)
        now = self.clock()
        with self._lock:
            cached = self._cache.get(key)
        if self.is_refused(team_id, enterprise_id):
            return None
        if cached is not None and cached.fresh_until is not None and now < cached.fresh_until:
            return cached
        found = self._load(key, now)
        with self._lock:
            if found is None:
                self._cache.pop(key, None)
                if key not in self._missing_logged:
                    self._missing_logged.add(key)  # logged once per workspace and process
                    log.warning("no installation for workspace %s (enterprise %s)", *key)
            else:
                self._missing_logged.discard(key)
                self._cache[key] = found
        return found

    def token(self, team_id: str | None, enterprise_id: str | None = None) -> str | None:
        found = self.grant(team_id, enterprise_id)
        return found.token if found is not None else None

    def _load(self, key: Workspace, now: datetime) -> Grant | None:
        assert self.store is not None
        team_id, enterprise_id = key
        bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and enterprise_id is not None and team_id is not None:
            # A workspace of an Enterprise Grid org where the app is installed org-wide.
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=None,
                                      is_enterprise_install=True)
            key = (None, enterprise_id)
        if bot is None:
            return None
        if _expires(bot) is not None and _expires(bot) - now < self.rotate_before:  # type: ignore[operator]
            bot = self._rotate(key, now)
            if bot is None:
                return None
        return self._to_grant(bot, now)

    def _to_grant(self, bot: Bot, now: datetime) -> Grant:
        expires = _expires(bot)
        fresh = now + CACHE_FOR
        if expires is not None:
            fresh = min(fresh, expires - self.rotate_before)
        return Grant(token=str(bot.bot_token), team_id=bot.team_id,
                     enterprise_id=bot.enterprise_id, bot_user_id=bot.bot_user_id,
                     bot_id=bot.bot_id, expires_at=expires, fresh_until=fresh)

    # ── rotation ────────────────────────────────────────────────────────────────────────
    def _rotate(self, key: Workspace, now: datetime) -> Bot | None:
        assert self.store is not None and self.engine is not None
        with self._lock:
            local = self._key_locks.setdefault(key, threading.Lock())
        with local, self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(key)})
            bots = self.store.bots
            row = conn.execute(
                select(bots).where(bots.c.client_id == self.client_id,
                                   bots.c.enterprise_id == key[1], bots.c.team_id == key[0],
                                   bots.c.bot_token.is_not(None))
                .order_by(desc(bots.c.installed_at), desc(bots.c.id)).limit(1)
            ).mappings().first()
            if row is None:
                return None
            bot = self.store.build_bot_entity(row)
            expires = _expires(bot)
            if expires is None or expires - now >= self.rotate_before:
                return bot  # another process refreshed it while we waited for the lock
            if not bot.bot_refresh_token or self.oauth_client is None:
                return bot if expires > now else None
            try:
                resp = self.oauth_client.oauth_v2_access(
                    client_id=self.client_id, client_secret=self.client_secret,
                    grant_type="refresh_token", refresh_token=bot.bot_refresh_token,
                )
            except SlackApiError as exc:
                log.warning("token refresh for workspace %s failed: %s", key[0] or key[1],
                            exc.response.get("error"))
                return bot if expires > now else None
            fresh = Bot(
                app_id=bot.app_id, enterprise_id=bot.enterprise_id,
                enterprise_name=bot.enterprise_name, team_id=bot.team_id,
                team_name=bot.team_name, bot_token=str(resp["access_token"]),
                bot_refresh_token=str(resp["refresh_token"]),
                bot_token_expires_at=int(now.timestamp()) + int(resp["expires_in"]),
                bot_id=bot.bot_id,
                bot_user_id=bot.bot_user_id, bot_scopes=bot.bot_scopes,
                is_enterprise_install=bot.is_enterprise_install,
                installed_at=now.timestamp(),
            )
            conn.execute(bots.insert(), self.store.sealed_bot_row(fresh))
            log.info("refreshed the bot token of workspace %s", key[0] or key[1])
            return fresh

    # ── revocation ──────────────────────────────────────────────────────────────────────
    def forget(self, team_id: str | None, enterprise_id: str | None = None) -> None:
        """Drop cached tokens of a workspace (or of a whole org when team_id is None)."""
        with self._lock:
            for key in list(self._cache):
                if key == (team_id, enterprise_id) or (
                    team_id is None and enterprise_id is not None and key[1] == enterprise_id
                ):
                    self._cache.pop(key, None)
            self._refused = {k: v for k, v in self._refused.items()
                             if not (k[0] == team_id or (team_id is None and k[1] == enterprise_id))}

    def refused(self, team_id: str | None, enterprise_id: str | None, error: str) -> None:
        """Slack refused this workspace's token: stop using it here, and mark the workspace."""
        if self.single:
            return
        with self._lock:
            self._cache.pop((team_id, enterprise_id), None)
            first = (team_id, enterprise_id) not in self._refused
            # Skipped here for a while; a reinstall (in any process) is seen after that.
            self._refused[(team_id, enterprise_id)] = self.clock() + CACHE_FOR
        if first:
            log.warning("Slack refused the token of workspace %s (%s); skipping it", team_id,
                        error)
            if self.on_refused is not None:
                self.on_refused(team_id, enterprise_id, error)

    def is_refused(self, team_id: str | None, enterprise_id: str | None = None) -> bool:
        with self._lock:
            until = self._refused.get((team_id, enterprise_id))
            if until is not None and until <= self.clock():
                del self._refused[(team_id, enterprise_id)]
                return False
            return until is not None


def _expires(bot: Bot) -> datetime | None:
    at = getattr(bot, "bot_token_expires_at", None)
    if at is None:
        return None
    return datetime.fromtimestamp(int(at), UTC)


def _lock_key(key: Workspace) -> int:
    digest = hashlib.sha256(f"flowpilot-token:{key[0]}:{key[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
