"""What the stream parser reports: small immutable values, shared by both implementations.

Don't subclass these; match on the exact type.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _rawxml

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from ._rawxml import TreeTarget

__all__ = [
    "STREAMS_NS",
    "XML_NS",
    "ElementReceived",
    "ParserEvent",
    "StreamClosed",
    "StreamHeader",
    "StreamOpened",
    "TextReceived",
    "WhitespaceReceived",
]

STREAMS_NS = "http://etherx.jabber.org/streams"
XML_NS = "http://www.w3.org/XML/1998/namespace"


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamHeader:
    """The ``<stream:stream>`` start tag of a stream (RFC 6120 §4.7), as received.

    The parser checks only what XML and the stream namespace decide: the root is
    ``stream`` in ``http://etherx.jabber.org/streams`` and ``version``, when
    present, is ``major.minor``. Whether ``to`` is served, whether the version
    or the content namespace is acceptable, is the session's call.
    """

    to: str | None = None
    from_: str | None = None
    id: str | None = None
    #: ``(major, minor)``; ``None`` when the header has no ``version``.
    version: tuple[int, int] | None = None
    #: ``xml:lang``.
    lang: str | None = None
    #: The default namespace declared on the header (``jabber:client``,
    #: ``jabber:server``...), ``None`` when it declares none.
    content_namespace: str | None = None
    #: The prefix of the root element's name: ``"stream"`` for
    #: ``<stream:stream>``, ``None`` for an unprefixed root.
    stream_prefix: str | None = "stream"
    #: Every namespace declaration on the header, in document order:
    #: ``(prefix, uri)`` with ``None`` as the prefix of the default namespace.
    namespaces: tuple[tuple[str | None, str], ...] = ()
    #: Every other attribute in document order, names in ElementTree's
    #: ``{uri}local`` form when prefixed, values decoded and normalized.
    attributes: tuple[tuple[str, str], ...] = ()
    #: The exact bytes of the start tag, ``<`` to ``>``.
    raw: bytes = b""

    @property
    def attrs(self) -> dict[str, str]:
        return dict(self.attributes)

    @property
    def nsmap(self) -> dict[str | None, str]:
        """The declarations in scope for the stream's content."""
        return dict(self.namespaces)


class ParserEvent:
    """Base of the parser's events."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamOpened(ParserEvent):
    """The peer's stream header arrived."""

    header: StreamHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementReceived(ParserEvent):
    """A complete top-level element: a stanza (message, presence, iq) or a nonza.

    ``raw`` is exactly what was received, from its ``<`` to its final ``>``; the
    tree is built only when asked for, by :meth:`element`.
    """

    #: The element's namespace, resolved against its own declarations and the
    #: header's (``"jabber:client"`` for a ``<message>`` on a c2s stream);
    #: ``""`` when it is in no namespace.
    namespace: str
    #: The local name, without prefix.
    name: str
    raw: bytes
    #: The header of the stream the element came in, whose declarations are in
    #: scope for it.
    header: StreamHeader
    #: What the tokenizer kept of the start tag (the pure twin's attribute bytes),
    #: then the decoded attributes once asked for.
    _attrs: dict[str, str] | bytes | None = field(
        default=None, repr=False, compare=False, hash=False
    )
    #: The stanza reader of the twin that split the element: it reads what that
    #: twin kept. ``None``: the active implementation's.
    _reader: Any = field(default=None, repr=False, compare=False, hash=False)

    @property
    def tag(self) -> str:
        """ElementTree's name for the element: ``{namespace}name``."""
        return f"{{{self.namespace}}}{self.name}" if self.namespace else self.name

    @property
    def attrs(self) -> dict[str, str]:
        """The element's own attributes (not namespace declarations), decoded.

        Names are ElementTree's: ``to``, ``id``, ``{http://www.w3.org/XML/1998/namespace}lang``.
        Read on first use from what the tokenizer found; the returned dict is
        shared between calls: don't change it.
        """
        attrs = self._attrs
        if type(attrs) is not dict:
            attrs = (self._reader or _active_reader()).read_attributes(self)
        return attrs  # type: ignore[return-value]

    def get(self, name: str, default: str | None = None) -> str | None:
        """One attribute of the element, as in ``ElementTree.Element.get``."""
        return self.attrs.get(name, default)

    @property
    def to(self) -> str | None:
        return self.attrs.get("to")

    @property
    def from_(self) -> str | None:
        return self.attrs.get("from")

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    @property
    def type(self) -> str | None:
        return self.attrs.get("type")

    @property
    def lang(self) -> str | None:
        return self.attrs.get(f"{{{XML_NS}}}lang")

    def element(self) -> ET.Element:
        """The element as an ``xml.etree.ElementTree.Element``, built from the tokenizer's parse.

        Namespaces inherited from the stream header are resolved, so a
        ``<message>`` on a c2s stream becomes ``{jabber:client}message``.
        Each call builds a new tree.
        """
        return (self._reader or _active_reader()).element(self.raw, self.header.namespaces)

    def build(self, target: TreeTarget) -> None:
        """Drive ``target`` through the element as ``XMLParser`` drives a ``TreeBuilder``.

        For each element in document order: ``target.start_ns(prefix, uri)``
        for each namespace it declares (``""`` for the default namespace; only
        if the target has ``start_ns``), ``target.start(tag, attrib)``, one
        ``target.data(text)`` per run of character data between two tags
        (references and CDATA decoded, line ends normalized), then
        ``target.end(tag)`` and ``target.end_ns(prefix)`` for each declaration
        (if the target has ``end_ns``). Tags and attribute names are in
        ``{uri}local`` form, resolved against the stream header's declarations,
        which are not reported. ``target.close()`` is not called: one target
        can be driven through many elements.
        """
        (self._reader or _active_reader()).build(self.raw, self.header.namespaces, target)


