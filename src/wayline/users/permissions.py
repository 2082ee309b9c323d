"""What a user may do in the UI: Open WebUI's permission document, the admin's defaults merged with
the `permissions` of every group the user belongs to (inherited groups included), the most
permissive value winning (`utils/access_control.py` `get_permissions`).

The defaults live in the runtime configuration (section `user.permissions`, admin-editable through
`/api/v1/users/default/permissions`); unset keys take Open WebUI's shipped defaults. Wayline
reports these documents for clients that read them; its own access rules are the grants.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from wayline.core.runtime_config import RuntimeConfig
from wayline.users.group_repository import GroupRepository
from wayline.users.schemas import UserInfo
from wayline.users.tables import Group

SECTION = "user.permissions"


class WorkspacePermissions(BaseModel):
    models: bool = False
    knowledge: bool = False
    prompts: bool = False
    tools: bool = False
    skills: bool = False
    models_import: bool = False
    models_export: bool = False
    models_hidden: bool = False
    prompts_import: bool = False
    prompts_export: bool = False
    tools_import: bool = False
    tools_export: bool = False
    skills_import: bool = False
    skills_export: bool = False


class SharingPermissions(BaseModel):
    models: bool = False
    public_models: bool = False
    knowledge: bool = False
    public_knowledge: bool = False
    prompts: bool = False
    public_prompts: bool = False
    tools: bool = False
    public_tools: bool = False
    skills: bool = False
    public_skills: bool = False
    notes: bool = False
    public_notes: bool = False
    folders: bool = False
    public_chats: bool = False
    open_chats: bool = False
    public_calendars: bool = False


class AccessGrantsPermissions(BaseModel):
    allow_users: bool = True
    allow_groups: bool = True


class ChatPermissions(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    controls: bool = True
    valves: bool = True
    system_prompt: bool = True
    params: bool = True
    file_upload: bool = True
    web_upload: bool = True
    delete: bool = True
    delete_message: bool = True
    continue_response: bool = True
    regenerate_response: bool = True
    rate_response: bool = True
    edit: bool = True
    share: bool = True
    export: bool = True
    import_: bool = Field(default=True, alias="import")
    stt: bool = True
    tts: bool = True
    call: bool = True
    multiple_models: bool = True
    temporary: bool = True
    temporary_enforced: bool = False


class FeaturesPermissions(BaseModel):
    api_keys: bool = False
    notes: bool = True
    channels: bool = True
    encrypted_channels: bool = False
    folders: bool = True
    direct_tool_servers: bool = False
    web_search: bool = True
    image_generation: bool = True
    code_interpreter: bool = True
    memories: bool = True
    automations: bool = False
    calendar: bool = True
    webhooks: bool = False


class SettingsPermissions(BaseModel):
    interface: bool = True


class UserPermissions(BaseModel):
    """The default permissions (the form of `POST /api/v1/users/default/permissions`: every
    section required, unknown keys dropped, as Open WebUI's)."""

    workspace: WorkspacePermissions
    sharing: SharingPermissions
    access_grants: AccessGrantsPermissions
    chat: ChatPermissions
    features: FeaturesPermissions
    settings: SettingsPermissions

    def document(self) -> dict[str, Any]:
        """As stored and answered: Open WebUI's key names (`chat.import`)."""
        return self.model_dump(by_alias=True)


def shipped_defaults() -> UserPermissions:
    """Open WebUI's defaults, before any admin change."""
    return UserPermissions(
        workspace=WorkspacePermissions(),
        sharing=SharingPermissions(),
        access_grants=AccessGrantsPermissions(),
        chat=ChatPermissions(),
        features=FeaturesPermissions(),
        settings=SettingsPermissions(),
    )


def combine(permissions: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` merged into `permissions` (in place), the most permissive value winning: a key
    true in either is true; nested sections merge key by key."""
    for key, value in overlay.items():
        if isinstance(value, dict):
            below = permissions.get(key)
            permissions[key] = combine(below if isinstance(below, dict) else {}, value)
        elif key not in permissions:
            permissions[key] = value
        else:
            permissions[key] = permissions[key] or value
    return permissions


def merged(defaults: UserPermissions, groups: Iterable[dict[str, Any] | None]) -> dict[str, Any]:
    """The defaults combined with each group's `permissions` document."""
    result = copy.deepcopy(defaults.document())
    for group_permissions in groups:
        combine(result, group_permissions or {})
    return result


class PermissionService:
    def __init__(self, session: AsyncSession, config: RuntimeConfig) -> None:
        self.session = session
        self.config = config

    async def defaults(self) -> UserPermissions:
        return await self.config.get(SECTION, shipped_defaults())

    async def set_defaults(self, form: UserPermissions) -> dict[str, Any]:
        await self.config.update(SECTION, form)
        return form.document()

    async def of(self, user: UserInfo) -> dict[str, Any]:
        """The user's permissions: the defaults and each of their groups' (read now, not from
        the credential's copy, so a change shows at once)."""
        groups = GroupRepository(self.session)
        ids = await groups.effective_group_ids(user.id)
        return merged(await self.defaults(), [g.permissions for g in await groups.by_ids(ids)])

    async def of_group(self, group: Group) -> tuple[dict[str, Any], dict[str, Any]]:
        """What a member of `group` inherits (the defaults and the groups above it), and that
        combined with the group's own permissions."""
        ancestors = await GroupRepository(self.session).ancestors(group.id)
        inherited = merged(await self.defaults(), [g.permissions for g in ancestors])
        return inherited, combine(copy.deepcopy(inherited), group.permissions or {})
