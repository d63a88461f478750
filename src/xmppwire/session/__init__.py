"""Sans-I/O XMPP stream sessions: negotiation, stream errors, the close handshake.

Bytes in, events out; actions in, bytes out. See docs/session.md.
"""

from __future__ import annotations

from .binding import ResourceConflict, default_binder
from .connection import StreamSession
from .deadlines import Deadline, Timeouts
from .events import (
    Authenticated,
    AuthenticationFailed,
    BindingFailed,
    CloseTransport,
    Event,
    FeaturesReceived,
    HeaderReceived,
    PeerClosed,
    StanzaReceived,
    StartTLS,
    StreamErrorReceived,
    StreamErrorSent,
    StreamReady,
    TLSFailed,
)
from .linklocal import LinkLocalRegistry
from .negotiation import StreamFeatures
from .sasl import MECHANISMS, Authenticator, PasswordTable, ScramCredentials
from .states import Role, SessionState, StreamKind, TLSPolicy, Trigger
from .stream_errors import StreamError, build_stream_error

__all__ = [
    "MECHANISMS",
    "Authenticated",
    "AuthenticationFailed",
    "Authenticator",
    "BindingFailed",
    "CloseTransport",
    "Deadline",
    "Event",
    "FeaturesReceived",
    "HeaderReceived",
    "LinkLocalRegistry",
    "PasswordTable",
    "PeerClosed",
    "ResourceConflict",
    "Role",
    "ScramCredentials",
    "SessionState",
    "StanzaReceived",
    "StartTLS",
    "StreamError",
    "StreamErrorReceived",
    "StreamErrorSent",
    "StreamFeatures",
    "StreamKind",
    "StreamReady",
    "StreamSession",
    "TLSFailed",
    "TLSPolicy",
    "Timeouts",
    "Trigger",
    "build_stream_error",
    "default_binder",
]
