"""A model folder as the tar.gz the server takes (``model.yaml`` at its root)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import yaml

from flotilla.errors import PackageInvalid

SKIPPED = frozenset({"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def archive(folder: Path) -> bytes:
    """The folder's files, gzipped (symbolic links are stored as the files they point at)."""
    if not (folder / "model.yaml").is_file():
        raise PackageInvalid(f"{folder} has no model.yaml: a model folder needs one at its root")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", dereference=True) as tar:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if SKIPPED.intersection(relative.parts) or path.suffix == ".pyc":
                continue
            if path.is_file():
                tar.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


def model_id(folder: Path) -> str:
    """The ``id`` in the folder's ``model.yaml``."""
    try:
        spec = yaml.safe_load((folder / "model.yaml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageInvalid(f"{folder} has no model.yaml") from None
    except yaml.YAMLError as error:
        raise PackageInvalid(f"{folder / 'model.yaml'} is not valid YAML: {error}") from None
    found = spec.get("id") if isinstance(spec, dict) else None
    if not isinstance(found, str) or not found:
        raise PackageInvalid(f"{folder / 'model.yaml'} has no id: add 'id: my-model'")
    return found


def read(path: Path) -> bytes:
    """A folder, packed; or a ready .tar.gz as it is."""
    if path.is_dir():
        return archive(path)
    return path.read_bytes()
