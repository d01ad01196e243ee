"""Replica logs: agents ship lines; users read and follow them per deployment.

Kept as one file per replica under ``$FLOTILLA_HOME/logs/replicas``, each line prefixed with its
time and stream; bounded in size (the oldest half is dropped when a file passes the limit).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from flotilla.settings import Settings

MAX_FILE_BYTES = 8 << 20
SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class LogLine:
    replica_id: str
    time: float
    stream: str
    text: str


def log_file(settings: Settings, replica_id: str) -> Path:
    """Where a replica's lines are kept."""
    if not SAFE.match(replica_id):
        raise ValueError(f"not a replica id: {replica_id!r}")
    return settings.logs_dir / "replicas" / f"{replica_id}.log"


def append(settings: Settings, lines: list[LogLine]) -> None:
    by_replica: dict[str, list[LogLine]] = {}
    for line in lines:
        by_replica.setdefault(line.replica_id, []).append(line)
    for replica_id, batch in by_replica.items():
        path = log_file(settings, replica_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            for line in batch:
                f.write(
                    json.dumps({"t": line.time, "s": line.stream, "m": line.text[:10_000]}) + "\n"
                )
        if path.stat().st_size > MAX_FILE_BYTES:
            data = path.read_bytes()
            path.write_bytes(data[len(data) // 2 :].split(b"\n", 1)[-1])


def read(
    settings: Settings, replica_ids: list[str], *, since: float = 0.0, limit: int = 1000
) -> list[LogLine]:
    """Lines of these replicas after ``since``, oldest first, at most ``limit`` (the newest)."""
    found: list[LogLine] = []
    for replica_id in replica_ids:
        path = log_file(settings, replica_id)
        if not path.exists():
            continue
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry["t"] > since:
                found.append(LogLine(replica_id, entry["t"], entry["s"], entry["m"]))
    found.sort(key=lambda line: (line.time, line.replica_id))
    return found[-limit:]
