"""Applying Open WebUI `params` (a workspace model's stored ones, then the request's) to a body. Pure."""

from __future__ import annotations

from typing import Any

from wayline.providers.ollama import _OPTION_MAP

# Wayline/Open WebUI-only request fields: never forwarded upstream.
WAYLINE_FIELDS = (
    "files",
    "params",
    "features",
    "tool_ids",
    "metadata",
    "chat_id",
    "id",
    "session_id",
    "background_tasks",
    "variables",
    "model_item",
    "message_ids",
    "parent_id",
    "user_message",
    "parent_message",
    "assistant_message_id",
    "regeneration_message_id",
    "folder_id",
    "chat_variables",
    "automation_id",
    "filter_ids",
    "skill_ids",
    "terminal_id",
    "tool_servers",
)
# Params copied to the top level of an OpenAI-type request when the client did not set them.
OPENAI_PARAMS = (
    "temperature",
    "top_p",
    "min_p",
    "max_tokens",
    "max_completion_tokens",
    "frequency_penalty",
    "presence_penalty",
    "reasoning_effort",
    "seed",
    "stop",
    "logit_bias",
    "response_format",
)
OLLAMA_PARAMS = tuple(_OPTION_MAP) + ("keep_alive", "think", "format", "response_format")


def add_system(messages: list[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    """Prepend `system` to the first system message, or insert one (Open WebUI's rule)."""
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0])
        existing = first.get("content")
        if isinstance(existing, str):
            first["content"] = f"{system}\n{existing}" if existing else system
        elif isinstance(existing, list):
            first["content"] = [{"type": "text", "text": system}, *existing]
        return [first, *messages[1:]]
    return [{"role": "system", "content": system}, *messages]


def apply_params(body: dict[str, Any], params: dict[str, Any], kind: str) -> None:
    system = params.get("system")
    if isinstance(system, str) and system.strip():
        body["messages"] = add_system(list(body.get("messages") or []), system)
    if isinstance(params.get("stream_response"), bool):
        body["stream"] = params["stream_response"]
    allowed = OLLAMA_PARAMS if kind == "ollama" else OPENAI_PARAMS
    for key in allowed:
        if params.get(key) is not None and body.get(key) is None:
            body[key] = params[key]
    custom = params.get("custom_params")
    if isinstance(custom, dict):
        for key, value in custom.items():
            body.setdefault(key, value)
