"""What a soak run observed: latency and status counts per operation, and every failure."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

BODY_LIMIT = 600  # characters of a response body kept in a failure


@dataclass(frozen=True)
class Failure:
    kind: str  # 5xx | transport | status | cross_user | lost | orphan | revoked_key | ...
    op: str
    detail: str

    def render(self) -> str:
        return f"[{self.kind}] {self.op}: {self.detail}"


@dataclass
class Metrics:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[Failure] = field(default_factory=list)

    def record(self, op: str, seconds: float, status: int) -> None:
        self.latencies[op].append(seconds)
        self.statuses[op][status] += 1

    def fail(self, kind: str, op: str, detail: str) -> None:
        self.failures.append(Failure(kind, op, detail))

    def by_kind(self) -> dict[str, list[Failure]]:
        grouped: dict[str, list[Failure]] = defaultdict(list)
        for failure in self.failures:
            grouped[failure.kind].append(failure)
        return dict(grouped)

    def table(self) -> str:
        lines = [
            f"{'operation':<24} {'count':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}  statuses"
        ]
        for op in sorted(self.latencies):
            data = sorted(self.latencies[op])
            statuses = " ".join(f"{code}:{n}" for code, n in sorted(self.statuses[op].items()))
            lines.append(
                f"{op:<24} {len(data):>7} {pct(data, 0.50):>9.1f} {pct(data, 0.99):>9.1f} "
                f"{data[-1] * 1000:>9.1f}  {statuses}"
            )
        return "\n".join(lines)


def pct(sorted_data: list[float], q: float) -> float:
    """The q-quantile in milliseconds (nearest rank) of already sorted seconds."""
    if not sorted_data:
        return float("nan")
    return sorted_data[min(len(sorted_data) - 1, int(q * len(sorted_data)))] * 1000


def clip(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"… ({len(text)} chars)"
