"""BRIDGE_UNCERTAIN_SENDS: a send whose outcome is unknown is sent again (resend, counted) or
reported to amoCRM as possibly undelivered and not sent again (report)."""

from __future__ import annotations

import pytest

from bridge.errors import DeliveryOutcomeUnknownError, NotResentError
from bridge.jobs import JobKind
from storage.models import DeliveryStatus
from tests.bridge.delivery.conftest import Rig, operator_writes

LATE = DeliveryOutcomeUnknownError("Telegram did not answer in time after the request was sent")


async def test_resend_sends_again_after_an_unknown_outcome_and_counts_it(chatting: Rig) -> None:
    rig = chatting
    await operator_writes(rig, "Your order shipped")
    rig.channel.fail_next("send", LATE)
    job = await rig.job(JobKind.PROCESS_HOOK)
    with pytest.raises(DeliveryOutcomeUnknownError):
        await rig.outbound.run_hook(job)  # transient: the worker retries it
    assert rig.resends == ["unknown_outcome"]
    retry = await rig.job(JobKind.PROCESS_HOOK, attempts=2)
    await rig.outbound.run_hook(retry)
    await rig.complete(retry)
    assert [m.text for _, _, m in rig.channel.sent] == ["Your order shipped"]
    assert [s.body["delivery_status"] for s in rig.emulator.delivery_statuses] == [1]


async def test_report_fails_the_message_visibly_and_never_sends_it_again(chatting: Rig) -> None:
    rig = chatting
    outbound = rig.outbound_under("report")
    amojo_id = await operator_writes(rig, "Your order shipped")
    rig.channel.fail_next("send", LATE)
    job = await rig.job(JobKind.PROCESS_HOOK)
    with pytest.raises(NotResentError) as raised:
        await outbound.run_hook(job)
    await outbound.hook_dead(job, raised.value)
    async with rig.store.read() as uow:
        link = await uow.links.by_amojo_msgid(amojo_id)
        [report] = await uow.jobs.list(kind=JobKind.REPORT_DELIVERY)
    assert link is not None and link.status == DeliveryStatus.FAILED
    assert report.payload["status"] == -1
    assert "may not have reached the customer" in report.payload["error"]
    assert "did not answer in time" in report.payload["error"]
    assert rig.resends == []


async def test_report_does_not_resend_after_an_interrupted_attempt(chatting: Rig) -> None:
    rig = chatting
    outbound = rig.outbound_under("report")
    await operator_writes(rig, "Your order shipped")
    job = await rig.job(JobKind.PROCESS_HOOK, attempts=2, interrupted=True)
    with pytest.raises(NotResentError, match="the bridge stopped while it was being sent"):
        await outbound.run_hook(job)
    assert rig.channel.sent == []


async def test_resend_after_an_interrupted_attempt_sends_and_counts_it(chatting: Rig) -> None:
    rig = chatting
    await operator_writes(rig, "Your order shipped")
    job = await rig.job(JobKind.PROCESS_HOOK, attempts=2, interrupted=True)
    await rig.outbound.run_hook(job)
    assert [m.text for _, _, m in rig.channel.sent] == ["Your order shipped"]
    assert rig.resends == ["interrupted"]


async def test_an_interrupted_attempt_whose_send_was_recorded_is_not_uncertain(
    chatting: Rig,
) -> None:
    rig = chatting
    outbound = rig.outbound_under("report")
    await operator_writes(rig, "Your order shipped")
    first = await rig.job(JobKind.PROCESS_HOOK)
    await outbound.run_hook(first)  # sent and recorded; the process dies before completing
    again = await rig.job(JobKind.PROCESS_HOOK, attempts=2, interrupted=True)
    await outbound.run_hook(again)
    assert len(rig.channel.sent) == 1
