"""An Anthropic Messages request as a Chat Completions request (pure; see `service.py`).

Mapped: `system` (string or text blocks), `messages` (text, image, `tool_use` and
`tool_result` blocks; `thinking` blocks of earlier turns are dropped), `max_tokens`,
`temperature`, `top_p`, `stop_sequences`, `metadata.user_id`, `tools` (custom tools),
`tool_choice`. Server tools and documents have no Chat Completions counterpart and are
refused with a 400 that says so.
"""

from __future__ import annotations

from typing import Any

import orjson

from wayline.core import errors

_WHY = "has no Chat Completions counterpart, so the model '{model}' cannot be given it"


def _refuse(what: str, model: str, param: str) -> errors.BadRequest:
    return errors.BadRequest(f"{what} {_WHY.format(model=model)}", param=param)


def _text(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    if isinstance(blocks, list):
        return "\n".join(
            str(b.get("text") or "")
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _image(block: dict[str, Any], model: str) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url") or "")
    else:
        raise _refuse(f"An image source of type '{source.get('type')}'", model, "messages")
    return {"type": "image_url", "image_url": {"url": url}}


def _turn(message: Any, model: str) -> list[dict[str, Any]]:
    """One Anthropic message as Chat Completions messages (tool results become `tool` ones)."""
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise errors.BadRequest(
            "Each message must be an object whose 'role' is 'user' or 'assistant'",
            param="messages",
        )
    role, content = message["role"], message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise errors.BadRequest(
            "A message's 'content' must be a string or a list of blocks", param="messages"
        )
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append(_image(block, model))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": str(block.get("id") or ""),
                    "type": "function",
                    "function": {"name": str(block.get("name") or ""), "arguments": arguments},
                }
            )
        elif kind == "tool_result":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": str(block.get("tool_use_id") or ""),
                    "content": _text(block.get("content")),
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise _refuse(f"A content block of type '{kind}'", model, "messages")
    out = list(results)
    if role == "assistant":
        text = "".join(p.get("text", "") for p in parts if p["type"] == "text")
        if text or calls:
            turn: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                turn["tool_calls"] = calls
            out.append(turn)
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _tools(tools: Any, model: str) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise errors.BadRequest("'tools' must be a list", param="tools")
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise _refuse(f"The server tool '{kind}'", model, "tools")
        fn: dict[str, Any] = {
            "name": tool.get("name"),
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind), "auto")


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The Chat Completions body for a Messages `body`."""
    model = str(body.get("model"))
    messages: list[dict[str, Any]] = []
    system = _text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in body.get("messages") or []:
        messages += _turn(message, model)
    chat: dict[str, Any] = {"model": model, "messages": messages}
    if body.get("max_tokens") is not None:
        chat["max_tokens"] = body["max_tokens"]
    for field in ("temperature", "top_p"):
        if body.get(field) is not None:
            chat[field] = body[field]
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    user = (body.get("metadata") or {}).get("user_id")
    if isinstance(user, str) and user:
        chat["user"] = user
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"], model)
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def with_preset(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A workspace preset's stored params on a Messages body sent as is: its system prompt
    leads `system`; its sampling params fill what the client left unset."""
    out = dict(body)
    system = params.get("system")
    if isinstance(system, str) and system.strip():
        given = out.get("system")
        if isinstance(given, list):
            out["system"] = [{"type": "text", "text": system}, *given]
        else:
            out["system"] = f"{system}\n{given}" if isinstance(given, str) and given else system
    for field in ("temperature", "top_p", "max_tokens"):
        if params.get(field) is not None and out.get(field) is None:
            out[field] = params[field]
    return out
