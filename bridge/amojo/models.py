"""Chats API v2 bodies as typed models: hooks (in) and requests (out).

A hook is validated once, where it enters the bridge.

Anything amoCRM (or whoever holds the channel secret) sends is bounded here: ids fit the
columns they end up in, strings carry no NUL and no lone surrogate (PostgreSQL refuses both),
numbers are finite integers. A hook that does not fit is refused with a reason, never half-read.
The same model decodes the hook again from the job payload (``AmojoHook.model_dump_json``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import from_json

from bridge.errors import UnsupportedHookError

__all__ = [
    "AmojoHook",
    "ConnectRequest",
    "CreateChat",
    "DeliveryStatusUpdate",
    "DisconnectRequest",
    "EditedMessage",
    "EmbeddedMessage",
    "Forwards",
    "MessageContent",
    "MessageTarget",
    "NewMessage",
    "Participant",
    "QuotedMessage",
    "ReactionRequest",
    "TypingRequest",
    "HookAction",
    "HookContent",
    "HookConversation",
    "HookEnvelope",
    "ReactionAction",
    "TypingAction",
    "decode_hook",
    "describe_error",
    "parse_hook_body",
]


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL character in a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("lone surrogate in a string") from None
    return value


def _empty_is_zero(value: object) -> object:
    # The docs: "file_name, file_size may be "" and 0 even for media".
    return 0 if value == "" or value is None else value


# Column widths: message_link.amojo_msgid and conversation.amojo_chat_id are 64 wide.
AmojoId = Annotated[str, StringConstraints(max_length=64), AfterValidator(_clean)]
RequiredId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_clean)]
# Our conversation_id (conversation.amojo_conversation_id is 128 wide); it also orders hooks in
# job.lock_key (160 wide) after "out:" and a 32-character connection id, hence 120.
ClientId = Annotated[str, StringConstraints(max_length=120), AfterValidator(_clean)]
# Our msgid (message_link.bridge_msgid is 160 wide).
MsgId = Annotated[str, StringConstraints(max_length=160), AfterValidator(_clean)]
ShortText = Annotated[str, StringConstraints(max_length=255), AfterValidator(_clean)]
Text = Annotated[str, StringConstraints(max_length=65_536), AfterValidator(_clean)]
Count = Annotated[int, BeforeValidator(_empty_is_zero), Field(ge=0, lt=2**53)]
Moment = Annotated[int, Field(ge=0, lt=2**53)]


class _Model(BaseModel):
    # Fields the bridge does not use are dropped: what is stored is what was validated.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)


class HookConversation(_Model):
    id: AmojoId | None = None  # amoCRM's chat id
    client_id: ClientId | None = None  # our conversation_id; missing in "write first" chats


class HookButton(_Model):
    text: ShortText | None = None
    url: Text | None = None


class HookMarkup(_Model):
    mode: ShortText | None = None
    # Rows of buttons; a row may also be a single button.
    buttons: list[list[HookButton] | HookButton] | None = Field(default=None, max_length=100)


class HookEmbedded(_Model):
    id: AmojoId | None = None
    msgid: MsgId | None = None
    client_id: MsgId | None = None


class HookReply(_Model):
    message: HookEmbedded | None = None


class HookContent(_Model):
    id: RequiredId
    type: Annotated[str, StringConstraints(min_length=1, max_length=32), AfterValidator(_clean)]
    text: Text = ""
    media: Text = ""
    file_name: ShortText = ""
    file_size: Count = 0
    markup: HookMarkup | None = None
    reply_to: HookReply | None = None
    media_group_id: ShortText | None = None


class HookEnvelope(_Model):
    conversation: HookConversation = HookConversation()
    timestamp: Moment | None = None
    msec_timestamp: Moment | None = None
    message: HookContent


class HookUser(_Model):
    id: AmojoId | None = None


class TypingAction(_Model):
    user: HookUser | None = None
    conversation: HookConversation = HookConversation()
    expired_at: Moment | None = None


class ReactionTarget(_Model):
    id: AmojoId | None = None
    client_id: MsgId | None = None


class ReactionAction(_Model):
    message: ReactionTarget | None = None
    msgid: MsgId | None = None
    user: HookUser | None = None
    conversation: HookConversation = HookConversation()
    type: Literal["react", "unreact"] = "react"
    emoji: ShortText | None = None

    def targets(self) -> tuple[str, ...]:
        """amoCRM's id and/or our msgid of the message reacted to (the docs disagree where)."""
        message = self.message or ReactionTarget()
        ids = (message.id, message.client_id, self.msgid)
        return tuple(dict.fromkeys(i for i in ids if i))


class HookAction(_Model):
    typing: TypingAction | None = None
    reaction: ReactionAction | None = None
    user: HookUser | None = None  # where the docs' table puts the typing user


HookKind = Literal["message", "typing", "reaction"]


