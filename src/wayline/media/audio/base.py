"""What every speech engine shares: the `Audio` value and one protocol per direction.

Engines (`openai.py`, ...) and their users import from here; the registry in `engines.py`
is the only module that knows every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Audio:
    data: bytes
    content_type: str


class Transcriber(Protocol):
    async def transcribe(
        self, audio: bytes, filename: str, content_type: str, language: str | None
    ) -> dict[str, Any]: ...


class Synthesizer(Protocol):
    async def synthesize(self, body: dict[str, Any]) -> Audio: ...

    def models(self) -> list[str]:
        """The engine's speech models (`GET /api/v1/audio/models`)."""
        ...

    def voices(self) -> list[str]:
        """The engine's voices (`GET /api/v1/audio/voices`)."""
        ...
