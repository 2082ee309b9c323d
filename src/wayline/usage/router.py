"""`GET /api/v1/usage` (the caller's own calls) and `GET /api/v1/usage/all` (admins: everyone's):
the ledger's totals over a time range, grouped; JSON, or CSV with `Accept: text/csv`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import SessionDep
from wayline.usage.schemas import UsageReport
from wayline.usage.service import UsageService, report_csv

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])

# Epoch seconds, up to the year 9999 (a bigger number is a mistake, not a date).
_LAST_SECOND = 253_402_300_799
From = Annotated[
    int | None,
    Query(alias="from", ge=0, le=_LAST_SECOND, description="epoch seconds, inclusive"),
]
To = Annotated[
    int | None,
    Query(alias="to", ge=0, le=_LAST_SECOND, description="epoch seconds, inclusive; default now"),
]
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with Accept: text/csv"}
}


def _answer(request: Request, report: dict[str, Any]) -> Any:
    if "text/csv" in request.headers.get("accept", ""):
        return Response(report_csv(report), media_type="text/csv; charset=utf-8")
    return report


@router.get("/all", response_model=UsageReport, response_model_exclude_unset=True, responses=_CSV)
async def all_usage(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    start: From = None,
    end: To = None,
    group_by: Annotated[str, Query(description="user, key, model or day")] = "user",
) -> Any:
    """Everyone's usage (admins only), grouped by user, key, model or day."""
    service = UsageService(session)
    report = await service.report(start=start, end=end, group_by=group_by, user_id=None)
    return _answer(request, report)


@router.get("", response_model=UsageReport, response_model_exclude_unset=True, responses=_CSV)
async def own_usage(
    request: Request,
    session: SessionDep,
    user: VerifiedUser,
    start: From = None,
    end: To = None,
    group_by: Annotated[str, Query(description="model, key or day")] = "model",
) -> Any:
    """The caller's own usage (every key of theirs and their sessions), grouped by model, key
    or day."""
    service = UsageService(session)
    report = await service.report(start=start, end=end, group_by=group_by, user_id=user.id)
    return _answer(request, report)
