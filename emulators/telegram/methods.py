"""Bot API methods of the Telegram emulator: one coroutine per method, over ``EmulatorState``,
and the ``METHODS`` table the HTTP surface dispatches by.

Each handler takes a ``Call`` (``call.py``) and returns the ``result`` Telegram would send, or
raises ``ApiError`` with Telegram's status and text. Checks run in roughly Telegram's order:
chat, then content, then files. Sending and fetching files is in ``media_methods.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from emulators.telegram.call import (
    Call,
    Handler,
    bool_param,
    int_param,
    record_sent,
    replied_message,
    required_message_id,
    send_from_bot,
    target_chat,
)
from emulators.telegram.markup import prepare_text
from emulators.telegram.media_methods import (
    MEDIA_KINDS,
    get_file,
    send_media,
    send_media_group,
)
from emulators.telegram.records import ChatState, Webhook
from emulators.telegram.rules import (
    CHAT_ACTIONS,
    DEFAULT_UPDATE_TYPES,
    ApiError,
    bad_request,
    check_allowed_updates,
    check_reactions,
    check_reply_markup,
    check_secret_token,
)

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


# --- account and updates -----------------------------------------------------------------------


async def get_me(call: Call) -> Any:
    extra = {
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }
    return {**call.bot.user, **extra}


async def log_out(call: Call) -> Any:
    return True


async def close(call: Call) -> Any:
    # After close the cloud server refuses the bot for ten minutes (see telegram-notes.md).
    call.bot.closed_until = time.monotonic() + 600
    return True


async def get_updates(call: Call) -> Any:
    state, bot, params = call.state, call.bot, call.params
    if bot.webhook is not None:
        raise _webhook_conflict()
    offset = int_param(params, "offset", 0) or 0
    limit = min(max(int_param(params, "limit", 100) or 100, 1), 100)
    timeout = min(max(int_param(params, "timeout", 0) or 0, 0), 50)
    if params.get("allowed_updates") is not None:
        allowed = check_allowed_updates(params["allowed_updates"])
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]
    bot.poll_generation += 1
    generation = bot.poll_generation
    state.notify()  # wakes an earlier poller, which must now give way
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if bot.poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        if bot.webhook is not None:
            raise _webhook_conflict()
        batch = bot.updates[:limit]
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or state.closing:
            state.mark_handed(bot, batch)
            return batch
        if call.disconnected is not None and call.disconnected.done():
            return []  # nobody listens; handing nothing out keeps the queue intact
        await state.wait_changed(remaining, *([call.disconnected] if call.disconnected else []))


def _webhook_conflict() -> ApiError:
    return ApiError(
        409,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first",
    )


async def set_webhook(call: Call) -> Any:
    state, bot, params = call.state, call.bot, call.params
    url = str(params.get("url") or "")
    if not url:
        state.set_webhook(bot, None)
        return True
    if not url.startswith(("https://", "http://")):
        # Plain http is let through: test receivers listen on loopback without TLS.
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None:
        check_secret_token(str(secret))
    if params.get("allowed_updates") is not None:
        allowed = check_allowed_updates(params["allowed_updates"])
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
    if bool_param(params, "drop_pending_updates"):
        bot.updates.clear()
    max_connections = min(max(int_param(params, "max_connections", 40) or 40, 1), 100)
    state.set_webhook(bot, Webhook(url, str(secret) if secret else None, max_connections))
    return True


async def delete_webhook(call: Call) -> Any:
    if bool_param(call.params, "drop_pending_updates"):
        call.bot.updates.clear()
    call.state.set_webhook(call.bot, None)
    return True


async def get_webhook_info(call: Call) -> Any:
    bot, webhook = call.bot, call.bot.webhook
    info: dict[str, Any] = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        info["ip_address"] = "127.0.0.1"
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        if bot.allowed_updates != DEFAULT_UPDATE_TYPES:
            info["allowed_updates"] = sorted(bot.allowed_updates)
    return info


# --- sending ---------------------------------------------------------------------------------


async def send_message(call: Call) -> Any:
    params = call.params
    chat = target_chat(call)
    text, entities = prepare_text(
        params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
    )
    markup = check_reply_markup(params.get("reply_markup"))
    reply_to = replied_message(call, chat)
    return send_from_bot(
        call, chat, reply_to_message=reply_to, text=text, entities=entities, reply_markup=markup
    )


async def send_chat_action(call: Call) -> Any:
    chat = target_chat(call)
    action = call.params.get("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    entry = {"bot_id": call.bot.bot_id, "chat_id": chat.chat_id, "action": action}
    call.state.chat_actions.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


async def set_message_reaction(call: Call) -> Any:
    chat = target_chat(call)
    message_id = required_message_id(call)
    if message_id not in chat.messages:
        raise bad_request("message to react not found")
    reaction = check_reactions(call.params.get("reaction"))
    chat.bot_reactions[message_id] = reaction
    entry = {
        "bot_id": call.bot.bot_id,
        "chat_id": chat.chat_id,
        "message_id": message_id,
        "reaction": reaction,
        "is_big": bool_param(call.params, "is_big"),
    }
    call.state.reactions_set.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


# --- editing and deleting ----------------------------------------------------------------------


def _editable(call: Call) -> tuple[ChatState, dict[str, Any]]:
    if call.params.get("inline_message_id"):
        raise bad_request("message to edit not found")  # no inline mode in the emulator
    chat = target_chat(call)
    message = chat.messages.get(required_message_id(call))
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != call.bot.bot_id:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(call: Call, chat: ChatState, old: dict[str, Any], **changes: Any) -> Any:
    markup = check_reply_markup(call.params.get("reply_markup"))
    new = {k: v for k, v in old.items() if k not in ("reply_markup", "edit_date")}
    for key, value in changes.items():
        new.pop(key, None)
        if value:
            new[key] = value
    if markup is not None:
        new["reply_markup"] = markup
    if new == {k: v for k, v in old.items() if k != "edit_date"}:
        raise bad_request(NOT_MODIFIED)
    new["edit_date"] = int(time.time())
    chat.messages[new["message_id"]] = new
    record_sent(call, chat, new)
    return new


async def edit_message_text(call: Call) -> Any:
    chat, old = _editable(call)
    if "text" not in old:
        raise bad_request("there is no text in the message to edit")
    params = call.params
    text, entities = prepare_text(
        params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
    )
    return _apply_edit(call, chat, old, text=text, entities=entities)


async def edit_message_caption(call: Call) -> Any:
    chat, old = _editable(call)
    if not any(kind in old for kind in MEDIA_KINDS):
        raise bad_request("there is no caption in the message to edit")
    params = call.params
    caption, entities = prepare_text(
        params.get("caption"),
        params.get("parse_mode"),
        params.get("caption_entities"),
        caption=True,
    )
    return _apply_edit(call, chat, old, caption=caption, caption_entities=entities)


async def edit_message_reply_markup(call: Call) -> Any:
    chat, old = _editable(call)
    return _apply_edit(call, chat, old)


async def delete_message(call: Call) -> Any:
    chat = target_chat(call)
    message_id = required_message_id(call)
    if chat.messages.pop(message_id, None) is None:
        raise bad_request("message to delete not found")
    entry = {"bot_id": call.bot.bot_id, "chat_id": chat.chat_id, "message_id": message_id}
    call.state.deleted.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


async def answer_callback_query(call: Call) -> Any:
    query_id = str(call.params.get("callback_query_id") or "")
    query = call.state.callback_queries.get(query_id)
    if query is None or query["bot_id"] != call.bot.bot_id or query["answered"]:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = call.params.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query["answered"] = True
    entry = {"bot_id": call.bot.bot_id, "callback_query_id": query_id, "text": text}
    call.state.callback_answers.append({**entry, "at": time.monotonic()})
    call.state.notify()
    return True


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": close,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "sendMessage": send_message,
    **{"send" + k.title().replace("_", ""): send_media(k) for k in MEDIA_KINDS},
    "sendMediaGroup": send_media_group,
    "sendChatAction": send_chat_action,
    "setMessageReaction": set_message_reaction,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "getFile": get_file,
}
# Telegram matches method names case-insensitively.
CANONICAL: dict[str, str] = {name.lower(): name for name in METHODS}
