"""What a :class:`~xmppwire.session.StreamSession` reports to its caller.

Small frozen values; match on the exact type, don't subclass them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import ElementReceived, StreamHeader
from .negotiation import StreamFeatures
from .stream_errors import StreamError

__all__ = [
    "Authenticated",
    "AuthenticationFailed",
    "BindingFailed",
    "CloseTransport",
    "Event",
    "FeaturesReceived",
    "HeaderReceived",
    "PeerClosed",
    "StanzaReceived",
    "StartTLS",
    "StreamErrorReceived",
    "StreamErrorSent",
    "StreamReady",
    "TLSFailed",
]


class Event:
    """Base of the session's events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderReceived(Event):
    """The peer's stream header arrived (again after each restart)."""

    header: StreamHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class FeaturesReceived(Event):
    """The initiating side read the receiving side's ``<stream:features/>``."""

    features: StreamFeatures


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTLS(Event):
    """Start TLS on the transport now, then call ``tls_started()``.

    Write whatever ``data_to_send()`` still holds in plaintext first (the
    receiving side's ``<proceed/>``). ``pending`` are bytes that arrived
    after ``<starttls/>``/``<proceed/>`` in the same read: the start of the TLS
    handshake, never XML. Hand them to the TLS layer, not to ``receive_data()``.
    """

    pending: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSFailed(Event):
    """The receiving side answered ``<starttls/>`` with ``<failure/>``; it closes the stream."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticated(Event):
    """SASL succeeded (either side); the stream restarts."""

    mechanism: str
    #: The authenticated identity: the username (authcid) the client gave.
    username: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticationFailed(Event):
    """SASL failed with an RFC 6120 §6.5 condition (``not-authorized``, ``aborted``...).

    The initiating side stays in negotiation; ``close()`` is the usual answer.
    The receiving side reports each failed attempt; the peer may try again.
    """

    condition: str
    text: str | None = None
    mechanism: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BindingFailed(Event):
    """Resource binding was refused with a stanza error (``conflict``, ``not-allowed``...)."""

    condition: str
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamReady(Event):
    """Negotiation is over: stanzas may flow.

    ``jid`` is our address on the stream (the bound full JID of a client;
    a server's domain; our link-local name), ``peer`` the peer's (the client's
    bound full JID on a server; the initiating domain or contact).
    """

    jid: str | None = None
    peer: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StanzaReceived(Event):
    """A top-level element after negotiation (or while our close is pending).

    Stanzas (``message``, ``presence``, ``iq``) and any other first-level
    element (XEP-0198's ``<r/>``...) alike; ``element.raw`` is exactly what
    arrived.
    """

    element: ElementReceived

    @property
    def is_stanza(self) -> bool:
        return self.element.name in ("message", "presence", "iq") and self.element.namespace in (
            "jabber:client",
            "jabber:server",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamErrorReceived(Event):
    """The peer sent ``<stream:error/>``. Our closing tag is already queued."""

    error: StreamError


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamErrorSent(Event):
    """The peer broke the protocol; ``data_to_send()`` holds our stream error and closing tag."""

    error: StreamError
    #: Where in the peer's stream (bytes since the last restart) the parser
    #: found the fault, when it came from parsing.
    offset: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerClosed(Event):
    """The peer's ``</stream:stream>`` arrived. Ours is queued or already sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseTransport(Event):
    """The stream is over: write what ``data_to_send()`` holds, then send TLS
    close_notify (if TLS is up) and close the TCP connection.

    ``reason``: ``"closed"`` (both closing tags exchanged), ``"timeout"`` (the
    peer never answered our closing tag: close without any error condition),
    ``"error"`` (the peer's bytes could not be parsed any further),
    ``"eof"`` (the transport ended without the peer's closing tag).
    """

    reason: str