def _active_reader() -> Any:
    from ._impl import active

    return active().tree


@dataclass(frozen=True, slots=True, kw_only=True)
class WhitespaceReceived(ParserEvent):
    """Whitespace between top-level elements: usually a keepalive.

    Reported as soon as it arrives, so one run of whitespace may come as
    several events, split where the input was.
    """

    raw: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TextReceived(ParserEvent):
    """Character data other than whitespace between top-level elements.

    XML allows it; XMPP gives it no meaning. It runs from its first
    non-whitespace byte up to the next ``<``, exactly as received.
    """

    raw: bytes

    @property
    def text(self) -> str:
        """The character data with references and CDATA decoded, line ends normalized."""
        return _rawxml.decode_text(self.raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamClosed(ParserEvent):
    """The peer's ``</stream:stream>`` arrived."""


# A frozen dataclass's generated __init__ sets each field through object.__setattr__,
# which looks the name up again for every field; the parsers build an event per
# stanza, so the two frequent events set their slots through the slot descriptors
# instead. Same keyword-only signature, same required fields, same defaults.
def _slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    return tuple(cls.__dict__[name].__set__ for name in names)


_ER_SET = _slot_setters(ElementReceived, "namespace", "name", "raw", "header", "_attrs", "_reader")
_WS_SET = _slot_setters(WhitespaceReceived, "raw")


def _element_received_init(
    self: ElementReceived,
    *,
    namespace: str,
    name: str,
    raw: bytes,
    header: StreamHeader,
    _attrs: dict[str, str] | bytes | None = None,
    _reader: Any = None,
    _set_namespace: Callable[[object, object], None] = _ER_SET[0],
    _set_name: Callable[[object, object], None] = _ER_SET[1],
    _set_raw: Callable[[object, object], None] = _ER_SET[2],
    _set_header: Callable[[object, object], None] = _ER_SET[3],
    _set_attrs: Callable[[object, object], None] = _ER_SET[4],
    _set_reader: Callable[[object, object], None] = _ER_SET[5],
) -> None:
    _set_namespace(self, namespace)
    _set_name(self, name)
    _set_raw(self, raw)
    _set_header(self, header)
    _set_attrs(self, _attrs)
    _set_reader(self, _reader)


def _whitespace_received_init(
    self: WhitespaceReceived,
    *,
    raw: bytes,
    _set_raw: Callable[[object, object], None] = _WS_SET[0],
) -> None:
    _set_raw(self, raw)


_element_received_init.__qualname__ = "ElementReceived.__init__"
_whitespace_received_init.__qualname__ = "WhitespaceReceived.__init__"
ElementReceived.__init__ = _element_received_init  # type: ignore[method-assign]
WhitespaceReceived.__init__ = _whitespace_received_init  # type: ignore[method-assign]


# Cheaper still, for the pure-Python tokenizer's loop: an object of a plain class with
# the same slots, filled in by ordinary attribute stores, then given the event's class.
# CPython allows that between classes whose instances are laid out alike, and checks
# it. Free-threaded builds stop every thread to change an object's class, so there,
# and wherever the check refuses, the tokenizer sets the slots one by one instead.
class _ElementShell(ParserEvent):
    __slots__ = ElementReceived.__slots__


class _WhitespaceShell(ParserEvent):
    __slots__ = WhitespaceReceived.__slots__


def _shells_work() -> bool:
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return False
    try:
        for shell, cls in (
            (_ElementShell, ElementReceived),
            (_WhitespaceShell, WhitespaceReceived),
        ):
            probe = shell()
            probe.raw = b""  # type: ignore[attr-defined]
            probe.__class__ = cls
    except TypeError:
        return False
    return True


_SHELLS = _shells_work()
