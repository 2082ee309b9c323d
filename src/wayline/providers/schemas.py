"""Wire models of the providers' admin reads: `GET /api/v1/connections/health`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ConnectionRef(BaseModel):
    """Which connection: as configured (`OPENAI_API_BASE_URLS`, ...), without its key."""

    kind: str
    index: int
    url: str
    weight: float


class DeploymentHealth(BaseModel):
    """One model on one connection. `requests`, `failures`, `error_rate`, `p50_latency_ms` and
    `in_flight` are this process's traffic over the last minute; the cooldown is every
    process's."""

    connection: ConnectionRef
    model: str
    upstream_model: str
    state: Literal["healthy", "cooling_down"]
    requests: int
    failures: int
    error_rate: float
    p50_latency_ms: float | None
    in_flight: int
    cooldown_until: float | None  # Unix seconds
    cooldown_reason: Literal["failures", "refused"] | None
    last_error: str | None


class ConnectionsHealth(BaseModel):
    strategy: str
    cooldown_seconds: float
    deployments: list[DeploymentHealth]
