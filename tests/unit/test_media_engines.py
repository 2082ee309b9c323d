"""The media engine registries: they agree with the settings' Literal types, engines do not
import the registry (no cycles), and an unknown engine is a 4xx naming the setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wayline.core import errors
from wayline.core.settings import (
    AudioSTTEngine,
    AudioTTSEngine,
    ImageGenerationEngine,
    Settings,
    choices,
)
from wayline.media.audio import engines as audio_engines
from wayline.media.audio.base import Synthesizer
from wayline.media.images import engines as image_engines
from wayline.media.images.schemas import ImagesConfig

OFF = ""  # the audio settings' "no engine"


def test_audio_registries_hold_exactly_the_engines_settings_accept():
    assert set(audio_engines.STT_ENGINES) == set(choices(AudioSTTEngine)) - {OFF}
    assert set(audio_engines.TTS_ENGINES) == set(choices(AudioTTSEngine)) - {OFF}
    assert OFF not in audio_engines.STT_ENGINES and OFF not in audio_engines.TTS_ENGINES


def test_image_registry_holds_exactly_the_engines_settings_accept():
    assert set(image_engines.ENGINES) == set(choices(ImageGenerationEngine))


def test_settings_fields_use_the_literal_types():
    fields = Settings.model_fields
    assert fields["AUDIO_STT_ENGINE"].annotation == AudioSTTEngine
    assert fields["AUDIO_TTS_ENGINE"].annotation == AudioTTSEngine
    assert fields["IMAGE_GENERATION_ENGINE"].annotation == ImageGenerationEngine


@pytest.mark.parametrize(
    ("engine", "registry"),
    [
        ("wayline.media.audio.openai", "wayline.media.audio.engines"),
        ("wayline.media.images.openai", "wayline.media.images.engines"),
    ],
)
def test_an_engine_module_does_not_import_its_registry(engine, registry):
    code = f"import sys, {engine}; assert {registry!r} not in sys.modules, 'cycle'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_every_tts_engine_lists_models_and_voices():
    for name, make in audio_engines.TTS_ENGINES.items():
        engine: Synthesizer = make(None, "http://x", "")  # type: ignore[arg-type]
        assert engine.models() and engine.voices(), name


def test_unknown_engines_are_bad_requests_not_key_errors():
    with pytest.raises(errors.BadRequest) as stt:
        audio_engines.transcriber("whisper", None, "http://x", "", "m")  # type: ignore[arg-type]
    assert stt.value.detail == "stt.ENGINE='whisper' is not one of: '', 'openai' (AUDIO_STT_ENGINE)"
    with pytest.raises(errors.BadRequest, match=r"tts\.ENGINE='azure' is not one of: '', 'openai'"):
        audio_engines.synthesizer("azure", None, "http://x", "")  # type: ignore[arg-type]
    with pytest.raises(errors.NotFound, match="AUDIO_TTS_ENGINE"):
        audio_engines.synthesizer("", None, "http://x", "")  # type: ignore[arg-type]
    cfg = ImagesConfig(IMAGE_GENERATION_ENGINE="comfyui")
    with pytest.raises(errors.BadRequest) as image:
        image_engines.engine_for(cfg, None)  # type: ignore[arg-type]
    assert image.value.detail == "IMAGE_GENERATION_ENGINE='comfyui' is not one of: 'openai'"
