"""Flotilla: self-hosted compute orchestration for machine-learning models.

``flotilla.Client`` and ``flotilla.AsyncClient`` (the SDK) and ``flotilla.errors`` are loaded on
first use: importing ``flotilla`` itself loads nothing beyond the standard library, because
model replicas import ``flotilla.runtime`` where flotilla's dependencies may not be installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flotilla import errors
    from flotilla.client import AsyncClient, Client

__version__ = "0.1.0"
__all__ = ["AsyncClient", "Client", "__version__", "errors"]

_LAZY = {"Client": "flotilla.client", "AsyncClient": "flotilla.client"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "errors":
        return importlib.import_module("flotilla.errors")
    raise AttributeError(f"module 'flotilla' has no attribute {name!r}")
