"""Secrets never leave: not in logs (at any level), not in URLs handed to amoCRM, not in errors."""

from __future__ import annotations

import logging
import uuid

import pytest

from bridge.logging import redact
from bridge.sandbox.harness import SandboxBridge
from tests.e2e.conftest import CUSTOMER, TOKEN, Connected


async def test_no_secret_in_logs_or_in_what_amocrm_receives(
    connected: Connected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = connected.bridge.settings
    secrets = [
        TOKEN,
        TOKEN.split(":", 1)[1],
        settings.channel_secret.get_secret_value(),
        settings.secret_key.get_secret_value() if settings.secret_key else "",
    ]
    await connected.customer_writes("Hi")
    connected.telegram.fail_server_next("sendMessage", 1, status=502)
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "after a 502"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 1)
    connected.telegram.block_user(CUSTOMER)
    await connected.amojo.send_operator_message(
        connected.scope_id, connected.conversation_id(), "blocked"
    )
    await connected.amojo.wait_for(lambda: len(connected.amojo.delivery_statuses) == 2)
    seen_by_amocrm = repr([m.payload for m in connected.amojo.messages]) + repr(
        [s.body for s in connected.amojo.delivery_statuses]
    )
    logged = caplog.text
    assert [m.params["text"] for m in connected.telegram.sent_to(CUSTOMER)] == ["after a 502"]
    assert connected.amojo.delivery_statuses[1].body["error_code"] == 901
    for secret in filter(None, secrets):
        assert secret not in logged
        assert secret not in seen_by_amocrm


async def test_a_connected_bots_token_is_redacted_from_log_lines(sandbox: SandboxBridge) -> None:
    # Fresh per test (registration is process-wide) and too short for the token pattern: only
    # the bridge registering the token it loaded can keep it out of the logs.
    secret = f"s{uuid.uuid4().hex[:9]}"
    token = f"{4242100 + len(secret)}:{secret}"
    line = f"GET /bot{token}/getMe failed; secret {secret}"
    assert secret in redact(line)
    sandbox.telegram.add_bot(token, "redacted_bot", "Redacted")
    await sandbox.container.accounts.connect(str(uuid.uuid4()), token, "Redaction")
    assert redact(line) == "GET /bot<redacted>/getMe failed; secret <redacted>"
