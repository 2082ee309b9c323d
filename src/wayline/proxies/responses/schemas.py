"""The Responses API request body: the fields Wayline reads are typed, the rest passes through."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ResponsesRequest(BaseModel):
    """Open WebUI's `ResponsesForm`: `model` required, everything else as the client sent it."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[Any] | None = None
    instructions: str | None = None
    stream: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    tools: list[Any] | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
