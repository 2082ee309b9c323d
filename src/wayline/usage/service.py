"""Usage reports: the ledger's totals over a time range, grouped, for one user or (admins) all.

`from` and `to` are epoch seconds, both inclusive, and select calls by the time they started;
without `from` the report starts at the first record, without `to` it ends now (or at `from`).
Records reach the ledger up to a second after their call ends (`ledger.py`,
`USAGE_FLUSH_INTERVAL`), so a call that just finished may be missing for that second.
"""

from __future__ import annotations

import csv
import io
import time

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.core.clock import now
from wayline.usage.repository import DAY, GroupTotals, UsageRepository
from wayline.users.repository import UserRepository

OWN_GROUPS = ("model", "key", "day")
ALL_GROUPS = ("user", "key", "model", "day")
# The report's column for each grouping (CSV's first columns; the JSON row's fields).
_GROUP_COLUMNS = {
    "model": ("model",),
    "key": ("api_key_id",),
    "user": ("user_id", "name", "email"),
    "day": ("day",),
}
_TOTAL_COLUMNS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "errors",
    "average_latency_ms",
)

Row = dict[str, object]


def _totals(requests: int, prompt: int, completion: int, errors_: int, latency: float) -> Row:
    return {
        "requests": requests,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "errors": errors_,
        "average_latency_ms": round(latency / requests, 3) if requests else 0.0,
    }


class UsageService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def report(
        self,
        *,
        start: int | None,
        end: int | None,
        group_by: str,
        user_id: str | None,
    ) -> Row:
        """The report of one user's calls, or everyone's with `user_id` None (admins)."""
        allowed = ALL_GROUPS if user_id is None else OWN_GROUPS
        if group_by not in allowed:
            raise errors.BadRequest(
                f"group_by must be one of {', '.join(allowed)}, not '{group_by}'", param="group_by"
            )
        since = 0 if start is None else start
        until = max(now(), since) if end is None else end
        if since > until:
            raise errors.BadRequest(f"'from' ({since}) is after 'to' ({until})", param="from")
        groups = await UsageRepository(self.session).totals(
            since=since, until=until, group_by=group_by, user_id=user_id
        )
        data = await self._rows(groups, group_by)
        return {
            "from": since,
            "to": until,
            "group_by": group_by,
            "data": data,
            "totals": _totals(
                sum(g.requests for g in groups),
                sum(g.prompt_tokens for g in groups),
                sum(g.completion_tokens for g in groups),
                sum(g.errors for g in groups),
                sum(g.latency_ms_sum for g in groups),
            ),
        }

    async def _rows(self, groups: list[GroupTotals], group_by: str) -> list[Row]:
        # Nulls (calls made with a JWT session, by key) first, as neither database agrees.
        groups = sorted(groups, key=lambda g: (g.group is not None, g.group))
        accounts = (
            await UserRepository(self.session).infos([g.group for g in groups])
            if group_by == "user"
            else {}
        )
        rows = []
        for g in groups:
            row: Row
            if group_by == "user":
                account = accounts.get(g.group)
                row = {
                    "user_id": g.group,
                    "name": account.name if account else None,
                    "email": account.email if account else None,
                }
            elif group_by == "day":
                row = {"day": time.strftime("%Y-%m-%d", time.gmtime(int(g.group) * DAY))}
            else:
                row = {_GROUP_COLUMNS[group_by][0]: g.group}
            totals = (g.requests, g.prompt_tokens, g.completion_tokens, g.errors, g.latency_ms_sum)
            row.update(_totals(*totals))
            rows.append(row)
        return rows


def report_csv(report: Row) -> str:
    """The report's groups as CSV: a header row, then one row per group."""
    columns = (*_GROUP_COLUMNS[str(report["group_by"])], *_TOTAL_COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    rows = report["data"]
    assert isinstance(rows, list)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula (a user's name `=cmd|...`)
    is quoted with a leading apostrophe, as OWASP advises."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
