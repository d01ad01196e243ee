"""Replicas as real processes: ``python -m flotilla.runtime`` on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SRC = REPO / "src"
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Replica:
    """One replica process; its stdout and stderr lines are collected as they come."""

    def __init__(
        self,
        package: Path,
        entrypoint: str,
        *args: str,
        python: tuple[str, ...] = (sys.executable,),
        env: dict[str, str] | None = None,
    ) -> None:
        command = [*python, "-m", "flotilla.runtime", "--package", str(package)]
        command += ["--entrypoint", entrypoint, "--port", "0", *args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._closed = 0
        for stream, lines in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True).start()
        self.port = 0

    def _collect(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._closed += 1
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> object:
        """Wait until ``predicate()`` (called under the lock) is true, and return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; stderr:\n{self.log}")
                if self._closed == 2:
                    code = self.process.wait()
                    raise AssertionError(f"the replica exited with {code}; stderr:\n{self.log}")
                self._changed.wait(min(remaining, 0.05))
            return result

    def listening(self) -> Replica:
        """Wait until the server listens (before the model is loaded)."""

        def port() -> int:
            for line in self.stderr:
                if match := _LISTENING.search(line):
                    return int(match.group(1))
            return 0

        self.port = int(self.wait_for(port))  # type: ignore[call-overload]
        return self

    def ready(self) -> Replica:
        """Wait for the one stdout line that says the model is loaded."""
        self.listening()
        self.wait_for(lambda: any(line.startswith("ready on ") for line in self.stdout))
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "\n".join(self.stderr)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def exit_code(self, timeout: float = 5.0) -> int:
        """Wait for the process to exit and for all its output to be collected."""
        code = self.process.wait(timeout)
        with self._changed:
            self._changed.wait_for(lambda: self._closed == 2, timeout)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)


def stdlib_only_env() -> dict[str, str]:
    """Environment for ``python -S``: only ``src/`` importable, no site-packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(SRC)
    return env


class RawConnection:
    """A plain socket speaking HTTP/1.1 by hand: for keep-alive, pipelining and malformed
    requests, which an HTTP client would not send."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, self.file.read(int(headers.get("content-length", "0")))

    def closed_by_server(self) -> bool:
        """True when the server has closed its side (reading gives end of file)."""
        return self.file.read(1) == b""

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def post(path: str, body: bytes, headers: str = "") -> bytes:
    """A raw POST request with a Content-Length body."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: replica\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body
