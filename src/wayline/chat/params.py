"""Applying Open WebUI `params` (a workspace model's stored ones, then the request's) to a
body. Pure."""

from __future__ import annotations

from typing import Any

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


def apply_params(body: dict[str, Any], params: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """The system prompt, `stream_response`, the sampling params the provider takes (`allowed`,
    each only where the client did not set it) and `custom_params`."""
    system = params.get("system")
    if isinstance(system, str) and system.strip():
        body["messages"] = add_system(list(body.get("messages") or []), system)
    if isinstance(params.get("stream_response"), bool):
        body["stream"] = params["stream_response"]
    for key in allowed:
        if params.get(key) is not None and body.get(key) is None:
            body[key] = params[key]
    custom = params.get("custom_params")
    if isinstance(custom, dict):
        for key, value in custom.items():
            body.setdefault(key, value)
