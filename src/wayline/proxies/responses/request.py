"""A Responses API request as a Chat Completions request, for a model whose connection does not
serve `/responses` (pure; see `service.py`).

Mapped: `instructions` (a system message), `input` (a string, or message, `function_call`
and `function_call_output` items; text and image parts), `max_output_tokens`,
`temperature`, `top_p`, `user`, function `tools`, `tool_choice`, `parallel_tool_calls`,
`text.format` (`response_format`), `reasoning.effort`. What only a stateful Responses server
can do (`previous_response_id`, `conversation`, stored items, files by id, built-in tools) is
refused with a 400 that says why, rather than silently dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from wayline.core import errors

_NATIVE_ONLY = (
    "is only served by connections with the Responses API; "
    "the model '{model}' is answered through Chat Completions"
)


def _refuse(what: str, model: str, param: str | None = None) -> errors.BadRequest:
    return errors.BadRequest(f"{what} {_NATIVE_ONLY.format(model=model)}", param=param)


def _part(part: Any, role: str, model: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text", "refusal"):
        return {"type": "text", "text": str(part.get("text") or part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise _refuse("An image given by 'file_id'", model, "input")
        return {
            "type": "image_url",
            "image_url": {"url": url, "detail": part.get("detail", "auto")},
        }
    raise _refuse(f"Content part type '{kind}' in a {role} message", model, "input")


def _content(content: Any, role: str, model: str) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise errors.BadRequest(
            "A message item's 'content' must be a string or a list of parts", param="input"
        )
    parts = [_part(p, role, model) for p in content]
    if role != "user" and all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)  # system / assistant: plain text
    return parts


def _output(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _messages(items: list[Any], model: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise errors.BadRequest("Each 'input' item must be an object", param="input")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise errors.BadRequest(f"Unknown message role '{role}'", param="input")
            role = "system" if role == "developer" else role
            out.append({"role": role, "content": _content(item.get("content"), role, model)})
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or item.get("id") or ""),
                "type": "function",
                "function": {
                    "name": str(item.get("name") or ""),
                    "arguments": _output(item.get("arguments") or "{}"),
                },
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)  # parallel calls: one assistant turn
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id") or ""),
                    "content": _output(item.get("output", "")),
                }
            )
        elif kind == "reasoning":
            continue  # a previous turn's reasoning: Chat Completions has no place for it
        else:
            raise _refuse(f"Input item type '{kind}'", model, "input")
    return out


def _tools(tools: Any, model: str) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise errors.BadRequest("'tools' must be a list", param="tools")
    out = []
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            raise _refuse(f"The built-in tool '{kind}'", model, "tools")
        fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice


def _response_format(fmt: Any) -> dict[str, Any] | None:
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": fmt["type"]}


def to_chat(body: dict[str, Any], upstream_model: str) -> dict[str, Any]:
    """The Chat Completions body for a Responses `body` (`model` already resolved)."""
    model = str(body.get("model"))
    for field in ("previous_response_id", "conversation"):
        if body.get(field):
            raise _refuse(f"'{field}'", model, field)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        messages += _messages(given, model)
    else:
        raise errors.BadRequest("'input' must be a string or a list of items", param="input")

    chat: dict[str, Any] = {"model": upstream_model, "messages": messages}
    for field in ("temperature", "top_p", "user", "parallel_tool_calls", "top_logprobs"):
        if body.get(field) is not None:
            chat[field] = body[field]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"], model)
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    fmt = _response_format((body.get("text") or {}).get("format"))
    if fmt is not None:
        chat["response_format"] = fmt
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        chat["reasoning_effort"] = effort
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def with_preset(body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A workspace preset's stored params on a Responses body sent as is: its system prompt
    leads `instructions`; its sampling params fill what the client left unset."""
    out = dict(body)
    system = params.get("system")
    if isinstance(system, str) and system.strip():
        given = out.get("instructions")
        out["instructions"] = f"{system}\n{given}" if isinstance(given, str) and given else system
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("max_tokens", "max_output_tokens"),
    ):
        if params.get(ours) is not None and out.get(theirs) is None:
            out[theirs] = params[ours]
    custom = params.get("custom_params")
    if isinstance(custom, dict):
        for key, value in custom.items():
            out.setdefault(key, value)
    return out
