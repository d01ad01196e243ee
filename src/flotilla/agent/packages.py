"""The agent's package cache: each model package fetched once, checked, kept by its digest."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import yaml

from flotilla.agent.client import ServerClient
from flotilla.services.packages import package_path, unpack_package
from flotilla.settings import Settings


class PackageCache:
    def __init__(self, home: Path, client: ServerClient) -> None:
        self.settings = Settings(home=home)
        self.client = client
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, digest: str) -> Path:
        """The unpacked folder of the package ``digest``, downloading it the first time."""
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:
            folder = package_path(self.settings, digest)
            if folder.exists():
                return folder
            tmp = self.settings.home / "tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                archive = Path(scratch) / "package.tar.gz"
                await self.client.download(digest, archive)
                package = await asyncio.to_thread(unpack_package, archive, self.settings)
            if package.digest != digest:
                raise RuntimeError(
                    f"package digest mismatch: expected {digest}, got {package.digest}"
                )
            return package.path


def requirements_of(package: Path) -> str | None:
    """The requirements file a package names in model.yaml (or requirements.txt if present)."""
    manifest = yaml.safe_load((package / "model.yaml").read_text()) or {}
    named = manifest.get("requirements") if isinstance(manifest, dict) else None
    if isinstance(named, str):
        return named
    return "requirements.txt" if (package / "requirements.txt").exists() else None
