"""XEP-0106 JID Escaping: carry the characters a localpart excludes.

RFC 7622 §3.3.1 keeps ``" & ' / : < > @`` (and, through PRECIS, the space)
out of localparts. XEP-0106 writes them as ``\\`` plus two lowercase hex
digits. Parsing a JID never unescapes: these helpers are for presentation
and for gateways that map foreign addresses into localparts.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["escape_localpart", "unescape_localpart"]

_ESCAPES: Final = {
    " ": "\\20",
    '"': "\\22",
    "&": "\\26",
    "'": "\\27",
    "/": "\\2f",
    ":": "\\3a",
    "<": "\\3c",
    ">": "\\3e",
    "@": "\\40",
    "\\": "\\5c",
}
_UNESCAPES: Final = {sequence[1:]: char for char, sequence in _ESCAPES.items()}
_CODES = "|".join(_UNESCAPES)
# A backslash is escaped only where it would otherwise start one of the ten
# sequences (XEP-0106 §4.2), so "a\b" stays as it is.
_ESCAPE_RE: Final = re.compile(rf"""[ "&'/:<>@]|\\(?=(?:{_CODES}))""")
_UNESCAPE_RE: Final = re.compile(rf"\\({_CODES})")


def escape_localpart(text: str) -> str:
    """Escape ``text`` per XEP-0106 so it can serve as a localpart.

    Raises ``ValueError`` when ``text`` starts or ends with a space: XEP-0106
    forbids ``\\20`` at either end of an escaped localpart.
    """
    if text[:1] == " " or text[-1:] == " ":
        raise ValueError("XEP-0106: an escaped localpart can't start or end with a space")
    return _ESCAPE_RE.sub(lambda match: _ESCAPES[match.group()], text)


def unescape_localpart(localpart: str) -> str:
    """Undo :func:`escape_localpart`: turn the ten XEP-0106 sequences back into characters.

    Any other backslash is kept as it is.
    """
    return _UNESCAPE_RE.sub(lambda match: _UNESCAPES[match.group(1)], localpart)
