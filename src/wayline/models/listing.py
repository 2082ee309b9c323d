"""The filters of `GET /api/v1/models/list` (Open WebUI's workspace list): a search over the
name and base model, the caller's own or others' presets, a tag, an order, a page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from wayline.models.tables import ModelRow

PAGE_SIZE = 30  # Open WebUI's page
# What a listed preset says of its owner (Open WebUI's `UserResponse` subset).
OWNER_FIELDS = ("id", "name", "email", "role", "profile_image_url")


def tag_names(meta: dict[str, Any] | None) -> set[str]:
    """The tags of a model's `meta.tags` (`[{"name": ...}]`, or plain strings)."""
    names = set()
    for tag in (meta or {}).get("tags") or []:
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip():
            names.add(name.strip())
    return names


@dataclass(frozen=True)
class ListOptions:
    query: str | None = None
    view_option: Literal["created", "shared"] | None = None
    tag: str | None = None
    order_by: Literal["name", "created_at", "updated_at"] | None = None
    direction: Literal["asc", "desc"] | None = None
    page: int = 1

    def matches(self, row: ModelRow, user_id: str) -> bool:
        if self.query:
            needle = self.query.lower()
            if needle not in row.name.lower() and needle not in (row.base_model_id or "").lower():
                return False
        if self.view_option == "created" and row.user_id != user_id:
            return False
        if self.view_option == "shared" and row.user_id == user_id:
            return False
        return not self.tag or self.tag.lower() in {t.lower() for t in tag_names(row.meta)}

    def sorted(self, rows: list[tuple[ModelRow, bool]]) -> list[tuple[ModelRow, bool]]:
        """Newest change first unless an order is asked for (then descending unless `asc`)."""
        if self.order_by is None:
            return rows
        key: Any = {
            "name": lambda r: r[0].name.lower(),
            "created_at": lambda r: r[0].created_at,
            "updated_at": lambda r: r[0].updated_at,
        }[self.order_by]
        return sorted(rows, key=key, reverse=self.direction != "asc")
