"""XML 1.0 (5th edition) character classes as regular expressions, for the pure-Python twin."""

from __future__ import annotations

import re

XML_NS = "http://www.w3.org/XML/1998/namespace"
XMLNS_NS = "http://www.w3.org/2000/xmlns/"

# NameStartChar without ":" (an NCName may not contain one).
_NC_START = (
    "A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NC_CHAR = _NC_START + r"\-.0-9\xb7\u0300-\u036f\u203f-\u2040"
_NCNAME = f"[{_NC_START}][{_NC_CHAR}]*"

#: The maximal run of NameChars (colon included) at a position.
NAME_RUN = re.compile(f"[:{_NC_CHAR}]*")
#: A namespace-valid QName, to be used with ``fullmatch``.
QNAME = re.compile(f"{_NCNAME}(?::{_NCNAME})?")
#: An XML Name, to be used with ``fullmatch``.
NAME = re.compile(f"[:{_NC_START}][:{_NC_CHAR}]*")
#: One reference, anchored at its ``&``: decimal, hex or named.
REFERENCE = re.compile(f"&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([:{_NC_START}][:{_NC_CHAR}]*));")
#: A character XML 1.0 does not allow (surrogates cannot come out of a UTF-8 decode).
ILLEGAL_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: What can end a run of text that is fine as it is.
TEXT_SPECIAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|&|\\]\\]>")
#: What can go wrong in an attribute value.
VALUE_SPECIAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[&<]")
WHITESPACE = re.compile("[ \t\r\n]*")
PREDEFINED = frozenset(("lt", "gt", "amp", "apos", "quot"))


def legal_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def reference_error(text: str, amp: int) -> tuple[str, str] | None:
    """Judge the reference that begins at ``text[amp] == "&"``: ``None`` when accepted,
    else ``(condition, message)``."""
    match = REFERENCE.match(text, amp)
    if match is None:
        return "not-well-formed", "'&' does not begin a reference"
    dec, hexa, name = match.groups()
    if name is not None:
        if name in PREDEFINED:
            return None
        return "restricted-xml", f"reference to the undefined entity {name!r}"
    digits = (dec if dec is not None else hexa).lstrip("0")
    # Past seven digits no value is legal; int() of a huge string would be slow or refused.
    if len(digits) > 7 or not legal_char(int(digits or "0", 10 if dec is not None else 16)):
        return "not-well-formed", "character reference to an illegal character"
    return None
