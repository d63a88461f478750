"""Pure-Python twin of the stanza reader: attributes, trees and tree targets.

Its input is the ``raw`` of an ``ElementReceived``, already checked by the
tokenizer. Attributes come from the start tag the tokenizer matched (the
tokenizer hands over that match's attribute bytes when it has them). Trees
come from expat, the fastest tree builder Python itself has: the element is
fed inside a wrapper element declaring the stream header's namespaces.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator

from ._rawxml import XML_NS, TreeTarget, attribute_value
from .events import _ER_SET, ElementReceived

__all__ = ["attributes", "build", "element", "read_attributes"]

_ATTRIBUTE = re.compile(
    r"""[ \t\r\n]+([^ \t\r\n=/>]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')"""
)
_RAW_ATTRIBUTE = re.compile(_ATTRIBUTE.pattern.encode())
_NAME_END = re.compile(rb"[ \t\r\n/>]")
_SCOPE_TAG = "xmppwire-scope"
# What a declaration's value must escape to reach expat unchanged: besides
# markup, the whitespace that attribute-value normalization would turn into spaces.
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
)


def attributes(
    raw: bytes, namespaces: Iterable[tuple[str | None, str]], matched: bytes | None = None
) -> dict[str, str]:
    """The attributes of the element's start tag, keyed by ElementTree names.

    ``matched`` is the attribute part of the start tag as the tokenizer matched it.
    """
    if matched is None:
        found = _NAME_END.search(raw, 1)
        assert found is not None
        pairs: Iterable[tuple[str, str, str]] = _start_tag_attributes(raw, found.start())
    else:
        text = matched.decode("utf-8")
        pairs = _ATTRIBUTE.findall(text)
        if (
            "&" not in text
            and "\t" not in text
            and "\n" not in text
            and "\r" not in text
            and "xmlns" not in text
        ):
            # Most start tags: values as written (nothing to decode or normalize), no
            # declaration, names without a prefix.
            as_written = {name: double or single for name, double, single in pairs}
            if ":" not in text or not any(":" in name for name in as_written):
                return as_written
    own: dict[str, str] = {}
    plain: list[tuple[str, str]] = []
    prefixed: list[tuple[str, str, str]] = []
    for name, double, single in pairs:
        # findall gives "" for the quote style not used.
        text = attribute_value(double or single)
        if name.startswith("xmlns"):
            if name == "xmlns":
                continue
            if name[5] == ":":
                own[name[6:]] = text
                continue
        prefix, colon, local = name.partition(":")
        if colon:
            prefixed.append((prefix, local, text))
        else:
            plain.append((name, text))
    attrs = dict(plain)
    if prefixed:
        scope = {p: u for p, u in namespaces if p is not None}
        scope.update(own)
        for prefix, local, text in prefixed:
            uri = XML_NS if prefix == "xml" else scope[prefix]
            attrs[f"{{{uri}}}{local}"] = text
    return attrs


def read_attributes(
    event: ElementReceived, _set_attrs: Callable[[object, object], None] = _ER_SET[4]
) -> dict[str, str]:
    """The attributes of an ``ElementReceived``, decoded and kept in the event."""
    if type(event) is not ElementReceived:
        raise TypeError(f"an ElementReceived, not {type(event).__name__}")
    attrs = attributes(event.raw, event.header.namespaces, event._attrs)  # type: ignore[arg-type]
    _set_attrs(event, attrs)
    return attrs


def _start_tag_attributes(raw: bytes, pos: int) -> Iterator[tuple[str, str, str]]:
    # One after the other up to the tag's end: a '>' may stand inside a value.
    match = _RAW_ATTRIBUTE.match(raw, pos)
    while match is not None:
        name, double, single = match.group(1, 2, 3)
        yield name.decode(), (double or b"").decode(), (single or b"").decode()
        match = _RAW_ATTRIBUTE.match(raw, match.end())


_wrapper_key: object = None
_wrapper: tuple[bytes, bytes] = (b"", b"")


