"""Exceptions shared by every layer and by both implementations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "STREAM_ERROR_CONDITIONS",
    "InvalidJID",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "XMPPWireError",
]

#: The 25 defined conditions of RFC 6120 §4.9.3, in the RFC's order.
STREAM_ERROR_CONDITIONS: frozenset[str] = frozenset(
    {
        "bad-format",
        "bad-namespace-prefix",
        "conflict",
        "connection-timeout",
        "host-gone",
        "host-unknown",
        "improper-addressing",
        "internal-server-error",
        "invalid-from",
        "invalid-namespace",
        "invalid-xml",
        "not-authorized",
        "not-well-formed",
        "policy-violation",
        "remote-connection-failed",
        "reset",
        "resource-constraint",
        "restricted-xml",
        "see-other-host",
        "system-shutdown",
        "undefined-condition",
        "unsupported-encoding",
        "unsupported-feature",
        "unsupported-stanza-type",
        "unsupported-version",
    }
)


class XMPPWireError(Exception):
    """Base class of every exception xmppwire raises."""


class ProtocolError(XMPPWireError):
    """Something broke the XMPP protocol. Never raised itself: see the two subclasses."""

    def __init__(self, message: str, *args: Any) -> None:
        if type(self) is ProtocolError:
            raise TypeError("raise LocalProtocolError or RemoteProtocolError, not ProtocolError")
        super().__init__(message, *args)

    @property
    def message(self) -> str:
        return str(self.args[0])


class LocalProtocolError(ProtocolError):
    """The caller asked for something the protocol does not allow in the current state."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``condition`` is the RFC 6120 §4.9.3 stream error condition to answer with,
    ``offset`` the byte offset in the stream (since the last reset) where the
    offending construct starts, when the error comes from parsing. ``events``
    holds what the same ``feed()`` call had completed before the error, so
    nothing already accepted is lost.
    """

    condition: str
    offset: int | None
    events: tuple[Any, ...]

    def __init__(
        self,
        message: str,
        *,
        condition: str = "bad-format",
        offset: int | None = None,
        events: Sequence[Any] = (),
    ) -> None:
        if condition not in STREAM_ERROR_CONDITIONS:
            raise ValueError(f"not an RFC 6120 stream error condition: {condition!r}")
        super().__init__(message)
        self.condition = condition
        self.offset = offset
        self.events = tuple(events)

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.args[0]} ({self.condition}{where})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.args[0]!r}, condition={self.condition!r}, "
            f"offset={self.offset!r})"
        )


class InvalidJID(XMPPWireError, ValueError):
    """A string is not a valid JID under RFC 7622.

    ``part`` names the part that broke a rule (``"localpart"``, ``"domainpart"``,
    ``"resourcepart"`` or ``"jid"`` for the whole), ``rule`` says which rule.
    """

    part: str
    rule: str

    def __init__(self, message: str, *, part: str = "jid", rule: str = "") -> None:
        super().__init__(message)
        self.part = part
        self.rule = rule
