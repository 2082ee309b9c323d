"""Which scope a request path needs, and which requests the counters count.

A path belongs to the family of its longest matching prefix (a prefix matches the path itself or
what follows a `/`). Paths outside every family (the account's own routes under `/api/v1/auths`
and `/api/v1/users`, `/api/v1/usage`, `/health`, …) need no scope; routes that need an admin
need the `admin` scope as well (checked with the role, `auth/deps.admin_user`).

Counted ("metered") are the POSTs of the families that call models: chat, images, audio and the
Ollama and OpenAI proxies. RPM, TPM, parallel requests and budgets apply to those alone, so a
browser session under its user's limits is not refused for loading its settings.
"""

from __future__ import annotations

from functools import lru_cache

FAMILIES: dict[str, str] = {
    "/api/chat/completions": "chat",
    "/api/v1/chat/completions": "chat",
    "/api/v1/messages": "chat",
    "/api/message": "chat",
    "/api/embeddings": "chat",
    "/api/v1/embeddings": "chat",
    "/api/models": "models",
    "/api/v1/models": "models",
    "/api/v1/files": "files",
    "/api/v1/knowledge": "knowledge",
    "/api/v1/retrieval": "retrieval",
    "/retrieval": "retrieval",
    "/api/v1/images": "images",
    "/images": "images",
    "/api/v1/audio": "audio",
    "/audio": "audio",
    "/ollama": "ollama",
    "/openai": "openai",
}
METERED_FAMILIES = frozenset({"chat", "images", "audio", "ollama", "openai"})
_LONGEST_FIRST = sorted(FAMILIES, key=len, reverse=True)


@lru_cache(maxsize=4096)
def family_of(path: str) -> str | None:
    """The scope `path` needs, or None (cached: the hot paths are few)."""
    for prefix in _LONGEST_FIRST:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return FAMILIES[prefix]
    return None


def is_metered(family: str | None, method: str) -> bool:
    return method == "POST" and family in METERED_FAMILIES
