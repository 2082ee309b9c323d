"""The table of providers: the one place that knows every dialect.

Adding a dialect is one module implementing `Provider` (`base.py`) and one line here; the
provider builds its own connections from the settings (`Provider.connections`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from wayline.core import errors
from wayline.core.settings import Settings
from wayline.core.state import Core
from wayline.providers.base import Provider
from wayline.providers.connections import Connection
from wayline.providers.ollama import OllamaProvider
from wayline.providers.openai import OpenAIProvider
from wayline.providers.pipes import PipeProvider

# In model-list order: a name listed by an earlier provider wins (pipes, then OpenAI, then Ollama).
PROVIDERS: tuple[Callable[[Core], Provider], ...] = (PipeProvider, OpenAIProvider, OllamaProvider)


class Providers:
    """One instance of each provider, looked up by the `kind` of a connection or model entry."""

    def __init__(self, core: Core) -> None:
        self._by_kind: dict[str, Provider] = {}
        for build in PROVIDERS:
            provider = build(core)
            self._by_kind[provider.kind] = provider

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._by_kind.values())

    def connections(self, settings: Settings) -> list[Connection]:
        """Every provider's connections, in the providers' order."""
        return [conn for provider in self for conn in provider.connections(settings)]

    def of(self, kind: str) -> Provider:
        provider = self._by_kind.get(kind)
        if provider is None:  # a model entry always comes from a provider in this table
            raise errors.ServiceUnavailable(f"No provider serves models of kind '{kind}'")
        return provider
