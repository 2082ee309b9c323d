"""`/process/text` and `/process/file`: index text or a stored file, optionally into a collection."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core import errors
from wayline.retrieval.schemas import ProcessFileForm, ProcessResponse, ProcessTextForm
from wayline.retrieval.service import RetrievalService
from wayline.users.schemas import UserInfo


class Processor:
    def __init__(self, session: AsyncSession, state: Any, retrieval: RetrievalService) -> None:
        self.session = session
        self.state = state
        self.retrieval = retrieval

    async def process_text(self, user: UserInfo, form: ProcessTextForm) -> ProcessResponse:
        raise errors.ServiceUnavailable("Text processing is not available yet")

    async def process_file(self, user: UserInfo, form: ProcessFileForm) -> ProcessResponse:
        raise errors.ServiceUnavailable("File processing is not available yet")
