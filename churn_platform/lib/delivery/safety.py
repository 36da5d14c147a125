"""Message safety: one valid address per message, no header injection, names quoted per RFC 5322.

Every check raises ``InvalidAddressError`` (a ``PermanentError``) with a reason fit for the ledger, so a bad
address refuses that one message and never stops a campaign.
"""

from __future__ import annotations

import email.errors
import email.utils
import re
from email.headerregistry import Address

from churn_platform.lib.delivery.core import PermanentError

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
"""An E.164 phone number: ``+``, a country code that does not start with 0, at most 15 digits in all."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidAddressError(PermanentError):
    """An address or display name the platform will not put on a message (the reason says why)."""


def clean_text(value: object, what: str) -> str:
    """A single-line header value (a name, a subject); a line break or another control character is refused."""
    text = "" if value is None else str(value)
    if "\r" in text or "\n" in text:
        raise InvalidAddressError(f"invalid_{what}: the {what} contains a line break")
    if _CONTROL.search(text):
        raise InvalidAddressError(f"invalid_{what}: the {what} contains a control character")
    return text.strip()


def email_address(value: object) -> str:
    """One plain addr-spec (``local@domain``): no list, no display name, no CR/LF; else ``InvalidAddressError``."""
    raw = "" if value is None else str(value)
    if not raw.strip():
        raise InvalidAddressError("no_address: the customer has no email address")
    if "\r" in raw or "\n" in raw:
        raise InvalidAddressError("invalid_address: the email address contains a line break")
    text = raw.strip()
    if any(c in text for c in ',;<>"()') or _CONTROL.search(text) or " " in text:
        raise InvalidAddressError(f"invalid_address: {text[:80]!r} is not one plain email address")
    parsed = email.utils.getaddresses([text])
    if len(parsed) != 1 or parsed[0][1] != text:
        raise InvalidAddressError(f"invalid_address: {text[:80]!r} is not one plain email address")
    try:
        address = Address(addr_spec=text)
    except (email.errors.HeaderParseError, ValueError, IndexError) as exc:
        raise InvalidAddressError(f"invalid_address: {text[:80]!r}: {exc}") from None
    if not address.domain or "." not in address.domain or not address.username:
        raise InvalidAddressError(f"invalid_address: {text[:80]!r} has no usable domain")
    return text


def mailbox(name: object, address: str) -> str:
    """``"Display Name" <addr>`` as RFC 5322 wants it (quoted when it holds specials such as a comma)."""
    return str(Address(display_name=clean_text(name, "name"), addr_spec=email_address(address)))


def phone_number(value: object) -> str:
    """An E.164 number (``+4915123456789``); spaces, dots, dashes and brackets are dropped first."""
    raw = "" if value is None else str(value)
    if not raw.strip():
        raise InvalidAddressError("no_address: the customer has no phone number")
    if "\r" in raw or "\n" in raw or "," in raw or ";" in raw:
        raise InvalidAddressError("invalid_address: the phone number is not one number")
    compact = re.sub(r"[\s.\-()]", "", raw)
    if not E164.match(compact):
        raise InvalidAddressError(f"invalid_address: {raw.strip()[:40]!r} is not an E.164 phone number")
    return compact


def plain_id(value: object, what: str = "recipient") -> str:
    """An identifier used as an in-app or task recipient: one line, not empty."""
    text = clean_text(value, what)
    if not text:
        raise InvalidAddressError(f"no_address: no {what}")
    return text
