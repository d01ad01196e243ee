"""The ``local`` provider: nodes are ``flotilla agent`` processes on this machine."""

from flotilla.providers.local.provider import LocalProvider

__all__ = ["LocalProvider"]
