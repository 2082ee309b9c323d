"""Wire models for `/api/v1/configs` (Open WebUI's forms) and the runtime-config sections that
hold them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from wayline.core.storable import (
    DESCRIPTION_MAX,
    DescriptionText,
    IdText,
    NameText,
    StorableObject,
    utf8,
)

# Far above what a UI shows; they keep one runtime-config row small.
MAX_BANNERS = 100
MAX_SUGGESTIONS = 100
MAX_MODEL_IDS = 1000

ShortText = Annotated[str, Field(max_length=64), AfterValidator(utf8)]
ModelIds = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(utf8)]


class _Form(BaseModel):
    """Unknown fields are ignored, as Open WebUI's forms do (and a stored section written by a
    newer version still reads); the import refuses unknown keys itself, by name."""

    model_config = ConfigDict(extra="ignore")


class Banner(_Form):
    """Open WebUI's `BannerModel`."""

    i18n: dict[ShortText, dict[ShortText, DescriptionText]] | None = None
    id: IdText
    type: ShortText
    title: NameText | None = None
    content: DescriptionText
    dismissible: bool
    timestamp: int = Field(ge=0)


class BannersConfig(_Form):
    """Runtime-config section `banners`; also the body of `POST /api/v1/configs/banners`."""

    banners: list[Banner] = Field(default_factory=list, max_length=MAX_BANNERS)


class PromptSuggestion(_Form):
    title: list[NameText] = Field(max_length=10)
    content: DescriptionText


class SuggestionsConfig(_Form):
    """Runtime-config section `suggestions`: the prompt suggestions a new chat shows, and their
    translations by locale. Also the body and the answer of `POST /configs/suggestions`."""

    suggestions: list[PromptSuggestion] | None = Field(
        default_factory=list, max_length=MAX_SUGGESTIONS
    )
    i18n: StorableObject | None = Field(default_factory=dict)


class ModelsConfig(_Form):
    """Runtime-config section `models`: Open WebUI's `ModelsConfigForm` (what a UI preselects,
    pins and orders, and the defaults it lays under every model's metadata and parameters)."""

    DEFAULT_MODELS: ModelIds | None = None
    DEFAULT_PINNED_MODELS: ModelIds | None = None
    MODEL_ORDER_LIST: list[IdText] | None = Field(default_factory=list, max_length=MAX_MODEL_IDS)
    DEFAULT_MODEL_METADATA: StorableObject | None = Field(default_factory=dict)
    DEFAULT_MODEL_PARAMS: StorableObject | None = Field(default_factory=dict)


class ModelsConfigForm(ModelsConfig):
    """The POST body, as Open WebUI's: the first three keys are required (null allowed), and the
    two defaults left out are set to null."""

    DEFAULT_MODELS: ModelIds | None
    DEFAULT_PINNED_MODELS: ModelIds | None
    MODEL_ORDER_LIST: list[IdText] | None = Field(max_length=MAX_MODEL_IDS)
    DEFAULT_MODEL_METADATA: StorableObject | None = None
    DEFAULT_MODEL_PARAMS: StorableObject | None = None


class ConnectionsConfig(_Form):
    """Runtime-config section `connections`: Open WebUI's `ConnectionsConfigForm`. Stored and
    served as set; Wayline has no browser-side direct connections, and its model list has its
    own cache (`MODELS_CACHE_TTL`)."""

    ENABLE_DIRECT_CONNECTIONS: bool = False
    ENABLE_DIRECT_INTEGRATIONS: bool = False
    ENABLE_BASE_MODELS_CACHE: bool = False


class ConnectionsConfigForm(ConnectionsConfig):
    """The POST body: two flags required; `ENABLE_DIRECT_INTEGRATIONS` left out keeps its value."""

    ENABLE_DIRECT_CONNECTIONS: bool
    ENABLE_BASE_MODELS_CACHE: bool


class InterfaceConfig(_Form):
    """Runtime-config section `interface`: which UI features are shown (`ui.visibility`)."""

    visibility: dict[ShortText, StrictBool] = Field(default_factory=dict, max_length=200)


class ImportConfigForm(_Form):
    """`POST /api/v1/configs/import`: the object `GET /api/v1/configs/export` answers."""

    config: dict[str, Any]
