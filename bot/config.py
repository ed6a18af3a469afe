"""Settings from the environment (and a ``.env`` file), exactly as CONTRACTS.md lists them.

Workspace settings (``account_settings``) override the ``FLOWPILOT_*`` defaults per workspace;
see ``bot.services.settings``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

DEFAULT_MODEL = "claude-sonnet-5-5"
QUEUE_POOL_SIZE = 20  # queue mode's default connection budget of a `serve` process
# ... and of a `worker`: procrastinate's 3 and 5 for the turns' short transactions. A worker
# runs Python on one interpreter: more transactions at once than it can run only make its
# threads (and its job loop) wait longer for the GIL. benchmarks/scale_out.py, 1 worker x 64
# threads on 2 cores: budget 7 -> 76 %, 8 -> 73 %, 10 -> 70 %, 16 -> 60 % of the model limit.
WORKER_POOL_SIZE = 8

Mode = Literal["run", "serve", "scheduler", "jobs", "doctor", "db", "try", "flows"]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    # Many workspaces: the public URL of /slack/oauth_redirect (one of the app's redirect URLs;
    # when unset, Slack uses the app's first one).
    slack_redirect_uri: str | None = Field(default=None, alias="SLACK_REDIRECT_URI")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    database_url: str = Field(default="sqlite:///flowpilot.db", alias="FLOWPILOT_DATABASE_URL")
    ai_model: str = Field(default=DEFAULT_MODEL, alias="FLOWPILOT_AI_MODEL")
    # Effort of a chat turn (docs/claude.md: "low" keeps a turn quick; a workspace may raise it).
    ai_effort: Literal["low", "medium", "high", "xhigh", "max"] = Field(
        default="low", alias="FLOWPILOT_AI_EFFORT")
    # Prompt cache lifetime; 1h outlives a technician's pause between turns (measured in
    # benchmarks/prompt_cache.py).
    ai_cache_ttl: Literal["5m", "1h"] = Field(default="1h", alias="FLOWPILOT_AI_CACHE_TTL")
    escalation_channel: str | None = Field(default=None, alias="FLOWPILOT_ESCALATION_CHANNEL")
    nudge_after_minutes: int = Field(default=30, ge=1, alias="FLOWPILOT_NUDGE_AFTER_MINUTES")
    park_after_minutes: int = Field(default=240, ge=1, alias="FLOWPILOT_PARK_AFTER_MINUTES")
    abandon_after_days: int = Field(default=7, ge=1, alias="FLOWPILOT_ABANDON_AFTER_DAYS")
    escalation_sla_minutes: int = Field(
        default=15, ge=1, alias="FLOWPILOT_ESCALATION_SLA_MINUTES"
    )
    flows_dir: str | None = Field(default=None, alias="FLOWPILOT_FLOWS_DIR")
    secret_key: SecretStr | None = Field(default=None, alias="FLOWPILOT_SECRET_KEY")
    # Operational knobs beyond the contract (documented in the README).
    workers: int = Field(default=32, ge=1, le=512, alias="FLOWPILOT_WORKERS")
    log_level: str = Field(default="INFO", alias="FLOWPILOT_LOG_LEVEL")
    # inline: run/serve hand turns to a worker process of their own on this host;
    # thread: on the acking process's own threads; queue: `flowpilot worker` processes.
    work_mode: Literal["inline", "thread", "queue"] = Field(
        default="inline", alias="FLOWPILOT_WORK_MODE")
    worker_nice: int = Field(default=10, ge=0, le=19, alias="FLOWPILOT_WORKER_NICE")
    db_pool_size: int | None = Field(default=None, ge=2, le=1000, alias="FLOWPILOT_DB_POOL_SIZE")
    # Queue mode: a worker whose heartbeat is older than this is gone; its jobs run again.
    worker_stalled_after: float = Field(default=30.0, ge=2, le=3600,
                                        alias="FLOWPILOT_WORKER_STALLED_AFTER")
    db_pool_timeout: float = Field(default=30.0, gt=0, le=600, alias="FLOWPILOT_DB_POOL_TIMEOUT")

    @property
    def pool_size(self) -> int:
        """Connections a process keeps (opened on demand). Inline: one per thread that may
        hold one at once (the turn workers, plus the ack and job threads), plus 10 overflow.
        Queue mode: the process's whole budget (docs/deploy.md, "Connection budget"), a
        worker's procrastinate pool included; a thread that finds none free waits for one
        (``FLOWPILOT_DB_POOL_TIMEOUT``), so many threads share few connections (a turn holds
        one only between its model calls)."""
        if self.work_mode == "queue":
            return self.db_pool_size or QUEUE_POOL_SIZE
        return self.db_pool_size or max(20, self.workers + 8)

    def pool_budget(self, mode: str) -> int:
        """``pool_size`` of a process in ``mode`` (a queue-mode worker's default is smaller)."""
        if self.work_mode == "queue" and mode == "worker":
            return self.db_pool_size or WORKER_POOL_SIZE
        return self.pool_size

    @field_validator("slack_api_url")
    @classmethod
    def _slash(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("ai_effort", "ai_cache_ttl", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        level = v.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @property
    def many_workspaces(self) -> bool:
        """Install by OAuth into any workspace (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)."""
        secret = self.slack_client_secret
        return bool(self.slack_client_id) and secret is not None and bool(
            secret.get_secret_value())

    @property
    def ai_enabled(self) -> bool:
        key = self.anthropic_api_key
        return key is not None and bool(key.get_secret_value().strip())

    def require_for(self, mode: Mode) -> None:
        """Refuse to start a mode whose required values are missing, in one line."""
        needs: list[tuple[str, object]] = []
        if mode == "run":
            needs = [("SLACK_BOT_TOKEN", self.slack_bot_token), ("SLACK_APP_TOKEN", self.slack_app_token)]
        elif mode == "serve":
            needs = [("SLACK_SIGNING_SECRET", self.slack_signing_secret)]
            if not self.slack_client_id:
                needs.append(("SLACK_BOT_TOKEN", self.slack_bot_token))
            else:
                needs.append(("SLACK_CLIENT_SECRET", self.slack_client_secret))
        elif mode in ("scheduler", "jobs") and not self.slack_client_id:
            needs = [("SLACK_BOT_TOKEN", self.slack_bot_token)]
        if self.slack_client_id and mode in ("serve", "scheduler", "jobs") and not (
            self.secret_key and self.secret_key.get_secret_value().strip()
        ):
            raise ConfigError("FLOWPILOT_SECRET_KEY is not set: installing in many workspaces "
                              "(SLACK_CLIENT_ID) stores tokens encrypted with it "
                              "(make one with `flowpilot secrets new-key`)")
        if self.work_mode == "queue" and not self.database_url.startswith("postgresql"):
            raise ConfigError("FLOWPILOT_WORK_MODE=queue needs PostgreSQL (FLOWPILOT_DATABASE_URL)")
        for name, value in needs:
            if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
                raise ConfigError(f"{name} is not set: flowpilot {mode} needs it (see README, Configure)")


def load_settings(*, env_file: str | None = ".env", **overrides: object) -> Settings:
    """Build settings, turning a validation failure into one readable line naming the variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[arg-type,call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "?"
        alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
        raise ConfigError(f"{alias or field} is malformed: {err['msg']}") from None
