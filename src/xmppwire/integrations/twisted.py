"""Make Twisted Words parse its XML streams with xmppwire's ``StreamParser``.

Every ``twisted.words.xish.xmlstream.XmlStream`` (and so twisted's XMPP
client, external component, router and server-to-server code) gets its parser
from ``domish.elementStream()`` whenever a stream starts or restarts. With the
accelerator that call returns an ``XMPPWireElementStream``: ``StreamParser``
splits the stream and checks it against RFC 6120, and each stanza is built
into the same ``domish.Element`` tree twisted's expat stream builds (``uri``,
``name``, ``defaultUri``, ``attributes`` with ``(uri, name)`` keys for
namespaced ones, ``children``, text, ``localPrefixes``, ``parent``). The
stream header reaches ``DocumentStartEvent`` as the root element with the
header's attributes and declarations, ``</stream:stream>`` reaches
``DocumentEndEvent``.

What changes is what twisted accepts. Malformed XML still raises
``domish.ParserError`` and takes twisted's own path (``STREAM_ERROR_EVENT``,
then the connection is dropped). What RFC 6120 forbids but expat accepts
(comments, processing instructions, DTDs, entity references other than XML's
five, encodings other than UTF-8, a root that is not ``<stream:stream>``,
elements over the size limits) now ends an XMPP stream with the matching
stream error (``restricted-xml``, ``unsupported-encoding``,
``invalid-namespace``, ``policy-violation``...) before that same path runs.
A generic xish ``XmlStream`` (not an XMPP one) whose document is not an XMPP
stream is handed to twisted's own parser untouched.

``install()`` also makes twisted's ``JID(...)`` faster on plain ASCII JIDs,
with results identical to twisted's own stringprep (see ``_twisted_jid``).

Use it either way:

- ``install()`` once: every stream that starts or restarts from then on uses
  it, until ``uninstall()`` puts twisted's ``elementStream`` back.
- ``accelerate_factory(factory)``: only the streams that one factory builds
  (a client factory, ``component.buildServiceManager``'s, the router's
  ``XmlStreamServerFactory``...), or ``accelerate_stream(xs)`` for one stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, TypeVar

from twisted.words.protocols.jabber import error as jabber_error
from twisted.words.xish import domish

from .. import StreamParser as _DefaultStreamParser
from .. import _domish_trees_py
from .._impl import NO_EXTENSIONS
from ..errors import RemoteProtocolError
from ..events import STREAMS_NS, ElementReceived, StreamClosed, StreamHeader, StreamOpened
from ..limits import DEFAULT_LIMITS, Limits
from . import _twisted_jid

__all__ = [
    "DEFAULT_TREE_TARGET",
    "RESTART_POINTS",
    "StreamParserError",
    "XMPPWireElementStream",
    "accelerate_factory",
    "accelerate_stream",
    "install",
    "installed",
    "uninstall",
]

log = logging.getLogger(__name__)

TLS_NS: Final = "urn:ietf:params:xml:ns:xmpp-tls"
SASL_NS: Final = "urn:ietf:params:xml:ns:xmpp-sasl"

#: Top-level elements after which the peer's stream is replaced by a new one
#: (RFC 6120 §5.4.3.3 and §6.4.6): the parser stops right after them, so that
#: nothing sent behind them is read as part of the old stream.
RESTART_POINTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {(TLS_NS, "proceed"), (SASL_NS, "success")}
)

# twisted's own factory, whatever install() does later.
_TWISTED_ELEMENT_STREAM: Final = domish.elementStream
_Element = domish.Element


def _default_tree_target() -> Callable[..., Any]:
    if not NO_EXTENSIONS:
        try:
            from .. import _domish_trees_c

            return _domish_trees_c.DomishTarget  # type: ignore[no-any-return]
        except ImportError:
            pass
    return _domish_trees_py.DomishTarget


#: What builds the trees unless told otherwise: the compiled twin when it imports.
DEFAULT_TREE_TARGET: Final = _default_tree_target()

_limits: Limits = DEFAULT_LIMITS
_parser_class: Callable[..., Any] = _DefaultStreamParser
_tree_target: Callable[..., Any] = DEFAULT_TREE_TARGET
_installed: bool = False


class StreamParserError(domish.ParserError):
    """What ``parse()`` raises for input RFC 6120 forbids; ``condition`` names the fault.

    A ``domish.ParserError``, so twisted's error path handles it as it handles
    malformed XML.
    """

    def __init__(self, message: str, condition: str) -> None:
        super().__init__(message)
        self.condition = condition


def _header_element(header: StreamHeader) -> domish.Element:
    """The stream header as twisted's expat stream hands it to ``DocumentStartEvent``."""
    default = ""
    prefixes: dict[str, str] = {}
    for prefix, uri in header.namespaces:
        if prefix is None:
            default = uri
        else:
            prefixes[prefix] = uri
    attributes = _domish_trees_py.twisted_attributes(dict(header.attributes))
    return _Element((STREAMS_NS, "stream"), default, attributes, prefixes)


