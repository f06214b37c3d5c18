"""Job kinds, their payload codecs, and the handler table the worker runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from bridge.messages import InboundEdit, InboundEvent, InboundMessage, InboundReaction

if TYPE_CHECKING:
    from storage import UnitOfWork


class JobKind(StrEnum):
    DELIVER_INBOUND = "deliver_inbound"  # customer → amoCRM
    PROCESS_HOOK = "process_amojo_hook"  # amoCRM hook → customer
    REPORT_DELIVERY = "report_delivery"  # delivery status → amoCRM
    REJECTED_UPDATE = "rejected_update"  # an update no adapter could read; kept for inspection
    REJECTED_HOOK = "rejected_hook"  # a signed hook the bridge could not read; kept likewise


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a handler learns about the job it runs."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    connection_id: str | None
    # The previous attempt stopped without ending (the process died mid-run, or its lease ran
    # out): what it was doing may or may not have happened.
    interrupted: bool = False
    # Writes that commit together with the job's completion (see ``on_success``).
    success_writes: list[Callable[[UnitOfWork], Awaitable[object]]] = field(default_factory=list)

    def on_success(self, write: Callable[[UnitOfWork], Awaitable[object]]) -> None:
        """Record ``write`` in the transaction that marks this job done, not in one of its own.

        For what only matters once the job succeeded (a message marked delivered): it costs
        no commit. If the process dies first, the job runs again, so the job must find out
        by itself that its work was done (and write this again).
        """
        self.success_writes.append(write)


Run = Callable[[JobContext], Awaitable[None]]
OnDead = Callable[[JobContext, BaseException], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobHandler:
    run: Run
    on_dead: OnDead | None = None  # called once when the job fails for good


HandlerTable = Mapping[str, JobHandler]


# -- codecs: events are stored in job payloads as plain JSON ---------------------------------
# The event dataclasses are their own schema: pydantic validates a payload back into them.
# Payloads carry a ``type`` tag; payloads stored before a field existed simply lack it.

_EVENT_TYPES: dict[str, type[InboundMessage | InboundEdit | InboundReaction]] = {
    "message": InboundMessage,
    "edit": InboundEdit,
    "reaction": InboundReaction,
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    tag: TypeAdapter(event_type) for tag, event_type in _EVENT_TYPES.items()
}
_TAGS: dict[type, str] = {event_type: tag for tag, event_type in _EVENT_TYPES.items()}


def event_to_payload(event: InboundEvent) -> dict[str, Any]:
    tag = _TAGS[type(event)]
    data: dict[str, Any] = _ADAPTERS[tag].dump_python(event, mode="json")
    return data | {"type": tag}


def payload_to_event(data: dict[str, Any]) -> InboundEvent:
    adapter = _ADAPTERS.get(data.get("type", "message"))
    if adapter is None:
        raise ValueError(f"unknown event type {data.get('type')!r} in a job payload")
    event: InboundEvent = adapter.validate_python(data)
    return event
