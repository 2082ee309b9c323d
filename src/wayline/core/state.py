"""What the lifespan builds once and every domain shares."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from wayline.core.bus import Bus
from wayline.core.db import Database
from wayline.core.http import UpstreamClient
from wayline.core.runtime_config import RuntimeConfig
from wayline.core.settings import Settings


@dataclass
class Core:
    settings: Settings
    db: Database
    bus: Bus
    http: UpstreamClient
    runtime_config: RuntimeConfig


def get_core(request: Request) -> Core:
    return request.app.state.core
