"""The providers this server can act through, by name."""

from __future__ import annotations

from collections.abc import Mapping

from flotilla.providers.base import Provider


class ProviderRegistry:
    def __init__(self, providers: Mapping[str, Provider] | None = None) -> None:
        self._providers: dict[str, Provider] = dict(providers or {})

    def add(self, provider: Provider) -> None:
        self._providers[provider.name] = provider

    def get(self, name: str) -> Provider | None:
        return self._providers.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._providers)

    def all(self) -> list[Provider]:
        return list(self._providers.values())
