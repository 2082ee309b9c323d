"""RAG context building: Open WebUI's template, source blocks and message placement."""

from __future__ import annotations

from wayline.retrieval.context import (
    DEFAULT_RAG_TEMPLATE,
    build_context,
    inject,
    last_user_query,
    render_template,
)

SOURCES = [
    {
        "source": {"type": "collection", "id": "k1", "name": "Docs"},
        "document": ["alpha chunk", "beta chunk", "alpha again"],
        "metadata": [
            {"file_id": "f1", "name": "alpha.txt"},
            {"file_id": "f2", "name": 'be"ta.txt'},
            {"file_id": "f1", "name": "alpha.txt"},
        ],
        "distances": [0.9, 0.8, 0.7],
    }
]


def test_default_template_is_open_webuis() -> None:
    assert DEFAULT_RAG_TEMPLATE.startswith(
        "### Task:\nRespond to the user query using the provided context"
    )
    assert DEFAULT_RAG_TEMPLATE.rstrip().endswith("<context>\n{{CONTEXT}}\n</context>")


def test_sources_numbered_by_distinct_document_with_escaped_names() -> None:
    text = build_context(SOURCES)
    assert text == (
        '<source id="1" name="alpha.txt">alpha chunk</source>\n'
        '<source id="2" name="be&quot;ta.txt">beta chunk</source>\n'
        '<source id="1" name="alpha.txt">alpha again</source>\n'
    )


def test_empty_template_means_default_and_context_is_inserted() -> None:
    out = render_template("", '<source id="1">x</source>', "q?")
    assert out.startswith("### Task:")
    assert '<context>\n<source id="1">x</source>\n</context>' in out


def test_both_placeholder_spellings_and_query_text_in_context_is_not_substituted() -> None:
    template = "C={{CONTEXT}} Q={{QUERY}} c=[context] q=[query]"
    out = render_template(template, "doc mentions {{QUERY}} and [query]", "what?")
    doc = "doc mentions {{QUERY}} and [query]"
    assert out == f"C={doc} Q=what? c={doc} q=what?"


def test_prepended_to_last_user_message() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    inject(messages, "RAG", system=False)
    assert messages[3]["content"] == "RAG\nsecond"
    assert messages[1]["content"] == "first"
    assert messages[0]["content"] == "sys"


def test_prepended_to_text_part_of_multimodal_message() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "x"}},
                {"type": "text", "text": "hi"},
            ],
        }
    ]
    inject(messages, "RAG", system=False)
    assert messages[0]["content"][1] == {"type": "text", "text": "RAG\nhi"}
    assert messages[0]["content"][0]["type"] == "image_url"


def test_system_context_appends_to_existing_system_message_or_creates_one() -> None:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]
    inject(messages, "RAG", system=True)
    assert messages[0]["content"] == "sys\nRAG" and messages[1]["content"] == "q"
    messages = [{"role": "user", "content": "q"}]
    inject(messages, "RAG", system=True)
    assert messages == [{"role": "system", "content": "RAG"}, {"role": "user", "content": "q"}]


def test_query_is_the_last_user_message_text() -> None:
    messages = [
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "a"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "new"}, {"type": "text", "text": "question"}],
        },
    ]
    assert last_user_query(messages) == "new\nquestion"
    assert last_user_query([{"role": "assistant", "content": "x"}]) == ""