class AmojoHook(_Model):
    """A hook body. Kinds are told apart by their top-level keys (spec §5)."""

    account_id: RequiredId
    time: Moment | None = None  # when amoCRM generated the hook (Unix seconds)
    message: HookEnvelope | None = None
    action: HookAction | None = None

    @model_validator(mode="after")
    def _one_known_kind(self) -> AmojoHook:
        if self.message is None and (
            self.action is None or (self.action.typing is None and self.action.reaction is None)
        ):
            raise ValueError("unknown hook kind: neither message, action.typing nor reaction")
        if self.kind == "reaction" and not self._reaction.targets():
            raise ValueError("reaction hook names no message")
        return self

    @property
    def kind(self) -> HookKind:
        if self.message is not None:
            return "message"
        assert self.action is not None
        return "typing" if self.action.typing is not None else "reaction"

    @property
    def _reaction(self) -> ReactionAction:
        assert self.action is not None and self.action.reaction is not None
        return self.action.reaction

    @property
    def conversation(self) -> HookConversation:
        if self.message is not None:
            return self.message.conversation
        assert self.action is not None
        if self.action.typing is not None:
            return self.action.typing.conversation
        return self._reaction.conversation

    @property
    def amojo_msgid(self) -> str | None:
        """amoCRM's id of the message a message hook carries (what deduplicates it)."""
        return self.message.message.id if self.message is not None else None

    @property
    def order_key(self) -> str | None:
        """Which amoCRM chat the hook belongs to: hooks of one chat are delivered in order."""
        conversation = self.conversation
        return conversation.client_id or conversation.id or None

    @property
    def media_group_id(self) -> str | None:
        """Set on each hook of a message with several files (one hook per file)."""
        return self.message.message.media_group_id or None if self.message is not None else None

    def to_payload(self) -> dict[str, Any]:
        """What a job stores: the validated fields only, as plain JSON."""
        return self.model_dump(mode="json", exclude_none=True)


def describe_error(error: ValidationError) -> str:
    """One line naming what is wrong and where, never the offending input itself."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False)[:5]:
        where = ".".join(str(step) for step in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_hook_body(body: bytes) -> AmojoHook:
    """Validate a hook as received. Raises ``ValueError`` (not JSON: NaN and Infinity are not
    JSON; nesting deeper than the parser's limit) or ``ValidationError`` (not a hook we read)."""
    return AmojoHook.model_validate(from_json(body, allow_inf_nan=False))


def decode_hook(payload: object) -> AmojoHook:
    """A hook from a job payload (stored validated; older jobs stored the raw body)."""
    try:
        return AmojoHook.model_validate(payload)
    except ValidationError as error:
        raise UnsupportedHookError(f"stored hook is unreadable: {describe_error(error)}") from None


# -- requests to the Chats API (spec §4): what the bridge sends, typed as the API types it ------


class _Request(BaseModel):
    # A misspelt field is a bug of ours, not something to send: refuse it.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    def body(self) -> dict[str, Any]:
        """The JSON object sent: fields left unset are left out (the API types them strictly)."""
        return self.model_dump(mode="json", exclude_none=True)


class Participant(_Request):
    """``sender`` / ``user`` of a message or chat: our participant id and how it shows."""

    id: str
    name: str | None = None
    profile_link: str | None = None


class GeoPoint(_Request):
    lon: float
    lat: float


class ContactBody(_Request):
    name: str
    phone: str


class MessageContent(_Request):
    """The ``message`` object of a new or edited message (spec §4.4)."""

    type: str
    text: str = ""
    media: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    media_duration: int | None = None
    sticker_id: str | None = None
    location: GeoPoint | None = None
    contact: ContactBody | None = None


class EmbeddedAuthor(_Request):
    name: str | None = None


class EmbeddedMessage(_Request):
    """A quoted or forwarded message described in full (its author by name only)."""

    type: str
    text: str = ""
    file_name: str | None = None
    file_size: int | None = None
    media_duration: int | None = None
    location: GeoPoint | None = None
    contact: ContactBody | None = None
    timestamp: int
    msec_timestamp: int
    sender: EmbeddedAuthor


class MessageTarget(_Request):
    """How a message of a chat is named: ``msgid`` (ours) or ``id`` (amoCRM's)."""

    msgid: str | None = None
    id: str | None = None


class QuotedMessage(_Request):
    message: MessageTarget


class Forwards(_Request):
    messages: list[EmbeddedMessage]


class NewMessage(_Request):
    """``payload`` of a ``new_message`` event."""

    timestamp: int
    msec_timestamp: int
    msgid: str
    conversation_id: str
    silent: bool = False
    sender: Participant
    message: MessageContent
    reply_to: QuotedMessage | None = None
    forwards: Forwards | None = None


class EditedMessage(_Request):
    """``payload`` of an ``edit_message`` event: the target by ``msgid`` or ``id``."""

    timestamp: int
    msec_timestamp: int
    msgid: str | None = None
    id: str | None = None
    conversation_id: str
    message: MessageContent


class ConnectRequest(_Request):
    account_id: str
    hook_api_version: Literal["v2"] = "v2"
    title: str | None = None
    is_time_window_disabled: bool | None = None


class DisconnectRequest(_Request):
    account_id: str


class CreateChat(_Request):
    conversation_id: str
    user: Participant


class DeliveryStatusUpdate(_Request):
    msgid: str  # amoCRM's id of the operator's message
    delivery_status: int  # 1 delivered, -1 failed (then with error_code and error)
    error_code: int | None = None
    error: str | None = None


class TypingRequest(_Request):
    conversation_id: str
    sender: Participant


class ReactionRequest(_Request):
    conversation_id: str
    user: Participant
    type: Literal["react", "unreact"]
    id: str | None = None  # amoCRM's id of the message, or
    msgid: str | None = None  # ours
    emoji: str | None = None
