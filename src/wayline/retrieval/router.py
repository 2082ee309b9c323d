"""`/api/v1/retrieval`: query collections, process text/files, and the admin RAG settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from wayline.auth.deps import AdminUser, VerifiedUser
from wayline.core.deps import SessionDep, StateDep
from wayline.files.service import FilesRuntime
from wayline.retrieval.batch import BatchProcessor
from wayline.retrieval.maintenance import VectorMaintenance
from wayline.retrieval.processing import Processor
from wayline.retrieval.schemas import (
    BatchProcessForm,
    BatchProcessResponse,
    DeleteEntriesForm,
    EmbeddingConfig,
    EmbeddingUpdateForm,
    ProcessFileForm,
    ProcessResponse,
    ProcessTextForm,
    QueryCollectionForm,
    QueryDocForm,
    QueryResult,
)
from wayline.retrieval.service import RetrievalService

router = APIRouter(prefix="/api/v1/retrieval", tags=["retrieval"])


def _retrieval(state: StateDep) -> RetrievalService:
    return state.get(RetrievalService)


def _processor(
    state: StateDep,
    session: SessionDep,
    retrieval: Annotated[RetrievalService, Depends(_retrieval)],
) -> Processor:
    return Processor(session, state.get(FilesRuntime), retrieval)


def _maintenance(state: StateDep, session: SessionDep) -> VectorMaintenance:
    return VectorMaintenance(session, state.get(FilesRuntime))


Retrieval = Annotated[RetrievalService, Depends(_retrieval)]
ProcessorDep = Annotated[Processor, Depends(_processor)]
Maintenance = Annotated[VectorMaintenance, Depends(_maintenance)]


@router.get("/config")
async def get_config(_: AdminUser, retrieval: Retrieval) -> dict[str, Any]:
    return await retrieval.config_view()


@router.post("/config/update")
async def update_config(
    _: AdminUser, retrieval: Retrieval, form: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    return await retrieval.update_config(form)


@router.get("/embedding", response_model=EmbeddingConfig)
async def get_embedding(_: AdminUser, retrieval: Retrieval) -> EmbeddingConfig:
    return retrieval.embedding_view()


@router.post("/embedding/update", response_model=EmbeddingConfig)
async def update_embedding(
    form: EmbeddingUpdateForm, _: AdminUser, retrieval: Retrieval
) -> EmbeddingConfig:
    return retrieval.update_embedding(form)


@router.post("/query/doc", response_model=QueryResult)
async def query_doc(
    form: QueryDocForm, user: VerifiedUser, session: SessionDep, retrieval: Retrieval
) -> QueryResult:
    return await retrieval.query(session, user, [form.collection_name], form)


@router.post("/query/collection", response_model=QueryResult)
async def query_collection(
    form: QueryCollectionForm, user: VerifiedUser, session: SessionDep, retrieval: Retrieval
) -> QueryResult:
    return await retrieval.query(session, user, form.collection_names, form)


@router.post("/process/text", response_model=ProcessResponse)
async def process_text(
    form: ProcessTextForm, user: VerifiedUser, processor: ProcessorDep
) -> ProcessResponse:
    return await processor.process_text(user, form)


@router.post("/process/file", response_model=ProcessResponse)
async def process_file(
    form: ProcessFileForm, user: VerifiedUser, processor: ProcessorDep
) -> ProcessResponse:
    return await processor.process_file(user, form)


@router.post("/process/files/batch", response_model=BatchProcessResponse)
async def process_files_batch(
    form: BatchProcessForm, user: VerifiedUser, state: StateDep, retrieval: Retrieval
) -> BatchProcessResponse:
    # No request session: indexing takes its own short sessions, file by file.
    batch = BatchProcessor(state.core.db, state.get(FilesRuntime), retrieval)
    return await batch.run(user, form)


@router.post("/delete")
async def delete_entries(
    form: DeleteEntriesForm, admin: AdminUser, maintenance: Maintenance
) -> dict[str, bool]:
    return await maintenance.delete_entries(admin, form.collection_name, form.file_id)


@router.post("/reset/db")
async def reset_vector_db(_: AdminUser, maintenance: Maintenance) -> None:
    await maintenance.reset_db()


@router.post("/reset/uploads")
async def reset_uploads(_: AdminUser, maintenance: Maintenance) -> bool:
    return await maintenance.reset_uploads()
