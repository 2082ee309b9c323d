"""The Prometheus side of each finished call: `wayline_tokens_total` and
`wayline_time_to_first_token_seconds` (`core/metrics.py`), fed from the same `CallUsage` as the
ledger, so the two agree.

Chat and embedding calls only: their model label is a model id the registry resolved (few,
admin-configured). An image's model is whatever the request named, which must not become a
label value; a transcription's tokens are estimates of text, not audio.
"""

from __future__ import annotations

from wayline.core.metrics import TIME_TO_FIRST_TOKEN, TOKENS
from wayline.core.usage import CHAT, EMBEDDING, CallUsage

_LABELLED = (CHAT, EMBEDDING)


class UsageMetrics:
    def observe(self, usage: CallUsage) -> None:
        if usage.kind not in _LABELLED:
            return
        if usage.prompt_tokens:
            TOKENS.labels("prompt", usage.model).inc(usage.prompt_tokens)
        if usage.completion_tokens:
            TOKENS.labels("completion", usage.model).inc(usage.completion_tokens)
        if usage.time_to_first_token_ms is not None:
            TIME_TO_FIRST_TOKEN.labels(usage.model).observe(usage.time_to_first_token_ms / 1000)