def _wrapped(namespaces: tuple[tuple[str | None, str], ...]) -> tuple[bytes, bytes]:
    """The wrapper's start and end tags for one header's declarations (last one kept)."""
    global _wrapper_key, _wrapper
    if namespaces is not _wrapper_key:
        declarations = "".join(
            f' xmlns{":" + prefix if prefix else ""}="{uri.translate(_ESCAPES)}"'
            for prefix, uri in namespaces
        )
        _wrapper = (f"<{_SCOPE_TAG}{declarations}>".encode(), f"</{_SCOPE_TAG}>".encode())
        _wrapper_key = namespaces
    return _wrapper


class _StreamBuilder:
    """One expat parser inside an open wrapper element, fed stanza after stanza.

    Making an expat parser costs more than parsing a stanza, so each thread
    keeps one for the stream header it last saw; every complete element fed
    becomes the wrapper's only child and is taken out at once.
    """

    __slots__ = ("_flush", "_parser", "_scope", "key")

    def __init__(self, namespaces: tuple[tuple[str | None, str], ...]) -> None:
        self.key = namespaces
        builder = ET.TreeBuilder()
        # Opened by hand, so we hold the element expat's wrapper goes into.
        holder = builder.start("xmppwire-holder", {})
        self._parser = ET.XMLParser(target=builder)
        self._parser.feed(_wrapped(namespaces)[0])
        (self._scope,) = holder
        # expat 2.6+ may hold back the end of a complete element until more comes.
        self._flush = getattr(self._parser, "flush", None)

    def element(self, raw: bytes) -> ET.Element:
        self._parser.feed(raw)
        if self._flush is not None:
            self._flush()
        scope = self._scope
        (element,) = scope
        del scope[0]
        return element


_local = threading.local()


def element(raw: bytes, namespaces: tuple[tuple[str | None, str], ...]) -> ET.Element:
    """The element as an ``xml.etree.ElementTree.Element``."""
    builder = getattr(_local, "builder", None)
    if builder is None or builder.key is not namespaces:
        builder = _local.builder = _StreamBuilder(namespaces)
    return builder.element(raw)


class _ScopeFilter:
    """Passes expat's events to a target, less the wrapper's, text runs joined."""

    __slots__ = ("_depth", "_pending", "_target", "_text", "end_ns", "start_ns")

    def __init__(self, target: TreeTarget) -> None:
        self._target = target
        self._depth = 0
        self._pending: list[tuple[str, str]] = []
        self._text: list[str] = []
        if hasattr(target, "start_ns"):
            self.start_ns = self._pending_ns
        if hasattr(target, "end_ns"):
            self.end_ns = self._end_ns

    def _pending_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix, uri))

    def _flush_text(self) -> None:
        if self._text:
            text = "".join(self._text)
            self._text = []
            self._target.data(text)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._flush_text()
        pending, self._pending = self._pending, []
        self._depth += 1
        if self._depth == 1:
            return
        if pending:
            start_ns = self._target.start_ns  # type: ignore[attr-defined]
            for prefix, uri in pending:
                start_ns(prefix, uri)
        self._target.start(tag, attrib)

    def data(self, text: str) -> None:
        if self._depth > 1:
            self._text.append(text)

    def end(self, tag: str) -> None:
        self._flush_text()
        self._depth -= 1
        if self._depth:
            self._target.end(tag)

    def _end_ns(self, prefix: str) -> None:
        if self._depth:
            self._target.end_ns(prefix)  # type: ignore[attr-defined]

    def close(self) -> None:
        return None


def build(raw: bytes, namespaces: tuple[tuple[str | None, str], ...], target: TreeTarget) -> None:
    """Drive a TreeBuilder-protocol target through the element (see ElementReceived.build)."""
    opening, closing = _wrapped(namespaces)
    parser = ET.XMLParser(target=_ScopeFilter(target))
    parser.feed(opening + raw + closing)
    parser.close()
