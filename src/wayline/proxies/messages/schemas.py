"""The Anthropic Messages request body: the fields Wayline reads are typed, the rest passes
through untouched."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MessagesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Any]
    max_tokens: int | None = Field(default=None, ge=1)
    system: str | list[Any] | None = None
    stream: bool | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CountTokensRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Any]

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)
