"""The message every channel sends, how a send can fail, and the protocol a channel implements.

A send ends in one of four ways, and the ledger records which:

- accepted: the provider took the message and (usually) gave its id;
- ``TransientError`` (not accepted): the provider answered that it did not take it (429, 503) or could not
  be reached at all (connection refused): sending again cannot duplicate it;
- ``PermanentError`` (refused): the provider, or the platform's own checks, refused this message for good
  (a bad address, a 4xx): it is kept with its reason and never retried;
- ``OutcomeUnknownError``: the request left and no usable answer came back (a timeout, a dropped connection, a
  500/502/504): the provider may have accepted it. None of these providers takes an idempotency key, so the
  message is not sent again until the provider's own record (its delivery events or its query API) says
  whether it was accepted: see :meth:`Channel.reconcile`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


class DeliveryError(Exception):
    """A send that did not end in an accepted message."""


class TransientError(DeliveryError):
    """The provider did not take the message and may next time (429, 503, nobody listening)."""


class PermanentError(DeliveryError):
    """The message was refused for good (a 4xx other than 429, or an address the platform will not use)."""


class OutcomeUnknownError(DeliveryError):
    """The request was sent and no usable answer came back: the provider may have accepted the message."""


@dataclass(frozen=True)
class Outgoing:
    """One message to one recipient, fully rendered, identified by its ledger ``key``.

    ``to`` is the validated address for the channel (an email address, an E.164 phone number, the customer
    id for in-app, the assignee for a task); ``to_name`` the display name. ``template`` is the provider's
    template id where it has one (SendGrid dynamic templates) or the platform template's name; ``data`` the
    structured content a provider or webhook receives. ``text``/``html`` are the rendered bodies.
    """

    key: str
    to: str
    to_name: str = ""
    template: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    subject: str = ""
    text: str = ""
    html: str = ""
    language: str = "en"
    channel: str = "email"

    @property
    def to_email(self) -> str:
        """The address, under the name the email code has always used."""
        return self.to

    def as_record(self) -> dict[str, Any]:
        """What the ledger keeps of a sent message (to reconcile it later and to audit it)."""
        return {
            "key": self.key, "to": self.to, "to_name": self.to_name, "template": self.template,
            "data": self.data, "subject": self.subject, "text": self.text, "html": self.html,
            "language": self.language, "channel": self.channel,
        }  # fmt: skip

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Outgoing:
        return cls(**{k: record[k] for k in cls.__dataclass_fields__ if k in record})


Message = Outgoing
"""The name the alert and campaign email code used before the channel registry."""


Verdict = Literal["accepted", "not_accepted", "undecided"]


@dataclass(frozen=True)
class Reconciled:
    """What the provider's record says of a message whose outcome was unknown."""

    verdict: Verdict
    message_id: str | None = None
    evidence: str = ""


class Channel(Protocol):
    """A way out to customers or the team, behind one provider.

    ``name`` is the registry channel it serves (``email``, ``sms``, ``in_app``, ``team_task``), ``provider``
    what it talks to. ``send`` returns the provider's message id or raises one of the errors above.
    ``reconcile`` decides an unknown outcome from the provider's record; ``requested_at`` is when the
    request left (UTC), ``events`` the provider's delivery events received for this message's key. A channel whose receiver deduplicates by the ledger key (``resend_when_unknown``)
    may simply send again.
    """

    name: str
    provider: str
    resend_when_unknown: bool

    def send(self, message: Outgoing) -> str: ...

    def reconcile(
        self, message: Outgoing, requested_at: dt.datetime, now: dt.datetime, events: list[dict[str, Any]]
    ) -> Reconciled: ...
