"""All configuration in one object, read from ``FLOTILLA_*`` environment variables and passed in.

Nothing reads the environment at import time; ``Settings()`` is built once by the entry point.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOTILLA_", extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path.home() / ".flotilla",
        description="Folder for the SQLite database, credentials, model packages and logs.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default sqlite+aiosqlite:///$FLOTILLA_HOME/flotilla.db. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=1, le=65535)
    public_url: str | None = Field(None, description="URL clients use; default http://host:port")
    gateway_port: int = Field(8701, ge=1, le=65535)

    max_body_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON/YAML request body.")
    max_package_bytes: int = Field(100 << 20, ge=1024, description="Largest uploaded tar.gz.")
    max_package_unpacked_bytes: int = Field(
        512 << 20, ge=1024, description="Largest total size of a package's files once unpacked."
    )
    max_package_files: int = Field(10_000, ge=1)

    token_cache_seconds: float = Field(
        5.0, ge=0, description="How long a checked PAT is trusted before it is looked up again."
    )
    token_touch_seconds: float = Field(
        60.0, ge=0, description="How often last_used_at is written for a token in use."
    )

    shared_cluster_provider: str = Field("local", description="Provider of the shared cluster.")
    shared_cluster_region: str = "local"
    shared_nodepool_instance_types: list[str] = Field(
        default_factory=lambda: ["local-small", "local-medium"]
    )
    shared_nodepool_max_instances: int = Field(2, ge=1)

    admin_user: str = "admin"

    controllers: bool = Field(True, description="Run the controllers in this server process.")
    providers: list[str] = Field(
        default_factory=lambda: ["local"], description="Providers this server launches nodes with."
    )
    reconcile_interval_seconds: float = Field(
        2.0,
        gt=0,
        description="Longest wait between reconcile passes (API writes wake them at once).",
    )
    lease_seconds: float = Field(30.0, gt=0, description="How long a controller's claim lasts.")
    burst_window_seconds: float = Field(
        10.0, gt=0, description="Short window the autoscaler reacts to."
    )
    node_empty_seconds: float = Field(
        300.0, ge=0, description="How long an empty node stays when no deployment sets a delay."
    )
    node_lost_seconds: float = Field(30.0, gt=0, description="A node silent this long is lost.")
    node_register_timeout_seconds: float = Field(
        600.0, gt=0, description="A launched node whose agent has not registered by then is lost."
    )
    shortage_seconds: float = Field(
        600.0, ge=0, description="How long a 'no capacity' answer keeps a capacity type avoided."
    )
    orphan_sweep_seconds: float = Field(60.0, gt=0, description="How often providers are swept.")
    history_retention_seconds: float = Field(
        7 * 86_400.0,
        gt=0,
        description="Stopped replicas and terminated nodes are forgotten after this long.",
    )
    event_retention_seconds: float = Field(
        30 * 86_400.0, gt=0, description="Events are forgotten after this long."
    )
    agent_heartbeat_seconds: float = Field(5.0, gt=0, description="How often agents report in.")
    stop_nodes_on_exit: bool = Field(
        False,
        description="Stop this machine's local nodes when the server stops (`flotilla up` does).",
    )

    run_migrations: bool = Field(True, description="Upgrade the database schema at start.")

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.home / 'flotilla.db'}"

    @property
    def url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials"

    @property
    def packages_dir(self) -> Path:
        return self.home / "packages"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"
