"""What workspace-model checks ask of the merged model list.

The providers' `ModelRegistry` answers (it sits above this package and builds on its rows);
the models domain sees it only through this protocol, in the `AppState` under `CATALOG`.
"""

from __future__ import annotations

from typing import Protocol

from wayline.core.state import Slot
from wayline.users.schemas import UserInfo


class Catalog(Protocol):
    async def base_model_named(self, model_id: str) -> str | None:
        """The id of the upstream or pipe model `model_id` names, exactly or through Ollama's
        `:latest` alias; None when it names none."""
        ...

    async def has_model(self, model_id: str) -> bool:
        """Whether the merged list holds `model_id` (as listed, before access control)."""
        ...

    async def usable_by(self, model_id: str, user: UserInfo) -> bool:
        """Whether `user` may call `model_id` (as chat would resolve it)."""
        ...


CATALOG: Slot[Catalog] = Slot("model catalog")
