"""Make slixmpp parse its XML streams with xmppwire's ``StreamParser``.

slixmpp feeds every byte it receives to ElementTree's ``XMLPullParser`` and
walks the start and end events of every element in Python. With the
accelerator, ``StreamParser`` splits the stream and checks it against RFC 6120,
and each complete top-level element becomes an ElementTree element built from
the parser's own tokens (``ElementReceived.element()``): the bytes are read
once. slixmpp gets the same elements as before (tags, namespaces, attributes,
text and the tails inside them), its ``start_stream_handler`` gets the stream
header as an element with the header's attributes, and the end of the peer's
stream ends the connection as it did. One thing is never set: the tail of a
top-level element (the whitespace between stanzas), which slixmpp alone sets or
not depending on how the reads were cut.

What changes is what slixmpp accepts: comments, processing instructions,
DTDs, entity references other than XML's five, encodings other than UTF-8 and
elements over the size limits end the stream with the matching RFC 6120
condition (``restricted-xml``, ``unsupported-encoding``, ``policy-violation``...)
instead of being parsed, or reported as ``not-well-formed``.

Use it either way:

- ``install()`` once, before connecting: every slixmpp stream uses it until
  ``uninstall()``, which puts slixmpp's own methods back.
- or mix ``XMPPWireStream`` into a class of your own, before the slixmpp base:
  ``class Bot(XMPPWireStream, slixmpp.ClientXMPP): ...``.

A stream whose parser was set up before ``install()`` keeps parsing with
ElementTree until it restarts; install before connecting.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any, Final
from xml.sax.saxutils import escape as xml_escape

from slixmpp.xmlstream.tostring import tostring
from slixmpp.xmlstream.xmlstream import XMLStream

from .. import StreamParser as _DefaultStreamParser
from ..errors import RemoteProtocolError
from ..events import STREAMS_NS, ElementReceived, StreamClosed, StreamOpened
from ..limits import DEFAULT_LIMITS, Limits

__all__ = ["RESTART_POINTS", "XMPPWireStream", "install", "installed", "uninstall"]

# slixmpp's own logger, so that existing logging setups keep seeing these lines.
log = logging.getLogger("slixmpp.xmlstream.xmlstream")

#: Top-level elements after which the peer's stream is replaced by a new one
#: (RFC 6120 §5.4.3.3 and §6.4.6): the parser stops right after them, so that
#: nothing sent behind them is read as part of the old stream.
RESTART_POINTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("urn:ietf:params:xml:ns:xmpp-tls", "proceed"),
        ("urn:ietf:params:xml:ns:xmpp-sasl", "success"),
    }
)

_STREAM_TAG: Final = f"{{{STREAMS_NS}}}stream"
STREAM_ERRORS_NS: Final = "urn:ietf:params:xml:ns:xmpp-streams"

# slixmpp's methods as they are, whatever install() does later.
_SLIXMPP_INIT_PARSER: Final = XMLStream.__dict__["init_parser"]
_SLIXMPP_DATA_RECEIVED: Final = XMLStream.__dict__["data_received"]

_limits: Limits = DEFAULT_LIMITS
_parser_class: Callable[..., _DefaultStreamParser] = _DefaultStreamParser
_installed: bool = False


def _setting(stream: Any, name: str) -> Any:
    # Looked up on the instance, then the class, without binding: a plain
    # function given as the parser factory must not become a method.
    found = vars(stream).get(name)
    return found if found is not None else getattr(type(stream), name, None)


def _init_parser(self: Any) -> None:
    """Start parsing a new stream from the peer: on connecting and on every restart."""
    self.xml_depth = 0
    self.xml_root = None
    parser_class = _setting(self, "xmppwire_parser_class") or _parser_class
    limits = _setting(self, "xmppwire_limits") or _limits
    self.parser = parser_class(limits=limits, pause_after=RESTART_POINTS)


def _data_received(self: Any, data: bytes | str) -> None:
    """Feed what the transport received to the parser and act on what it completed."""
    parser = self.parser
    if parser is None:
        log.warning("Received data before the connection is established: %r", data)
        return
    if isinstance(parser, ET.XMLPullParser):
        # Set up before install(): this stream stays with ElementTree until it restarts.
        _SLIXMPP_DATA_RECEIVED(self, data)
        return
    if isinstance(data, str):
        data = data.encode("utf-8")
    if parser is getattr(self, "_xmppwire_failed_parser", None):
        # Our stream error is sent and the stream is closing: read nothing more of it.
        log.debug("Ignoring data after a stream error: %r", data)
        return
    while True:
        if parser.paused:
            # The stream was not restarted at <proceed/> or <success/> yet:
            # bytes now can't be part of the stream to come, and TLS is not up.
            log.warning("Ignoring data received before the stream restarted: %r", data)
            return
        try:
            events = parser.feed(data)
        except RemoteProtocolError as error:
            if _dispatch(self, parser, error.events):
                _fail(self, parser, error, data)
            return
        if not _dispatch(self, parser, events):
            return
        if not parser.paused:
            return
        rest = parser.take_unparsed()
        successor = self.parser
        if successor is parser or successor is None:
            # No restart happened while handling the element (slixmpp restarts
            # synchronously after SASL success, and after STARTTLS once TLS is
            # up): the rest can't be trusted to belong to any stream.
            if rest:
                log.warning("Ignoring data received after a stream restart point: %r", rest)
            return
        if not rest:
            return
        parser, data = successor, rest


def _dispatch(self: Any, parser: Any, events: Sequence[Any]) -> bool:
    """Deliver events as slixmpp does; False once this stream is over for us."""
    for event in events:
        if self.parser is not parser:
            # A handler restarted the stream or the connection was lost.
            return False
        kind = type(event)
        if kind is ElementReceived:
            # Built from the parser's own tokens, in the compiled twin when there is one.
            self._spawn_event(event.element())
        elif kind is StreamOpened:
            root = ET.Element(_STREAM_TAG, dict(event.header.attributes))
            self.xml_root = root
            self.xml_depth = 1
            log.debug(
                "RECV: %s",
                tostring(root, xmlns=self.default_ns, stream=self, top_level=True, open_only=True),
            )
            self.start_stream_handler(root)
        elif kind is StreamClosed:
            self.xml_depth = 0
            log.debug("End of stream received")
            self.disconnect_reason = "End of stream"
            self.abort()
            return False
        # Whitespace and text between stanzas mean nothing to slixmpp, as before.
    return True


def _fail(self: Any, parser: Any, error: RemoteProtocolError, data: bytes) -> None:
    """Answer a broken stream as slixmpp does, with the condition that names the fault."""
    log.error("Parse error: %s in %r", error, data)
    self._xmppwire_failed_parser = parser
    # Queued behind what slixmpp already means to send, as its own stream
    # error would be; written out by hand because slixmpp 1.17 serializes
    # its StreamError stanza as <stream:stream:error>, which no peer can parse.
    stream_error = (
        f"<stream:error><{error.condition} xmlns='{STREAM_ERRORS_NS}'/>"
        f"<text xmlns='{STREAM_ERRORS_NS}'>{xml_escape(str(error))}</text></stream:error>"
    )
    self.waiting_queue.put_nowait((stream_error, False))
    self.disconnect()


class XMPPWireStream:
    """Mix into a slixmpp stream class, before slixmpp's base, to parse with xmppwire.

    ``xmppwire_limits`` and ``xmppwire_parser_class`` may be set on the class or
    the instance to override the module's defaults.
    """

    xmppwire_limits: Limits | None = None
    xmppwire_parser_class: Callable[..., _DefaultStreamParser] | None = None

    init_parser = _init_parser
    data_received = _data_received


def install(
    limits: Limits | None = None, *, parser_class: Callable[..., _DefaultStreamParser] | None = None
) -> None:
    """Make every slixmpp stream set up from now on parse with ``StreamParser``.

    ``limits`` bounds what a peer may send (default: ``Limits()``);
    ``parser_class`` picks an implementation (default: ``xmppwire.StreamParser``);
    any callable taking ``limits`` and ``pause_after`` and returning a parser will do.
    Installing again only changes those settings.
    """
    global _limits, _parser_class, _installed
    _limits = DEFAULT_LIMITS if limits is None else limits
    _parser_class = _DefaultStreamParser if parser_class is None else parser_class
    if _installed:
        return
    XMLStream.init_parser = _init_parser  # type: ignore[method-assign]
    XMLStream.data_received = _data_received  # type: ignore[method-assign]
    _installed = True


def uninstall() -> None:
    """Put slixmpp's own parsing back, exactly as it was; streams set up after this use it."""
    global _limits, _parser_class, _installed
    XMLStream.init_parser = _SLIXMPP_INIT_PARSER  # type: ignore[method-assign]
    XMLStream.data_received = _SLIXMPP_DATA_RECEIVED  # type: ignore[method-assign]
    _limits = DEFAULT_LIMITS
    _parser_class = _DefaultStreamParser
    _installed = False


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _installed
