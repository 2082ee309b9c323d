"""Turn retrieved sources into the prompt text the model sees (pure functions).

Mirrors Open WebUI: the context is a run of `<source id="N" name="…">chunk</source>`
blocks, numbered by distinct document, placed into the RAG template's `{{CONTEXT}}`
(or `[context]`) with the query in `{{QUERY}}` (or `[query]`), and the result is
prepended to the last user message, or appended to the system message when
`RAG_SYSTEM_CONTEXT` is on. Substitution is one pass over the template, so text in
a document that looks like a placeholder is never substituted.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

# Open WebUI's DEFAULT_RAG_TEMPLATE (open_webui/config.py), verbatim; kept in a text resource
# because its lines are far longer than the code's.
DEFAULT_RAG_TEMPLATE = (
    resources.files("wayline.retrieval").joinpath("rag_template.txt").read_text(encoding="utf-8")
)

_PLACEHOLDER = re.compile(r"\{\{CONTEXT\}\}|\[context\]|\{\{QUERY\}\}|\[query\]")


def render_template(template: str, context: str, query: str) -> str:
    """Fill the RAG template; an empty template means Open WebUI's default."""
    if not template.strip():
        template = DEFAULT_RAG_TEMPLATE
    return _PLACEHOLDER.sub(
        lambda m: context if m.group(0).strip("{}[]").lower() == "context" else query, template
    )


def build_context(sources: Sequence[dict[str, Any]]) -> str:
    """`<source id="N" name="…">text</source>` per chunk; N counts distinct documents from 1."""
    numbers: dict[str, int] = {}
    parts: list[str] = []
    for source in sources:
        origin = source.get("source") or {}
        for text, meta in zip(source.get("document", []), source.get("metadata", []), strict=True):
            meta = meta or {}
            doc_key = str(meta.get("file_id") or meta.get("source") or origin.get("id") or "N/A")
            number = numbers.setdefault(doc_key, len(numbers) + 1)
            name = meta.get("name") or meta.get("source") or origin.get("name")
            attr = f' name="{html.escape(str(name), quote=True)}"' if name else ""
            parts.append(f'<source id="{number}"{attr}>{text}</source>\n')
    return "".join(parts)


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_user_query(messages: Sequence[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def _prepend(content: Any, text: str) -> Any:
    if isinstance(content, list):
        parts = list(content)
        for i, part in enumerate(parts):
            if isinstance(part, dict) and part.get("type") == "text":
                parts[i] = {**part, "text": f"{text}\n{part.get('text', '')}"}
                return parts
        return [{"type": "text", "text": text}, *parts]
    return f"{text}\n{content}" if content else text


def inject(messages: list[dict[str, Any]], rag_text: str, *, system: bool) -> None:
    """Put the rendered RAG text into `messages` in place (Open WebUI's placement rules)."""
    if system:
        if messages and messages[0].get("role") == "system":
            existing = message_text(messages[0])
            messages[0] = {
                **messages[0],
                "content": f"{existing}\n{rag_text}" if existing else rag_text,
            }
        else:
            messages.insert(0, {"role": "system", "content": rag_text})
        return
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            messages[i] = {**messages[i], "content": _prepend(messages[i].get("content"), rag_text)}
            return
    messages.append({"role": "user", "content": rag_text})
