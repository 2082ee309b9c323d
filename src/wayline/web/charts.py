"""A bar chart's geometry, computed here and drawn as SVG by `templates/_chart.html`: no chart
library to ship, and no inline style (the CSP forbids it; SVG attributes are not styles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WIDTH = 640
HEIGHT = 200
LEFT = 48  # room for the value labels
BOTTOM = 22  # room for the day labels
TOP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    show_label: bool


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    top: int  # the value the full height stands for
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above `value` (an axis that reads well)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(points: list[tuple[str, int]], label_every: int = 1) -> Chart:
    """Bars for `points` (label, value) in order, scaled to the largest value."""
    top = nice_top(max((value for _, value in points), default=0) or 1)
    plot_width = WIDTH - LEFT
    plot_height = HEIGHT - BOTTOM - TOP
    slot = plot_width / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        height = plot_height * value / top
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(LEFT + i * slot + slot * 0.1, 2),
                y=round(HEIGHT - BOTTOM - height, 2),
                width=round(slot * 0.8, 2),
                height=round(height, 2),
                show_label=(len(points) - 1 - i) % label_every == 0,
            )
        )
    return Chart(bars=bars, top=top)


def days(last: datetime, count: int) -> list[str]:
    """The `count` UTC days up to `last`'s, oldest first, as YYYY-MM-DD."""
    day = last.astimezone(UTC).date()
    return [(day - timedelta(days=count - 1 - i)).isoformat() for i in range(count)]
