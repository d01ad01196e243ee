"""Where replicas' Python comes from: the agent's own interpreter, or one virtualenv per distinct
requirements file (by its hash), built once and reused.

A built environment sees ``flotilla`` through a ``.pth`` file (the runtime needs only the
standard library), and the model's requirements from its own site-packages.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import flotilla


class EnvironmentError(Exception):
    """The requirements could not be installed; the message carries pip's last lines."""


class Environments:
    def __init__(self, home: Path) -> None:
        self.root = home / "envs"
        self._locks: dict[str, asyncio.Lock] = {}

    async def python_for(self, package: Path, requirements: str | None) -> str:
        """The interpreter a replica of ``package`` runs with (built on first use)."""
        if not requirements or not (package / requirements).exists():
            return sys.executable
        text = (package / requirements).read_bytes()
        key = hashlib.sha256(text).hexdigest()[:16]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            env = self.root / key
            python = env / "bin" / "python"
            if (env / ".ready").exists():
                return str(python)
            await asyncio.to_thread(self._build, env, package / requirements)
            return str(python)

    def _build(self, env: Path, requirements: Path) -> None:
        if env.exists():
            shutil.rmtree(env)
        env.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True)
        python = env / "bin" / "python"
        done = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "-r",
                str(requirements),
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            shutil.rmtree(env, ignore_errors=True)
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
            raise EnvironmentError(f"pip could not install the requirements:\n{tail}")
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        source = Path(flotilla.__file__).resolve().parent.parent
        (Path(site) / "flotilla_runtime.pth").write_text(str(source) + "\n")
        (env / ".ready").write_text(sysconfig.get_python_version())
