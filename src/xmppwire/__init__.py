"""xmppwire: the XMPP wire layer, fast and exact.

``StreamParser`` splits an XMPP stream into its header, top-level elements,
whitespace and end, enforcing RFC 6120's restricted XML and size limits.
``IMPLEMENTATION`` says whether the compiled (``"cython"``) or the
pure-Python (``"python"``) twin is in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._impl import IMPLEMENTATION, active
from .errors import (
    STREAM_ERROR_CONDITIONS,
    InvalidJID,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    XMPPWireError,
)
from .events import (
    STREAMS_NS,
    ElementReceived,
    ParserEvent,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)
from .jid import JID
from .limits import Limits

if TYPE_CHECKING:
    from ._tokenizer_py import StreamParser
else:
    StreamParser = active().tokenizer.StreamParser

__version__ = "0.1.0.dev0"

__all__ = [
    "IMPLEMENTATION",
    "JID",
    "STREAMS_NS",
    "STREAM_ERROR_CONDITIONS",
    "ElementReceived",
    "InvalidJID",
    "Limits",
    "LocalProtocolError",
    "ParserEvent",
    "ProtocolError",
    "RemoteProtocolError",
    "StreamClosed",
    "StreamHeader",
    "StreamOpened",
    "StreamParser",
    "TextReceived",
    "WhitespaceReceived",
    "XMPPWireError",
    "__version__",
]
