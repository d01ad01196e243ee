"""A real ``flotilla server`` for a benchmark: its own temp home, port and (for PostgreSQL) its
own database, pinned to a core of its own, stopped by its PID at the end."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Server:
    pid: int
    url: str
    token: str
    home: Path
    database_url: str

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process, all its threads included."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_split() -> tuple[frozenset[int], frozenset[int]]:
    """(server cpus, load generator cpus): the last core for the server, the rest for the load.
    On a single core both share it."""
    if not hasattr(os, "sched_getaffinity"):
        return frozenset(), frozenset()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return frozenset(cpus), frozenset(cpus)
    return frozenset(cpus[-1:]), frozenset(cpus[:-1])


def machine_busy() -> int:
    """Busy clock ticks of all cores together (user, nice, system, irq, softirq), /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return sum(values) - values[3] - values[4]  # less idle and iowait


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(
    database_url: str | None,
    cpus: frozenset[int],
    extra_env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[Server]:
    """Start ``flotilla server`` with a fresh FLOTILLA_HOME; stop it by PID when done. The
    caller's FLOTILLA_* variables are not passed on; ``extra_env`` is."""
    with tempfile.TemporaryDirectory(prefix="flotilla-bench-") as tmp:
        home = Path(tmp)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOTILLA_")}
        env["FLOTILLA_HOME"] = str(home)
        if database_url:
            env["FLOTILLA_DATABASE_URL"] = database_url
        env.update(extra_env or {})
        command = [sys.executable, "-m", "flotilla.cli.main", "server", "--port", str(port)]
        command += ["--log-level", "warning"]
        log = (home / "server.log").open("wb")

        def pin() -> None:
            if cpus:
                os.sched_setaffinity(0, cpus)

        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin
        )
        try:
            yield _wait_ready(
                process, home, port, database_url or f"sqlite:///{home / 'flotilla.db'}", timeout
            )
        finally:
            _stop(process)
            log.close()


def _wait_ready(
    process: subprocess.Popen[bytes], home: Path, port: int, database_url: str, timeout: float
) -> Server:
    deadline = time.monotonic() + timeout
    credentials = home / "credentials"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (home / "server.log").read_text(errors="replace")
            raise RuntimeError(f"flotilla server exited with {process.returncode}:\n{output}")
        if credentials.exists():
            with contextlib.suppress(OSError, urllib.error.URLError, tomllib.TOMLDecodeError):
                values = tomllib.loads(credentials.read_text())
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        url = f"http://127.0.0.1:{port}"
                        return Server(process.pid, url, values["token"], home, database_url)
        time.sleep(0.1)
    raise RuntimeError(f"flotilla server not ready after {timeout:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's PID, then SIGKILL if it has not gone within 10 s."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def seed_clusters(server: Server, ids: Sequence[str]) -> None:
    """Insert compute clusters straight into the server's database, owned by the admin and bound
    to the admin's token: the rows ``POST /v1/compute_clusters`` writes, without their events.
    Only to make 10,000 objects quickly; creates are measured through the API."""
    import sqlalchemy as sa

    from flotilla.services.tokens import lookup_of
    from flotilla.store.tables import ClusterRow, TokenRow

    engine = sa.create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            token_pk, user_pk = conn.execute(
                sa.select(TokenRow.pk, TokenRow.user_pk).where(
                    TokenRow.lookup == lookup_of(server.token)
                )
            ).one()
            now = datetime.now(UTC)
            rows = [
                {
                    "id": cluster_id,
                    "owner_pk": user_pk,
                    "description": "bench cluster",
                    "cluster_type": "dedicated",
                    "cloud_provider": "aws",
                    "region": "us-east-1",
                    "token_pk": token_pk,
                    "managed_by": "flotilla",
                    "created_at": now,
                    "modified_at": now,
                }
                for cluster_id in ids
            ]
            if rows:
                conn.execute(sa.insert(ClusterRow), rows)
    finally:
        engine.dispose()


@contextlib.contextmanager
def py_spy(pid: int, output: Path | None) -> Iterator[None]:
    """Record a flame graph (SVG) of process ``pid`` while the block runs; nothing if no output.
    Sampling is non-blocking, but it still costs the server some CPU: figures measured while
    profiling are lower than without."""
    if output is None:
        yield
        return
    exe = shutil.which("py-spy")
    if exe is None:
        raise RuntimeError("--profile needs py-spy on PATH: pip install py-spy")
    command = [exe, "record", "--pid", str(pid), "--output", str(output), "--nonblocking"]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # attach before the load starts
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()


@contextlib.contextmanager
def postgres_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh database ``name`` (dropped first if a previous run left it); dropped at the end.
    Yields its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            return str(row[0]) if row else None
    except Exception:
        return None


def machine(admin_url: str | None) -> dict[str, object]:
    """What the figures were measured on."""
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    packages = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "pydantic", "aiosqlite", "psycopg")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        # 1, 5 and 15 minutes, taken at the end of the run: other work shares these cores
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version(admin_url) if admin_url else None,
        "packages": {p: _version(p) for p in packages},
        "source": source_revision(),
    }


def source_revision() -> dict[str, object]:
    """The commit measured, and whether the working tree differed from it (read-only git)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {
        "commit": git("rev-parse", "HEAD"),
        "src_modified": bool(status) if status is not None else None,
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
