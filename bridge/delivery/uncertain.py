"""What to do with a send to a customer whose outcome is unknown (``BRIDGE_UNCERTAIN_SENDS``).

A send is *known* to have failed when the messenger refused it or was never reached (connection
refused): it is retried as any failure. Its outcome is *unknown* when the request went out and no
answer came back (a read timeout, a connection dropped mid-answer: the adapter raises
``DeliveryOutcomeUnknownError``), or when the attempt that was sending it stopped without
ending (the process died between the send and the commit that records it; the job's claim
was committed before the send, so the next attempt knows: ``JobContext.interrupted``).

- ``resend`` (the default): at least once. The message is sent again; the customer may, rarely,
  see it twice. Each such resend is logged and counted (``bridge_uncertain_resends_total``).
- ``report``: at most once. The message is not sent again; amoCRM shows it as not delivered
  (status -1) with a reason saying it may not have reached the customer, and
  ``amo-bridge retry`` replays it on an operator's word.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from bridge.errors import DeliveryOutcomeUnknownError, NotResentError
from bridge.jobs import JobContext

log = logging.getLogger(__name__)

T = TypeVar("T")
Policy = Literal["resend", "report"]

INTERRUPTED_SEND = "the bridge stopped while it was being sent"


def not_resent_reason(why: str) -> str:
    """The delivery error an operator reads in amoCRM under the ``report`` policy."""
    return (
        f"The message may not have reached the customer ({why}). It was not sent again, "
        "so that it cannot arrive twice; replay it with 'amo-bridge retry' if the customer "
        "did not get it."
    )


class UncertainSends:
    def __init__(self, policy: Policy, on_resend: Callable[[str], None]) -> None:
        self._policy = policy
        self._on_resend = on_resend

    async def send(self, job: JobContext, send: Callable[[], Awaitable[T]]) -> T:
        """``send()`` under the policy, for the job that is to deliver one message."""
        extra = {"job_id": job.id, "connection_id": job.connection_id}
        if job.interrupted:
            if self._policy == "report":
                raise NotResentError(not_resent_reason(INTERRUPTED_SEND))
            log.warning(
                "sending again a message whose earlier attempt was interrupted: "
                "the customer may see it twice",
                extra=extra,
            )
            self._on_resend("interrupted")
        try:
            return await send()
        except DeliveryOutcomeUnknownError as error:
            if self._policy == "report":
                raise NotResentError(not_resent_reason(str(error))) from error
            log.warning(
                "the send's outcome is unknown; it will be sent again and the customer may "
                "see it twice: %s",
                error,
                extra=extra,
            )
            self._on_resend("unknown_outcome")
            raise
