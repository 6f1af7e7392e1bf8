"""Settings: embedded defaults, overridden by a TOML file and CONTACTHUB_* variables."""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from hub.errors import ConfigError


class Settings(BaseModel):
    """Everything the core reads; each plugin's section stays opaque to the core."""

    data_dir: Path = Path("var")
    database_url: str = ""
    broker_url: str = ""
    redis_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    internal_url: str = ""
    secret_key: str = ""
    session_hours: int = 12
    login_attempts_per_minute: int = 5
    upload_max_bytes: int = 10 * 1024 * 1024
    upload_types: list[str] = Field(
        default_factory=lambda: [
            "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
        ]
    )
    chat_idle_close_minutes: float = Field(default=30, gt=0)
    chat_idle_sweep_seconds: float = Field(default=60, gt=0)
    chat_idle_close_text: str = (
        "This chat was closed after a period of inactivity. Write again any time. / "
        "由于长时间没有新消息，本次会话已结束，欢迎随时再次咨询。"
    )
    run_jobs_in_process: bool = False
    """Run plugins' background jobs on the hub's own event loop instead of sending them to
    the Celery worker: for a hub embedded in one process (the channel conformance kit)."""
    default_locale: str = "en"
    timezone: str = "UTC"
    """The centre's time zone: where "today" begins for daily limits and agents' day sums."""
    routing: bool = True
    """Whether this process contends to run the router (a web process does; set False for a
    process that should only serve screens)."""
    capacity: dict[str, int] = Field(
        default_factory=lambda: {"voice": 1, "web": 3, "chat": 3, "wechat": 3, "email": 5, "*": 1})
    """Contacts an agent holds at once per channel, unless their own routing profile says;
    ``"*"`` covers the channels not named."""
    capacity_exclusive: list[str] = Field(default_factory=lambda: ["voice"])
    capacity_interruptible: list[str] = Field(default_factory=list)
    """Channels whose work an exclusive contact may arrive on top of (``["chat"]``: a call
    may interrupt chat work)."""
    wrap_up_seconds: float = Field(default=30, ge=0)
    adjust_warning_seconds: int = Field(default=600, gt=0)
    manual_wrap_up: bool = False
    state_sweep_seconds: float = Field(default=15, gt=0)
    missed_offer_alert: int = Field(default=3, ge=0)
    """Supervisors are alerted each time an agent's missed offers today reach a multiple of
    this; 0 never."""
    overdue_reminder_minutes: float = Field(default=10, ge=0)
    """How often an overdue leave or adjust is told again; 0 tells it once."""
    leader_retry_seconds: float = Field(default=1.0, gt=0)
    ticket_sweep_seconds: float = Field(default=60, gt=0)
    """How often the beat job looks for tickets near or past a deadline."""
    blocked_plugins: list[str] = Field(default_factory=list)
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def model_post_init(self, _context: Any) -> None:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'contacthub.sqlite'}"
        if not self.broker_url:
            self.broker_url = f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        if not self.internal_url:
            loopback = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            self.internal_url = f"http://{loopback}:{self.port}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def section(self, plugin: str) -> dict[str, Any]:
        """The plugin's own settings section (``[plugins.<name>]``), empty when absent."""
        return dict(self.plugins.get(plugin, {}))


ENV_PREFIX = "CONTACTHUB_"
STARTED_BY = "CONTACTHUB_STARTED_BY"
"""Set by ``contacthub run`` on the worker it starts: its own process id, so that the worker
stops when that process is gone, even killed, rather than run on beside the next one."""


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and overrides."""
    values: dict[str, Any] = {}
    path = path or _env_path()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"cannot read settings file {path}: {err}") from err
    for name in Settings.model_fields:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            values[name] = _parse_env(name, env)
    values.update(overrides)
    try:
        settings = Settings(**values)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {field!r}: {first['msg']}") from err
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.secret_key:
        settings.secret_key = _stored_secret(settings.data_dir)
    return settings


def _env_path() -> Path | None:
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    return Path(env) if env else None


def _parse_env(name: str, raw: str) -> Any:
    if name in ("blocked_plugins", "upload_types"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _stored_secret(data_dir: Path) -> str:
    """A random key kept under data_dir, so sessions and visitor tokens survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
