"""Fixtures: replica processes and small model packages built in ``tmp_path``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runtime.replicas import Replica


@pytest.fixture
def replica() -> Iterator[Callable[..., Replica]]:
    """Start replicas: ``replica(package, entrypoint, *args)``; all are killed at the end."""
    started: list[Replica] = []

    def start(
        package: Path, entrypoint: str = "model.py:M", *args: str, **kwargs: object
    ) -> Replica:
        started.append(Replica(package, entrypoint, *args, **kwargs))  # type: ignore[arg-type]
        return started[-1]

    yield start
    for one in started:
        one.stop()


@pytest.fixture
def package(tmp_path: Path) -> Callable[[str], Path]:
    """A package folder holding ``model.py`` with the given source (dedented)."""
    count = 0

    def make(source: str) -> Path:
        nonlocal count
        count += 1
        folder = tmp_path / f"package{count}"
        folder.mkdir()
        (folder / "model.py").write_text(textwrap.dedent(source))
        return folder

    return make
