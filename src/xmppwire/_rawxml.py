"""Readers over bytes the tokenizer has already validated.

They run lazily, when an event's attributes, text or tree are asked for, so
they can trust their input to be well-formed restricted XML and stay simple.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from html import escape
from typing import Any, Protocol


class TreeTarget(Protocol):
    """What ``ElementReceived.build`` drives: ElementTree's ``TreeBuilder`` protocol.

    ``start_ns(prefix, uri)`` and ``end_ns(prefix)`` are optional.
    """

    def start(self, tag: str, attrib: dict[str, str], /) -> Any: ...
    def data(self, text: str, /) -> Any: ...
    def end(self, tag: str, /) -> Any: ...


XML_NS = "http://www.w3.org/XML/1998/namespace"

_ATTRIBUTE = re.compile(
    r"""[ \t\r\n]+([^ \t\r\n=/>]+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')"""
)
_NAME_END = re.compile(r"[ \t\r\n/>]")
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|apos|quot);")
_ATTR_WHITESPACE = re.compile(r"\r\n|[\t\r\n]")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}


def _reference(match: re.Match[str]) -> str:
    ref = match.group(1)
    if ref[0] != "#":
        return _PREDEFINED[ref]
    return chr(int(ref[2:], 16) if ref[1] == "x" else int(ref[1:]))


def decode_references(text: str) -> str:
    return _REFERENCE.sub(_reference, text) if "&" in text else text


def attribute_value(raw_value: str) -> str:
    """An attribute value per XML 1.0 §3.3.3: whitespace normalized, references decoded."""
    return decode_references(_ATTR_WHITESPACE.sub(" ", raw_value))


def start_tag_attributes(
    raw: bytes, namespaces: Iterable[tuple[str | None, str]]
) -> dict[str, str]:
    """The attributes of the first start tag in ``raw``, keyed by ElementTree names."""
    text = raw.decode("utf-8")
    pos = _NAME_END.search(text, 1)
    assert pos is not None
    found: list[tuple[str, str]] = []
    own: dict[str, str] = {}
    i = pos.start()
    while True:
        match = _ATTRIBUTE.match(text, i)
        if match is None:
            break
        i = match.end()
        name = match.group(1)
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if name.startswith("xmlns"):
            if name == "xmlns":
                continue
            if name[5] == ":":
                own[name[6:]] = attribute_value(value)
                continue
        found.append((name, value))
    attrs: dict[str, str] = {}
    scope: dict[str, str] | None = None
    for name, value in found:
        prefix, colon, local = name.partition(":")
        if colon:
            if prefix == "xml":
                uri = XML_NS
            else:
                if scope is None:
                    scope = {p: u for p, u in namespaces if p is not None}
                    scope.update(own)
                uri = scope[prefix]
            name = f"{{{uri}}}{local}"
        attrs[name] = attribute_value(value)
    return attrs


def decode_text(raw: bytes) -> str:
    """Character data as XML delivers it: CDATA unwrapped, references decoded, CRLF and CR as LF."""
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    pos = 0
    for match in _CDATA.finditer(text):
        parts.append(decode_references(text[pos : match.start()]))
        parts.append(match.group(1))
        pos = match.end()
    parts.append(decode_references(text[pos:]))
    return "".join(parts)


def build_element(raw: bytes, namespaces: Iterable[tuple[str | None, str]]) -> ET.Element:
    """Parse one validated element with expat, its inherited namespaces in scope."""
    declarations = "".join(
        f' xmlns{":" + prefix if prefix else ""}="{escape(uri, quote=True)}"'
        for prefix, uri in namespaces
    )
    parser = ET.XMLParser(target=ET.TreeBuilder())
    parser.feed(f"<xmppwire-scope{declarations}>".encode())
    parser.feed(raw)
    parser.feed(b"</xmppwire-scope>")
    return parser.close()[0]


_SCOPE_TAG = "xmppwire-scope"


class _ScopeFilter:
    """Passes expat's events to a target, less those of the wrapper element."""

    __slots__ = ("_depth", "_pending", "_target", "_text", "end", "end_ns", "start_ns")

    def __init__(self, target: TreeTarget) -> None:
        self._target = target
        self._depth = 0
        self._pending: list[tuple[str, str]] = []
        self._text: list[str] = []
        if hasattr(target, "start_ns"):
            self.start_ns = self._start_ns
        if hasattr(target, "end_ns"):
            self.end_ns = self._end_ns
        self.end = self._end

    def _start_ns(self, prefix: str, uri: str) -> None:
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
        start_ns = getattr(self._target, "start_ns", None)
        if start_ns is not None:
            for prefix, uri in pending:
                start_ns(prefix, uri)
        self._target.start(tag, attrib)

    def data(self, text: str) -> None:
        if self._depth > 1:
            self._text.append(text)

    def _end(self, tag: str) -> None:
        self._flush_text()
        self._depth -= 1
        if self._depth:
            self._target.end(tag)

    def _end_ns(self, prefix: str) -> None:
        if self._depth:
            self._target.end_ns(prefix)

    def close(self) -> None:
        return None


def drive_target(
    raw: bytes, namespaces: Iterable[tuple[str | None, str]], target: TreeTarget
) -> None:
    """Drive a TreeBuilder-protocol target through one validated element."""
    declarations = "".join(
        f' xmlns{":" + prefix if prefix else ""}="{escape(uri, quote=True)}"'
        for prefix, uri in namespaces
    )
    parser = ET.XMLParser(target=_ScopeFilter(target))
    parser.feed(f"<{_SCOPE_TAG}{declarations}>".encode())
    parser.feed(raw)
    parser.feed(f"</{_SCOPE_TAG}>".encode())
    parser.close()
