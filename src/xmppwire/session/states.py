"""States and transitions of a stream session, as data.

The session fires one :class:`Trigger` per thing that happens, ours or the
peer's; the table for its role says which state follows. A pair missing from
the table is refused: ``LocalProtocolError`` for our triggers,
``RemoteProtocolError`` carrying :data:`REFUSAL_CONDITIONS`' condition for the
peer's (the session then sends that stream error).
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from ..errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "INITIATOR_TRANSITIONS",
    "LOCAL_TRIGGERS",
    "RECEIVER_TRANSITIONS",
    "REFUSAL_CONDITIONS",
    "Role",
    "SessionState",
    "StreamKind",
    "TLSPolicy",
    "Trigger",
    "next_state",
]


class Role(Enum):
    #: Opens the TCP connection and sends the first header (client, s2s
    #: initiator, link-local initiator).
    INITIATOR = "initiator"
    #: Answers the header and advertises features (server, link-local recipient).
    RECEIVER = "receiver"


class StreamKind(Enum):
    C2S = "c2s"
    S2S = "s2s"
    #: XEP-0174 serverless messaging.
    LINK_LOCAL = "link-local"

    @property
    def content_namespace(self) -> str:
        return "jabber:server" if self is StreamKind.S2S else "jabber:client"


class TLSPolicy(Enum):
    #: Initiator: start TLS when offered, give up the stream if it isn't.
    #: Receiver: offer STARTTLS as mandatory-to-negotiate.
    REQUIRED = "required"
    #: Initiator: start TLS when offered. Receiver: offer it, voluntary.
    OPTIONAL = "optional"
    #: Never TLS (the caller has none, or the stream is TLS from the first byte).
    DISABLED = "disabled"


class SessionState(Enum):
    #: Nothing sent or received yet.
    IDLE = "idle"
    #: Our header is sent (initiator) or a restart is due; the peer's header is awaited.
    OPENING = "opening"
    #: Both headers exchanged; features, STARTTLS, SASL, binding under way.
    NEGOTIATING = "negotiating"
    #: The caller must run the TLS handshake and call ``tls_started()``.
    STARTING_TLS = "starting-tls"
    #: Negotiated; stanzas flow both ways.
    READY = "ready"
    #: Our ``</stream:stream>`` is sent; nothing more may be written, the
    #: peer's data is still delivered until its closing tag or the deadline.
    CLOSING = "closing"
    #: Both streams closed (or given up): close TLS and TCP.
    CLOSED = "closed"


class Trigger(Enum):
    # Ours: methods of the session.
    OPEN = "open"
    SEND = "send"
    CLOSE = "close"
    SEND_ERROR = "send-error"
    TLS_STARTED = "tls-started"
    CLOSE_TIMEOUT = "close-timeout"
    # The peer's: what arrives, and what negotiation makes of it.
    HEADER = "header"
    NEGOTIATION = "negotiation"
    PROCEED = "proceed"
    RESTART = "restart"
    NEGOTIATED = "negotiated"
    STANZA = "stanza"
    STREAM_ERROR = "stream-error"
    CLOSE_TAG = "close-tag"
    EOF = "eof"
    #: The peer's bytes can't be parsed any further.
    UNPARSEABLE = "unparseable"


LOCAL_TRIGGERS: Final = frozenset(
    {
        Trigger.OPEN,
        Trigger.SEND,
        Trigger.CLOSE,
        Trigger.SEND_ERROR,
        Trigger.TLS_STARTED,
        Trigger.CLOSE_TIMEOUT,
    }
)

S = SessionState
T = Trigger

# What every live state allows: giving up, and the peer doing the same.
_ENDINGS: Final = {
    T.CLOSE: S.CLOSING,
    T.SEND_ERROR: S.CLOSING,
    T.STREAM_ERROR: S.CLOSING,
    T.CLOSE_TAG: S.CLOSED,
    T.EOF: S.CLOSED,
    T.UNPARSEABLE: S.CLOSED,
}

_NEGOTIATING: Final = {
    T.NEGOTIATION: S.NEGOTIATING,
    T.PROCEED: S.STARTING_TLS,
    T.RESTART: S.OPENING,
    T.NEGOTIATED: S.READY,
    **_ENDINGS,
}

_COMMON: Final = {
    S.STARTING_TLS: {T.TLS_STARTED: S.OPENING, T.EOF: S.CLOSED},
    S.READY: {T.SEND: S.READY, T.STANZA: S.READY, **_ENDINGS},
    S.CLOSING: {
        T.HEADER: S.CLOSING,
        T.NEGOTIATION: S.CLOSING,
        T.STANZA: S.CLOSING,
        T.STREAM_ERROR: S.CLOSING,
        T.CLOSE_TAG: S.CLOSED,
        T.CLOSE_TIMEOUT: S.CLOSED,
        T.EOF: S.CLOSED,
        T.UNPARSEABLE: S.CLOSED,
    },
    S.CLOSED: {T.EOF: S.CLOSED},
}

INITIATOR_TRANSITIONS: Final[dict[SessionState, dict[Trigger, SessionState]]] = {
    S.IDLE: {
        T.OPEN: S.OPENING,
        T.CLOSE: S.CLOSING,
        T.SEND_ERROR: S.CLOSING,
        T.EOF: S.CLOSED,
        T.UNPARSEABLE: S.CLOSED,
    },
    S.OPENING: {T.HEADER: S.NEGOTIATING, **_ENDINGS},
    S.NEGOTIATING: _NEGOTIATING,
    **_COMMON,
}

RECEIVER_TRANSITIONS: Final[dict[SessionState, dict[Trigger, SessionState]]] = {
    S.IDLE: {
        T.HEADER: S.NEGOTIATING,
        T.CLOSE: S.CLOSING,
        T.SEND_ERROR: S.CLOSING,
        T.EOF: S.CLOSED,
        T.UNPARSEABLE: S.CLOSED,
    },
    S.OPENING: {T.HEADER: S.NEGOTIATING, **_ENDINGS},
    S.NEGOTIATING: _NEGOTIATING,
    **_COMMON,
}

#: The stream error a refused trigger of the peer's earns, by role.
REFUSAL_CONDITIONS: Final[dict[tuple[Role, Trigger], str]] = {
    # RFC 6120 §4.9.3.12: data before authentication is not-authorized.
    (Role.RECEIVER, T.STANZA): "not-authorized",
    (Role.INITIATOR, T.STANZA): "unsupported-stanza-type",
    # The receiving side spoke before we opened.
    (Role.INITIATOR, T.HEADER): "bad-format",
}


def transitions(role: Role) -> dict[SessionState, dict[Trigger, SessionState]]:
    return INITIATOR_TRANSITIONS if role is Role.INITIATOR else RECEIVER_TRANSITIONS


def next_state(role: Role, state: SessionState, trigger: Trigger) -> SessionState:
    """The state after ``trigger`` in ``state``, or the refusal as an exception."""
    try:
        return transitions(role)[state][trigger]
    except KeyError:
        pass
    if trigger in LOCAL_TRIGGERS:
        raise LocalProtocolError(
            f"can't {trigger.value} in state {state.name} ({role.value})"
        ) from None
    condition = REFUSAL_CONDITIONS.get((role, trigger), "unsupported-stanza-type")
    raise RemoteProtocolError(
        f"the peer's {trigger.value} is not allowed in state {state.name}", condition=condition
    )
