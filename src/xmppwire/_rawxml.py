"""Decoding over bytes the tokenizer has already validated, and the tree target protocol.

References, attribute values and character data as XML delivers them; both
twins' tokenizers and stanza readers use them. They trust their input to be
well-formed restricted XML and stay simple.
"""

from __future__ import annotations

import re
from typing import Any, Protocol


class TreeTarget(Protocol):
    """What ``ElementReceived.build`` drives: ElementTree's ``TreeBuilder`` protocol.

    ``start_ns(prefix, uri)`` and ``end_ns(prefix)`` are optional.
    """

    def start(self, tag: str, attrib: dict[str, str], /) -> Any: ...
    def data(self, text: str, /) -> Any: ...
    def end(self, tag: str, /) -> Any: ...


XML_NS = "http://www.w3.org/XML/1998/namespace"

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
    if "&" in raw_value or "\t" in raw_value or "\n" in raw_value or "\r" in raw_value:
        return decode_references(_ATTR_WHITESPACE.sub(" ", raw_value))
    return raw_value


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
