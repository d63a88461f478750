"""Make nbxmpp parse its XML streams with xmppwire's ``StreamParser``, and its JIDs faster.

nbxmpp (the library under Gajim) parses every connection with
``nbxmpp.simplexml.NodeBuilder``: expat calling Python for every tag and every
run of text, building ``Node`` objects as it goes. With the accelerator,
``StreamParser`` splits the stream and checks it against RFC 6120, and each
top-level element is built into the same ``Node`` tree ``NodeBuilder`` builds
(name, namespace, attributes, text runs, children, namespace declarations and
lookup caches). nbxmpp's dispatcher gets the stream header as the ``Node`` it
got before, every top-level element as before, and the end of the peer's
stream (with the name of its stream error, if any) as before.

What changes is what nbxmpp accepts: comments, processing instructions, DTDs,
entity references other than XML's five, undeclared prefixes, encodings other
than UTF-8 and elements over the size limits end the stream: the peer gets a
``<stream:error>`` with the matching RFC 6120 condition (``restricted-xml``,
``unsupported-encoding``, ``policy-violation``...) and nbxmpp reports a
parsing error and disconnects, as it does for what expat rejects.

JIDs: ``nbxmpp.protocol.JID.from_string`` answers all-ASCII JIDs from
xmppwire's compiled RFC 7622 fast path (the rules nbxmpp applies agree there)
and hands every other input, valid or not, to nbxmpp's own code, whose answers
and exceptions are kept. See the README ("Use with nbxmpp") for where the two
rule sets disagree.

``install()`` once, before connecting; ``uninstall()`` puts nbxmpp's own
methods back. A dispatcher whose parser was set up before ``install()`` keeps
parsing with ``NodeBuilder`` until its stream restarts.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final
from xml.parsers import expat
from xml.sax.saxutils import escape as xml_escape

from nbxmpp.dispatcher import StanzaDispatcher
from nbxmpp.protocol import JID as NbxmppJID
from nbxmpp.simplexml import Node

from .. import StreamParser as _DefaultStreamParser
from .. import _nbxmpp_nodes_py
from .._impl import NO_EXTENSIONS, active
from ..errors import RemoteProtocolError
from ..events import (
    ElementReceived,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)
from ..limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_NODE_TARGET",
    "RESTART_POINTS",
    "StreamRejected",
    "XMPPWireNodeParser",
    "install",
    "installed",
    "uninstall",
]

log = logging.getLogger("nbxmpp.simplexml")

#: Top-level elements after which the peer's stream is replaced by a new one
#: (RFC 6120 §5.4.3.3 and §6.4.6): the parser stops right after them, so that
#: nothing sent behind them is read as part of the old stream.
RESTART_POINTS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("urn:ietf:params:xml:ns:xmpp-tls", "proceed"),
        ("urn:ietf:params:xml:ns:xmpp-sasl", "success"),
    }
)
STREAM_ERRORS_NS: Final = "urn:ietf:params:xml:ns:xmpp-streams"

# nbxmpp's methods as they are, whatever install() does later.
_NBXMPP_RESET_PARSER: Final = StanzaDispatcher.__dict__["reset_parser"]
_NBXMPP_REPLACE_NON_CHARACTER: Final = StanzaDispatcher.__dict__["replace_non_character"]
_NBXMPP_FROM_STRING: Final = NbxmppJID.__dict__["from_string"]
# The function under nbxmpp's cache, to ask nbxmpp itself about what we leave to it.
_nbxmpp_from_string: Final = _NBXMPP_FROM_STRING.__func__.__wrapped__

# nbxmpp replaces Unicode noncharacters (U+FDD0..U+FDEF, U+nFFFE, U+nFFFF) by
# U+FFFD before parsing, with a regular expression of 66 alternatives that
# costs as much as its parser. In UTF-8 every one of them contains one of these
# byte pairs, which a substring search finds at memory speed; nbxmpp's own
# replacement then runs only when one is there.
_NONCHARACTER_MARKS: Final = (b"\xef\xb7", b"\xbf\xbe", b"\xbf\xbf")


def _default_node_target() -> Callable[..., Any]:
    if not NO_EXTENSIONS:
        try:
            from .. import _nbxmpp_nodes_c

            return _nbxmpp_nodes_c.NodeTarget  # type: ignore[no-any-return]
        except ImportError:
            pass
    return _nbxmpp_nodes_py.NodeTarget


#: The Node builder the accelerator uses unless told otherwise: compiled when it imports.
DEFAULT_NODE_TARGET: Final = _default_node_target()

_limits: Limits = DEFAULT_LIMITS
_node_target: Callable[..., Any] = DEFAULT_NODE_TARGET
_parser_class: Callable[..., Any] = _DefaultStreamParser
_installed: bool = False


class StreamRejected(ValueError):
    """The peer's stream broke RFC 6120; ``condition`` is what it was answered with.

    A ``ValueError``, as nbxmpp's dispatcher expects of its parser.
    """

    def __init__(self, error: RemoteProtocolError) -> None:
        super().__init__(f"{error.condition}: {error}")
        self.condition = error.condition


def _header_node(header: StreamHeader) -> tuple[Node, dict[str, str]]:
    """The stream header as NodeBuilder hands it to the dispatcher, and its declarations."""
    # Read again from its bytes, without namespace processing, as NodeBuilder
    # reads it: the attributes keep their qualified names and their order.
    found: list[tuple[str, dict[str, str]]] = []
    reader = expat.ParserCreate()
    reader.StartElementHandler = lambda tag, attrs: found.append((tag, attrs))
    reader.Parse(header.raw, False)
    ((tag, attrs),) = found
    nsp: dict[str, str] = {}
    for key, value in attrs.items():
        if key == "xmlns":
            nsp[""] = value
        elif key.startswith("xmlns:"):
            nsp[key[6:]] = value
    return Node(tag=tag, attrs=attrs, nsp=nsp, node_built=True), nsp


class XMPPWireNodeParser:
    """Stands in for the ``NodeBuilder`` of one stream of an nbxmpp ``StanzaDispatcher``.

    It offers what the dispatcher uses of ``NodeBuilder``: ``Parse()``,
    ``dispatch``, ``has_received_endtag()``, ``stream_error`` and ``destroy()``.
    """

    def __init__(
        self,
        dispatcher: Any,
        limits: Limits = DEFAULT_LIMITS,
        parser_class: Callable[..., Any] = _DefaultStreamParser,
        node_target: Callable[..., Any] = DEFAULT_NODE_TARGET,
    ) -> None:
        self._dispatcher = dispatcher
        self._node_target = node_target
        self._parser = parser_class(limits=limits, pause_after=RESTART_POINTS)
        self._target: Any = None
        self._ended = False
        # The last top-level element handed over, and the text seen after it.
        self._last: Node | None = None
        self._after_last: list[str] = []
        self._failed: StreamRejected | None = None
        self.stream_error = ""
        self.dispatch: Callable[[Node], None] | None = None

    def Parse(self, data: str | bytes, final: bool = False) -> None:
        """Parse what the connection received and dispatch what it completed."""
        if self._failed is not None:
            raise self._failed
        if isinstance(data, str):
            data = data.encode("utf-8")
        parser = self._parser
        while True:
            if parser.paused:
                # The stream was not restarted at <proceed/> or <success/>: bytes
                # now can't be part of the stream to come.
                log.warning("Ignoring data received before the stream restarted: %r", data)
                return
            try:
                events = parser.feed(data)
            except RemoteProtocolError as error:
                self._deliver(error.events)
                self._reject(error)
                raise self._failed from None  # type: ignore[misc]
            self._deliver(events)
            if not parser.paused:
                return
            rest = parser.take_unparsed()
            successor = getattr(self._dispatcher, "_parser", None)
            if not rest:
                return
            if successor is self or not isinstance(successor, XMPPWireNodeParser):
                log.warning("Ignoring data received after a stream restart point: %r", rest)
                return
            # The handler restarted the stream: the rest belongs to the new one.
            successor.Parse(rest)
            return

    def _deliver(self, events: Sequence[Any]) -> None:
        for event in events:
            dispatch = self.dispatch
            kind = type(event)
            if self._after_last and (kind is ElementReceived or kind is StreamClosed):
                # NodeBuilder adds text between stanzas to the data of the
                # stanza before, once the next tag comes.
                self._last.data.append("".join(self._after_last))  # type: ignore[union-attr]
                self._after_last.clear()
            if kind is ElementReceived:
                target = self._target
                event.build(target)
                node = target.finished
                if node.name == "error":
                    kids = node.kids
                    self.stream_error = kids[0].getName() if kids else node.getData()
                self._last = node
                if dispatch is not None:
                    dispatch(node)
            elif kind is WhitespaceReceived or kind is TextReceived:
                if self._last is not None:
                    self._after_last.append(
                        event.raw.decode() if kind is WhitespaceReceived else event.text
                    )
            elif kind is StreamOpened:
                node, header_nsp = _header_node(event.header)
                # One builder for the stream: each element leaves it as it found it.
                self._target = self._node_target(Node, header_nsp)
                if dispatch is not None:
                    dispatch(node)
            elif kind is StreamClosed:
                self._ended = True
                return
            if self._dispatcher._parser is not self:
                # A handler restarted the stream or tore the connection down.
                return

    def _reject(self, error: RemoteProtocolError) -> None:
        """Answer a broken stream with the condition that names the fault."""
        self._failed = StreamRejected(error)
        client = getattr(self._dispatcher, "_client", None)
        connection = getattr(client, "_con", None)
        if connection is None:
            return
        stream_error = (
            f"<stream:error><{error.condition} xmlns='{STREAM_ERRORS_NS}'/>"
            f"<text xmlns='{STREAM_ERRORS_NS}'>{xml_escape(str(error))}</text></stream:error>"
        )
        try:
            client.send_nonza(stream_error)
        except Exception:
            log.exception("Could not send the stream error")

    def has_received_endtag(self, level: int = 0) -> bool:
        return self._ended

    def destroy(self) -> None:
        # The dispatcher stays known: it holds the parser that follows this one.
        self.dispatch = None

    def getDom(self) -> None:
        return None


def _reset_parser(self: Any) -> None:
    if self._parser is not None:
        self._parser.dispatch = None
        self._parser.destroy()
        self._parser = None
    parser = XMPPWireNodeParser(self, _limits, _parser_class, _node_target)
    self._parser = parser
    parser.dispatch = self.dispatch


def _replace_non_character(self: Any, data: str) -> str:
    if data.isascii():
        return data
    encoded = data.encode("utf-8", "surrogatepass")
    for mark in _NONCHARACTER_MARKS:
        if mark in encoded:
            return _NBXMPP_REPLACE_NON_CHARACTER(self, data)
    return data


def _make_from_string() -> Callable[..., NbxmppJID]:
    parse_ascii = active().jid.parse_ascii
    new = object.__new__
    setattr_ = object.__setattr__

    @functools.cache
    def from_string(cls: type, jid_string: str, force_bare: bool = False) -> NbxmppJID:
        parts = parse_ascii(jid_string) if type(jid_string) is str else None
        # idna, under nbxmpp's domains, refuses a name over 253 octets.
        if parts is None or len(parts[1]) > 253:
            return _nbxmpp_from_string(cls, jid_string, force_bare)
        jid = new(cls)
        setattr_(jid, "localpart", parts[0])
        setattr_(jid, "domain", parts[1])
        setattr_(jid, "resource", None if force_bare else parts[2])
        return jid

    return from_string


def install(
    limits: Limits | None = None,
    *,
    parser_class: Callable[..., Any] | None = None,
    node_target: Callable[..., Any] | None = None,
) -> None:
    """Make nbxmpp's streams set up from now on parse with ``StreamParser``; JIDs too.

    ``limits`` bounds what a peer may send (default: ``Limits()``);
    ``parser_class`` picks an implementation (default: ``xmppwire.StreamParser``),
    ``node_target`` the Node builder (default: ``DEFAULT_NODE_TARGET``).
    Installing again only changes those settings.
    """
    global _limits, _parser_class, _node_target, _installed
    _limits = DEFAULT_LIMITS if limits is None else limits
    _parser_class = _DefaultStreamParser if parser_class is None else parser_class
    _node_target = DEFAULT_NODE_TARGET if node_target is None else node_target
    if _installed:
        return
    StanzaDispatcher.reset_parser = _reset_parser  # type: ignore[method-assign]
    StanzaDispatcher.replace_non_character = _replace_non_character  # type: ignore[method-assign]
    NbxmppJID.from_string = classmethod(_make_from_string())  # type: ignore[assignment,method-assign]
    _installed = True


def uninstall() -> None:
    """Put nbxmpp's own parsing and JIDs back, exactly as they were."""
    global _limits, _parser_class, _node_target, _installed
    StanzaDispatcher.reset_parser = _NBXMPP_RESET_PARSER  # type: ignore[method-assign]
    StanzaDispatcher.replace_non_character = _NBXMPP_REPLACE_NON_CHARACTER  # type: ignore[method-assign]
    NbxmppJID.from_string = _NBXMPP_FROM_STRING  # type: ignore[method-assign]
    _limits = DEFAULT_LIMITS
    _parser_class = _DefaultStreamParser
    _node_target = DEFAULT_NODE_TARGET
    _installed = False


def installed() -> bool:
    """Whether ``install()`` is in effect."""
    return _installed
