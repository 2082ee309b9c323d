"""The Ollama wire format: pure translation OpenAI ⇄ Ollama (no I/O here; see `ollama.py`).

Unlike Open WebUI, which drops top-level OpenAI sampling fields for Ollama models,
every sampling parameter is mapped into `options` (top-level fields, then `options`,
win in that order), because an OpenAI client has no other way to send them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from wayline.providers.base import new_chat_id

# OpenAI name -> Ollama option name (identity where Ollama uses the same name).
OPTION_MAP = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "seed": "seed",
    "stop": "stop",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "typical_p": "typical_p",
    "tfs_z": "tfs_z",
    "mirostat": "mirostat",
    "mirostat_eta": "mirostat_eta",
    "mirostat_tau": "mirostat_tau",
    "num_ctx": "num_ctx",
    "num_batch": "num_batch",
    "num_keep": "num_keep",
    "num_gpu": "num_gpu",
    "num_thread": "num_thread",
    "num_predict": "num_predict",
    "use_mmap": "use_mmap",
    "use_mlock": "use_mlock",
}
# Fields that live at the root of an Ollama request, not in `options`.
_ROOT_FIELDS = ("keep_alive", "think", "format")


def _split_data_url(url: str) -> str:
    """`data:image/png;base64,AAAA` -> `AAAA` (Ollama wants bare base64)."""
    return url.split(",", 1)[1] if url.startswith("data:") and "," in url else url


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return raw
    return raw if raw is not None else {}


def to_ollama_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for msg in messages:
        role = msg.get("role", "user")
        content = msg.get("content")
        new: dict[str, Any] = {"role": role}
        images: list[str] = []
        if isinstance(content, list):
            texts = []
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    texts.append(part.get("text", ""))
                elif part.get("type") == "image_url":
                    image = part.get("image_url")
                    url = image.get("url") if isinstance(image, dict) else image
                    if isinstance(url, str):
                        images.append(_split_data_url(url))
            new["content"] = "\n".join(texts)
        else:
            new["content"] = content if isinstance(content, str) else ""
        if images or msg.get("images"):
            new["images"] = images + list(msg.get("images") or [])
        if msg.get("tool_calls"):
            calls = []
            for call in msg["tool_calls"]:
                fn = call.get("function") or {}
                if call.get("id") and fn.get("name"):
                    call_names[call["id"]] = fn["name"]
                calls.append(
                    {
                        "function": {
                            "name": fn.get("name"),
                            "arguments": _arguments(fn.get("arguments")),
                        }
                    }
                )
            new["tool_calls"] = calls
        if role == "tool":
            name = msg.get("name") or call_names.get(msg.get("tool_call_id", ""))
            if name:
                new["tool_name"] = name
        if msg.get("thinking"):
            new["thinking"] = msg["thinking"]
        out.append(new)
    return out


def to_ollama_chat(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI chat request as an Ollama `/api/chat` request for upstream model `model`."""
    options: dict[str, Any] = {}
    for key, target in OPTION_MAP.items():
        if body.get(key) is not None:
            options[target] = body[key]
    if isinstance(options.get("stop"), str):
        options["stop"] = [options["stop"]]
    extra = body.get("options")
    if isinstance(extra, dict):
        options.update(extra)

    payload: dict[str, Any] = {
        "model": model,
        "messages": to_ollama_messages(body.get("messages") or []),
        "stream": bool(body.get("stream", False)),
    }
    for key in _ROOT_FIELDS:
        if key in options:
            payload[key] = options.pop(key)
        if body.get(key) is not None:
            payload[key] = body[key]
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_object":
            payload["format"] = "json"
        elif fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            payload["format"] = schema if schema is not None else "json"
    if body.get("tools"):
        payload["tools"] = body["tools"]
    if options:
        payload["options"] = options
    return payload


def _openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, call in enumerate(calls):
        fn = call.get("function") or {}
        args = fn.get("arguments")
        out.append(
            {
                "index": i,
                "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": fn.get("name"),
                    "arguments": args
                    if isinstance(args, str)
                    else orjson.dumps(args or {}).decode(),
                },
            }
        )
    return out


def _approximate(ns: int) -> str:
    seconds = int(ns / 1e9)
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def usage_of(data: dict[str, Any]) -> dict[str, Any]:
    """OpenAI usage plus Ollama's timing figures (the set Open WebUI reports)."""
    prompt = int(data.get("prompt_eval_count") or 0)
    completion = int(data.get("eval_count") or 0)
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "input_tokens": prompt,
        "output_tokens": completion,
    }
    eval_ns, prompt_ns = data.get("eval_duration") or 0, data.get("prompt_eval_duration") or 0
    if eval_ns:
        usage["response_token/s"] = round(completion / (eval_ns / 1e9), 2)
    if prompt_ns:
        usage["prompt_token/s"] = round(prompt / (prompt_ns / 1e9), 2)
    for key in (
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ):
        if key in data:
            usage[key] = data[key]
    if data.get("total_duration"):
        usage["approximate_total"] = _approximate(int(data["total_duration"]))
    usage["completion_tokens_details"] = {
        "reasoning_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    }
    return usage


def _finish(data: dict[str, Any], has_tools: bool) -> str:
    return "tool_calls" if has_tools else (data.get("done_reason") or "stop")


def from_ollama_chat(data: dict[str, Any], model: str) -> dict[str, Any]:
    """A non-streamed Ollama `/api/chat` reply as an OpenAI `chat.completion` for `model`."""
    msg = data.get("message") or {}
    message: dict[str, Any] = {"role": "assistant", "content": msg.get("content", "")}
    if msg.get("thinking"):
        message["reasoning_content"] = msg["thinking"]
    calls = msg.get("tool_calls") or []
    if calls:
        message["tool_calls"] = [
            {k: v for k, v in c.items() if k != "index"} for c in _openai_tool_calls(calls)
        ]
    return {
        "id": new_chat_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "message": message,
                "finish_reason": _finish(data, bool(calls)),
            }
        ],
        "usage": usage_of(data),
    }


class StreamTranslator:
    """Ollama NDJSON objects -> OpenAI `chat.completion.chunk` dicts; all chunks share one id."""

    def __init__(self, model: str, chat_id: str | None = None) -> None:
        self.model = model
        self.id = chat_id or new_chat_id()
        self.created = int(time.time())
        self._started = False
        self._saw_tools = False

    def _chunk(
        self, delta: dict[str, Any], finish: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }

    def translate(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        if "error" in data and not data.get("message"):
            raise ValueError(str(data["error"]))
        msg = data.get("message") or {}
        delta: dict[str, Any] = {}
        if not self._started:
            delta["role"] = "assistant"
            self._started = True
        if msg.get("content"):
            delta["content"] = msg["content"]
        if msg.get("thinking"):
            delta["reasoning_content"] = msg["thinking"]
        if msg.get("tool_calls"):
            delta["tool_calls"] = _openai_tool_calls(msg["tool_calls"])
            self._saw_tools = True
        out = []
        if delta and (not data.get("done") or set(delta) != {"role"}):
            out.append(self._chunk(delta))
        if data.get("done"):
            out.append(self._chunk({}, _finish(data, self._saw_tools), usage=usage_of(data)))
        return out
