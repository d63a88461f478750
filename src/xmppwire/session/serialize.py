"""Writing XML for the wire: escaping, character checks, and elements to bytes.

Everything the session writes goes through here, so a character XML forbids
(a control character, a lone surrogate, U+FFFE) raises ``LocalProtocolError``
on our side instead of getting the stream killed with ``not-well-formed`` by
the peer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..errors import LocalProtocolError
from ..events import XML_NS

__all__ = [
    "check_chars",
    "check_utf8_xml",
    "escape_attribute",
    "escape_text",
    "serialize_element",
]

_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NCNAME = re.compile(r"[A-Za-z_\u00c0-\U000effff][-.0-9A-Za-z_\u00b7\u00c0-\U000effff]*")


def check_chars(text: str) -> str:
    """Return ``text``, or raise ``LocalProtocolError`` if XML 1.0 forbids a character in it."""
    match = _ILLEGAL.search(text)
    if match is not None:
        raise LocalProtocolError(
            f"character U+{ord(match.group()):04X} at index {match.start()} is not allowed in XML"
        )
    return text


def escape_text(text: str) -> str:
    """Character data, escaped for use between tags.

    ``\r`` becomes a character reference: a raw one would reach the peer as
    ``\n`` after XML's line-end normalization.
    """
    check_chars(text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def escape_attribute(value: str) -> str:
    """An attribute value for use inside single or double quotes.

    Tabs and line ends become character references so that attribute-value
    normalization on the peer's side gives back exactly ``value``.
    """
    check_chars(value)
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&apos;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def check_utf8_xml(data: bytes) -> bytes:
    """Check that already-serialized bytes are UTF-8 holding only XML characters."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LocalProtocolError(f"not UTF-8 at byte {exc.start}") from None
    check_chars(text)
    return data


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        uri, _, local = name[1:].partition("}")
        return uri, local
    return "", name


def _check_name(local: str) -> str:
    if not _NCNAME.fullmatch(local):
        raise LocalProtocolError(f"not an XML name without a prefix: {local!r}")
    return local


def serialize_element(element: ET.Element, default_namespace: str = "") -> bytes:
    """An ElementTree element as UTF-8 bytes, namespaces declared where they change.

    ``default_namespace`` is the namespace already in scope as the default
    (the stream's content namespace): an element in it needs no ``xmlns``.
    Unlike ``ET.tostring`` it never invents ``ns0:`` prefixes for elements and
    refuses characters XML forbids.
    """
    out: list[str] = []
    _write(element, default_namespace, {}, out)
    return "".join(out).encode("utf-8")


def _write(element: ET.Element, default_ns: str, prefixes: dict[str, str], out: list[str]) -> None:
    if not isinstance(element.tag, str):
        raise LocalProtocolError("comments and processing instructions can't be sent on a stream")
    uri, local = _split(element.tag)
    _check_name(local)
    out.append("<" + local)
    if uri != default_ns:
        out.append(f" xmlns='{escape_attribute(uri)}'")
        default_ns = uri
    own_prefixes = prefixes
    for name, value in element.attrib.items():
        attr_uri, attr_local = _split(name)
        _check_name(attr_local)
        if not attr_uri:
            qname = attr_local
        elif attr_uri == XML_NS:
            qname = "xml:" + attr_local
        else:
            prefix = own_prefixes.get(attr_uri)
            if prefix is None:
                if own_prefixes is prefixes:
                    own_prefixes = dict(prefixes)
                prefix = f"ns{len(own_prefixes)}"
                own_prefixes[attr_uri] = prefix
                out.append(f" xmlns:{prefix}='{escape_attribute(attr_uri)}'")
            qname = f"{prefix}:{attr_local}"
        out.append(f" {qname}='{escape_attribute(value)}'")
    if element.text is None and len(element) == 0:
        out.append("/>")
    else:
        out.append(">")
        if element.text:
            out.append(escape_text(element.text))
        for child in element:
            _write(child, default_ns, own_prefixes, out)
            if child.tail:
                out.append(escape_text(child.tail))
        out.append(f"</{local}>")
