"""Speech engines: one protocol per direction (`base.py`), one module per engine, this registry.

Only the OpenAI-compatible engine ships (`openai`, Open WebUI's name). Open WebUI's
default STT engine `''` is a local faster-whisper model; Wayline has none, so
`''` means "not configured" and the endpoints say which setting to set.

The registries' keys are exactly the non-empty values of `AudioSTTEngine` / `AudioTTSEngine`
in `core/settings.py` (a unit test checks): adding an engine is its module, its line here
and its name there.
"""

from __future__ import annotations

from collections.abc import Callable

from wayline.core import errors
from wayline.core.http import UpstreamClient
from wayline.core.settings import AudioSTTEngine, AudioTTSEngine, choices, not_one_of
from wayline.media.audio import openai
from wayline.media.audio.base import Synthesizer, Transcriber

# engine name -> factory(http, base_url, api_key, model, request_format)
STT_ENGINES: dict[str, Callable[[UpstreamClient, str, str, str, str], Transcriber]] = {
    "openai": openai.OpenAITranscriber,
}
# engine name -> factory(http, base_url, api_key)
TTS_ENGINES: dict[str, Callable[[UpstreamClient, str, str], Synthesizer]] = {
    "openai": openai.OpenAISynthesizer,
}


def check_stt(engine: str) -> None:
    """400 naming the field and the accepted values, unless `engine` is a known STT engine or ''."""
    if engine not in choices(AudioSTTEngine):
        raise errors.BadRequest(
            f"{not_one_of('stt.ENGINE', engine, choices(AudioSTTEngine))} (AUDIO_STT_ENGINE)"
        )


def check_tts(engine: str) -> None:
    """400 naming the field and the accepted values, unless `engine` is a known TTS engine or ''."""
    if engine not in choices(AudioTTSEngine):
        raise errors.BadRequest(
            f"{not_one_of('tts.ENGINE', engine, choices(AudioTTSEngine))} (AUDIO_TTS_ENGINE)"
        )


def transcriber(
    engine: str,
    http: UpstreamClient,
    base_url: str,
    api_key: str,
    model: str,
    request_format: str = "multipart",
) -> Transcriber:
    make = STT_ENGINES.get(engine)
    if make is None:
        check_stt(engine)  # a name the settings accept is registered: '' is the only other
        raise errors.BadRequest("Speech-to-text is not configured: set AUDIO_STT_ENGINE")
    return make(http, base_url, api_key, model, request_format)


def synthesizer(engine: str, http: UpstreamClient, base_url: str, api_key: str) -> Synthesizer:
    make = TTS_ENGINES.get(engine)
    if make is None:
        check_tts(engine)
        raise errors.NotFound("Text-to-speech is not configured: set AUDIO_TTS_ENGINE")
    return make(http, base_url, api_key)