class XMPPWireElementStream:
    """Drop-in for ``domish.ExpatElementStream`` on XMPP streams.

    Set ``DocumentStartEvent``, ``ElementEvent`` and ``DocumentEndEvent``,
    then ``parse()`` what the transport received, as with twisted's streams.
    One instance parses one stream; twisted makes a new one on every restart.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        parser_class: Callable[..., Any] | None = None,
        tree_target: Callable[..., Any] | None = None,
    ) -> None:
        self.DocumentStartEvent: Callable[[domish.Element], Any] | None = None
        self.ElementEvent: Callable[[domish.Element], Any] | None = None
        self.DocumentEndEvent: Callable[[], Any] | None = None
        self._limits = _limits if limits is None else limits
        self._parser_class = parser_class or _parser_class
        self._parser: Any = None
        self._tree_target = tree_target or _tree_target
        self._builder: Any = None
        # Bytes before the stream header, kept in case the document turns out
        # not to be an XMPP stream and goes to twisted's parser instead.
        self._prolog: list[bytes] | None = []
        self._fallback: Any = None
        self._failure: domish.ParserError | None = None

    def _owner(self) -> Any:
        """The ``XmlStream`` whose handlers were set on this stream, if any."""
        return getattr(self.DocumentStartEvent, "__self__", None)

    def _speaks_xmpp(self) -> bool:
        # twisted's XMPP XmlStream, not the generic xish one.
        return hasattr(self._owner(), "sendStreamError")

    def parse(self, buffer: bytes | str) -> None:
        if isinstance(buffer, str):
            buffer = buffer.encode("utf-8")
        if self._fallback is not None:
            self._parse_with_twisted(buffer)
            return
        if self._failure is not None:
            raise self._failure
        parser = self._parser
        if parser is None:
            # Only the initiating entity receives <proceed/> and <success/>
            # and restarts; for a receiving entity they are just elements.
            restarts = self._speaks_xmpp() and getattr(self._owner(), "initiating", False)
            pause_after = RESTART_POINTS if restarts else ()
            parser = self._parser = self._parser_class(limits=self._limits, pause_after=pause_after)
        if parser.paused:
            log.warning("Ignoring data received before the stream restarted: %r", buffer)
            return
        if self._prolog is not None:
            self._prolog.append(buffer)
        try:
            events = parser.feed(buffer)
        except RemoteProtocolError as error:
            self._dispatch(error.events)
            self._fail(error)
            return
        self._dispatch(events)
        if parser.paused:
            self._hand_over(events[-1], parser.take_unparsed())

    def _dispatch(self, events: Any) -> None:
        builder = self._builder
        for event in events:
            kind = type(event)
            if kind is ElementReceived:
                if builder is None:
                    builder = self._builder = self._new_builder(event.header)
                event.build(builder)
                element = builder.top
                builder.top = None
                self.ElementEvent(element)  # type: ignore[misc]
            elif kind is StreamOpened:
                self._prolog = None
                builder = self._builder = self._new_builder(event.header)
                self.DocumentStartEvent(_header_element(event.header))  # type: ignore[misc]
            elif kind is StreamClosed:
                self.DocumentEndEvent()  # type: ignore[misc]
            # Whitespace and text between stanzas: twisted ignores them too.

    def _new_builder(self, header: StreamHeader) -> Any:
        default = ""
        for prefix, uri in header.namespaces:
            if prefix is None:
                default = uri
        return self._tree_target(_Element, default)

    def _hand_over(self, restart_point: Any, rest: bytes) -> None:
        """After ``<proceed/>`` or ``<success/>``: what followed it goes to the new stream."""
        if not rest:
            return
        successor = getattr(self._owner(), "stream", None)
        if restart_point.namespace == TLS_NS:
            # Sent before TLS was up, in the clear: never part of the secure stream.
            log.warning("Ignoring data received in the clear after <proceed/>: %r", rest)
        elif successor is None or successor is self:
            log.warning("Ignoring data received after a stream restart point: %r", rest)
        else:
            successor.parse(rest)

    def _fail(self, error: RemoteProtocolError) -> None:
        if (
            error.condition == "invalid-namespace"
            and self._prolog is not None
            and not self._speaks_xmpp()
        ):
            # Not an XMPP stream, on a generic XML stream: twisted's business.
            self._fall_back(b"".join(self._prolog))
            return
        if error.condition == "not-well-formed":
            self._failure = domish.ParserError(str(error))
        else:
            self._failure = StreamParserError(str(error), error.condition)
            owner = self._owner()
            if hasattr(owner, "sendStreamError"):
                owner.sendStreamError(jabber_error.StreamError(error.condition, str(error)))
        raise self._failure from error

    def _fall_back(self, received: bytes) -> None:
        self._prolog = None
        self._parser = None
        self._fallback = domish.ExpatElementStream()
        self._parse_with_twisted(received)

    def _parse_with_twisted(self, buffer: bytes) -> None:
        fallback = self._fallback
        # Handlers may have been replaced since (XmlStream.setDispatchFn).
        fallback.DocumentStartEvent = self.DocumentStartEvent
        fallback.ElementEvent = self.ElementEvent
        fallback.DocumentEndEvent = self.DocumentEndEvent
        # twisted's own limits, if they were set on this stream.
        for limit in ("maxStanzaSize", "maxElementCount"):
            if limit in vars(self):
                setattr(fallback, limit, vars(self)[limit])
        fallback.parse(buffer)


def _element_stream() -> XMPPWireElementStream:
    """What ``domish.elementStream`` returns while installed."""
    return XMPPWireElementStream()


def _initialize_stream(xs: Any, limits: Limits | None, **classes: Any) -> None:
    """``XmlStream._initializeStream``, with an ``XMPPWireElementStream``."""
    xs.stream = XMPPWireElementStream(limits, **classes)
    xs.stream.DocumentStartEvent = xs.onDocumentStart
    xs.stream.ElementEvent = xs.onElement
    xs.stream.DocumentEndEvent = xs.onDocumentEnd


def accelerate_stream(
    xs: Any,
    limits: Limits | None = None,
    *,
    parser_class: Callable[..., Any] | None = None,
    tree_target: Callable[..., Any] | None = None,
) -> Any:
    """Make one ``XmlStream`` parse with xmppwire from its next start or restart on.

    ``limits``, ``parser_class`` and ``tree_target`` as for ``install()``; the
    module's settings when not given.
    """
    xs._initializeStream = lambda: _initialize_stream(
        xs, limits, parser_class=parser_class, tree_target=tree_target
    )
    return xs


FactoryT = TypeVar("FactoryT")


def accelerate_factory(
    factory: FactoryT,
    limits: Limits | None = None,
    *,
    parser_class: Callable[..., Any] | None = None,
    tree_target: Callable[..., Any] | None = None,
) -> FactoryT:
    """Make every ``XmlStream`` this factory builds from now on parse with xmppwire.

    ``limits``, ``parser_class`` and ``tree_target`` as for ``install()``; the
    module's settings when not given.
    """
    build_protocol = factory.buildProtocol  # type: ignore[attr-defined]

    def build_accelerated_protocol(addr: Any) -> Any:
        return accelerate_stream(
            build_protocol(addr), limits, parser_class=parser_class, tree_target=tree_target
        )

    factory.buildProtocol = build_accelerated_protocol  # type: ignore[attr-defined]
    return factory


def install(
    limits: Limits | None = None,
    *,
    parser_class: Callable[..., Any] | None = None,
    tree_target: Callable[..., Any] | None = None,
    jids: bool = True,
) -> None:
    """Make every twisted XML stream that starts or restarts from now on parse with xmppwire.

    ``limits`` bounds what a peer may send (default: ``Limits()``);
    ``parser_class`` picks an implementation (default: ``xmppwire.StreamParser``);
    any callable taking ``limits`` and ``pause_after`` and returning a parser will do.
    ``tree_target`` picks what builds the trees (default: ``DEFAULT_TREE_TARGET``,
    the compiled ``DomishTarget`` when it imports). ``jids`` also makes twisted's
    ``JID(...)`` faster on plain ASCII JIDs, with results identical to twisted's
    own. Installing again only changes those settings.
    """
    global _limits, _parser_class, _tree_target, _installed
    _limits = DEFAULT_LIMITS if limits is None else limits
    _parser_class = _DefaultStreamParser if parser_class is None else parser_class
    _tree_target = DEFAULT_TREE_TARGET if tree_target is None else tree_target
    domish.elementStream = _element_stream
    if jids:
        _twisted_jid.install()
    else:
        _twisted_jid.uninstall()
    _installed = True


def uninstall() -> None:
    """Put twisted's own ``elementStream`` and JID parsing back; streams that start after
    this use them."""
    global _limits, _parser_class, _tree_target, _installed
    domish.elementStream = _TWISTED_ELEMENT_STREAM
    _tree_target = DEFAULT_TREE_TARGET
    _twisted_jid.uninstall()
    _limits = DEFAULT_LIMITS
    _parser_class = _DefaultStreamParser
    _installed = False


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _installed
