"""Pure-Python twin of the stream tokenizer; docs/stream-parser.md is its contract.

Two paths share one state machine. The exact path cuts the buffer into the
contract's tokens and judges each one completely, in stream order; it resumes
an incomplete token where its scan stopped, so byte-at-a-time input stays
linear. The fast path matches whole, common top-level elements with one
regular expression and checks encoding, characters and references over a whole
run of them at once; whenever it is not sure, it leaves the bytes to the exact
path, which then finds the same events or the first error exactly.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from . import _tree_py
from . import _xmlchars as xc
from ._rawxml import attribute_value
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    _ER_SET,
    _SHELLS,
    STREAMS_NS,
    ElementReceived,
    ParserEvent,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
    _ElementShell,
    _WhitespaceShell,
)
from .limits import DEFAULT_LIMITS, Limits

__all__ = ["StreamParser"]

_PROLOG, _ROOT, _ELEMENT, _CLOSED = range(4)

_WS = frozenset(b" \t\r\n")
_WS_RUN = re.compile(rb"[ \t\r\n]*")
_QUOTE_OR_GT = re.compile(rb"[>'\"]")
# The rest of a start tag: group 1 its '>', else group 2 the quote left open, else neither.
# (Possessive quantifiers need Python 3.11; without them the result is the same, since
# the final group is optional and nothing ever backtracks into the run.)
_START_TAG_REST = re.compile(
    rb"(?:[^'\">]++|'[^']*+'|\"[^\"]*+\")*+(?:(>)|(['\"]))?"
    if sys.version_info >= (3, 11)
    else rb"(?:[^'\">]+|'[^']*'|\"[^\"]*\")*(?:(>)|(['\"]))?"
)
_PI_RUN = re.compile(rb"[A-Za-z0-9_:.\-\x80-\xff]*")
_OPENERS = (b"<!--", b"<!DOCTYPE", b"<![CDATA[")
_XMLDECL_VERSION = re.compile(r"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['\"])")
_XMLDECL_ENCODING = re.compile(r"[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['\"])")
_XMLDECL_STANDALONE = re.compile(r"[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['\"])")
_XMLDECL_END = re.compile(r"[ \t\r\n]*\?>")
_ENCNAME = re.compile(r"[A-Za-z][A-Za-z0-9._\-]*")
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)")

_NWF = "not-well-formed"
_POLICY = "policy-violation"
# The messages of a bad reference by condition, word for word the compiled twin's.
_TEXT_REFERENCE_MESSAGES = {
    "restricted-xml": "reference to an undefined entity",
    _NWF: "bad reference",
}
_VALUE_REFERENCE_MESSAGES = {
    "restricted-xml": "reference to an undefined entity",
    _NWF: "bad reference in an attribute value",
}


class _Fail(Exception):
    """A stream error found while parsing; turned into RemoteProtocolError by feed()."""

    def __init__(self, condition: str, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.condition = condition
        self.message = message
        self.offset = offset


def _blen(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _cannot_begin_utf8(byte: int) -> bool:
    return 0x80 <= byte <= 0xC1 or byte >= 0xF5


def _judge_start_tag(tag: str, limits: Limits) -> tuple[str, list[tuple[str, str]], bool]:
    """Syntax and per-tag limits of a whole start tag, left to right.

    Returns the name, the attributes as written ``(name, raw value)`` and
    whether the tag is empty. Every error is reported at the tag's ``<``.
    """
    match = xc.NAME_RUN.match(tag, 1)
    name = match.group()
    if xc.QNAME.fullmatch(name) is None:
        raise _Fail(_NWF, "bad element name")
    if _blen(name) > limits.max_name_bytes:
        raise _Fail(_POLICY, "element name longer than max_name_bytes")
    attrs: list[tuple[str, str]] = []
    names: set[str] = set()
    j = match.end()
    last = len(tag) - 1
    while True:
        k = xc.WHITESPACE.match(tag, j).end()
        char = tag[k]
        if char == ">":
            return name, attrs, False
        if char == "/":
            if k + 1 == last:
                return name, attrs, True
            raise _Fail(_NWF, "'/' not followed by '>' in a start tag")
        if k == j:
            raise _Fail(_NWF, "unexpected character in a start tag")
        match = xc.NAME_RUN.match(tag, k)
        attr = match.group()
        if xc.QNAME.fullmatch(attr) is None:
            raise _Fail(_NWF, "bad attribute name")
        if _blen(attr) > limits.max_name_bytes:
            raise _Fail(_POLICY, "attribute name longer than max_name_bytes")
        if attr in names:
            raise _Fail(_NWF, "duplicate attribute")
        if len(attrs) == limits.max_attributes:
            raise _Fail(_POLICY, "more attributes than max_attributes")
        j = xc.WHITESPACE.match(tag, match.end()).end()
        if tag[j] != "=":
            raise _Fail(_NWF, "attribute without '='")
        j = xc.WHITESPACE.match(tag, j + 1).end()
        quote = tag[j]
        if quote != '"' and quote != "'":
            raise _Fail(_NWF, "unquoted attribute value")
        end = tag.find(quote, j + 1)
        value = tag[j + 1 : end]
        for special in xc.VALUE_SPECIAL.finditer(value):
            char = special.group()
            if char == "&":
                problem = xc.reference_error(value, special.start())
                if problem is not None:
                    raise _Fail(problem[0], _VALUE_REFERENCE_MESSAGES[problem[0]])
            elif char == "<":
                raise _Fail(_NWF, "'<' in an attribute value")
            else:
                raise _Fail(_NWF, "illegal character in an attribute value")
        if _blen(value) > limits.max_attribute_value_bytes:
            raise _Fail(_POLICY, "attribute value longer than max_attribute_value_bytes")
        attrs.append((attr, value))
        names.add(attr)
        j = end + 1


def _judge_end_tag(tag: str) -> str:
    match = xc.NAME_RUN.match(tag, 2)
    name = match.group()
    if xc.QNAME.fullmatch(name) is None:
        raise _Fail(_NWF, "bad end tag")
    if xc.WHITESPACE.match(tag, match.end()).end() != len(tag) - 1:
        raise _Fail(_NWF, "bad end tag")
    return name


def _declarations(attrs: list[tuple[str, str]]) -> dict[str | None, str] | None:
    """The namespace declarations among a start tag's attributes, checked, in order."""
    own: dict[str | None, str] | None = None
    for attr, raw_value in attrs:
        if attr == "xmlns":
            prefix = None
        elif attr.startswith("xmlns:"):
            prefix = attr[6:]
        else:
            continue
        uri = attribute_value(raw_value)
        if prefix == "xmlns":
            raise _Fail(_NWF, "the prefix 'xmlns' cannot be declared")
        if prefix is not None and not uri:
            raise _Fail(_NWF, f"the prefix {prefix!r} is declared empty")
        if prefix == "xml":
            if uri != xc.XML_NS:
                raise _Fail(_NWF, "the prefix 'xml' bound to another namespace")
        elif uri == xc.XML_NS:
            raise _Fail(_NWF, "the XML namespace bound to a prefix other than 'xml'")
        if uri == xc.XMLNS_NS:
            raise _Fail(_NWF, "the xmlns namespace cannot be declared")
        if own is None:
            own = {}
        own[prefix] = uri
    return own


# -- the fast path's patterns -------------------------------------------------------------------

#: Nesting the fast pattern covers; deeper elements go the exact way, about ten times
#: slower. (Each level and attribute slot makes the pattern longer to compile: ~11 ms
#: for these, at import; matching common stanzas costs no more than with 5, 6 and 4.)
_FAST_DEPTH = 8
#: An element cut by the end of a chunk of at least _FAST_OPENED_CHUNK bytes, and no longer
#: than _FAST_OPENED_BYTES, has its complete tokens checked by the fast pattern and waits.
_FAST_OPENED_BYTES = 16384
_FAST_OPENED_CHUNK = 512
#: Attributes per start tag the fast pattern covers: on the outermost tag, and deeper.
_FAST_ATTRIBUTES = 8
_FAST_INNER_ATTRIBUTES = 6
#: Attributes per start tag the wide pattern covers: on the outermost tag, and deeper.
_WIDE_ATTRIBUTES = 12
_WIDE_INNER_ATTRIBUTES = 12
#: The largest name or value length the fast patterns count to.
_FAST_MAX_COUNT = 1 << 20
# A possessive quantifier spares backtracking where the next byte decides anyway.
_PLUS = "+" if sys.version_info >= (3, 11) else ""
# A CDATA section, its content unrolled as runs of "not ']'" between single ']': each
# byte can be matched one way only, so a section left open fails in linear time even
# where there are no possessive quantifiers (nested runs would backtrack exponentially).
_CDATA_SECTION = f"<!\\[CDATA\\[[^\\]]*{_PLUS}(?:\\](?!\\]>)[^\\]]*{_PLUS})*{_PLUS}\\]\\]>"
_FAST_CACHE: dict[tuple[int, int, int, int], tuple[re.Pattern[bytes], re.Pattern[bytes]]] = {}
_NAMES: dict[bytes, str] = {}
_FAST_END_TAG = re.compile(
    rb"</([A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?)[ \t\r\n]*>"
)
# Attributes one after the other, as the fast pattern has matched them.
_FAST_ATTRIBUTE = re.compile(
    rb"[ \t\r\n]+([^= \t\r\n]+)[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|\"([^\"]*)\")"
)
# The default namespace declaration among attributes the fast pattern has matched: they
# are walked from the first, so that nothing inside a value is taken for one.
_FAST_XMLNS = re.compile(
    rb"(?:[ \t\r\n]+[^= \t\r\n]+[ \t\r\n]*=[ \t\r\n]*(?:'[^']*'|\"[^\"]*\"))*?"
    rb"[ \t\r\n]+xmlns[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|\"([^\"]*)\")"
)
#: Namespace names as declared (raw value bytes) and decoded, bounded.
_NAMESPACES: dict[bytes, str] = {}
# Every byte but the C0 controls XML forbids: what translate() deletes to find those.
_FAST_LEGAL_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (9, 10, 13))
# The same but for ']', '&' and '#' too, which begin what the run checks look at.
_FAST_COMMON_BYTES = bytes(b for b in _FAST_LEGAL_BYTES if b not in b"]&#")
_FAST_BAD_AMP = re.compile(rb"&(?!(?:lt|gt|amp|apos|quot|#[0-9]+|#x[0-9a-fA-F]+);)")
_FAST_CHARREF = re.compile(rb"&#(x?[0-9a-fA-F]+);")
_FAST_DECLARATION_REFERENCE = re.compile(rb"xmlns[ \t\r\n]*=[ \t\r\n]*(?:'[^']*&#|\"[^\"]*&#)")
#: Character references already found legal (``"9731"``, ``"x2600"``), bounded.
_FAST_LEGAL_CHARREFS: set[bytes] = set()

# -- the walk: one element token by token, for what the fast pattern leaves out -------------

# Names as the walk cuts them: anything up to a byte no name can hold; each is then
# judged a QName (and cached). ASCII names are judged by a bytes pattern.
_WALK_NAME = rb"[^\x00-\x20/>'\"=<&!?]+"
_WALK_TOKEN = re.compile(
    (
        # 1: text
        f"([^<]+{_PLUS})"
        # 2, 3, 4: a start tag's name, its attributes, the '/' of an empty one
        f"|<({_WALK_NAME.decode()})"
        f"((?:[ \t\r\n]+{_PLUS}{_WALK_NAME.decode()}[ \t\r\n]*{_PLUS}="
        f"[ \t\r\n]*{_PLUS}(?:'[^']*{_PLUS}'|\"[^\"]*{_PLUS}\"))*{_PLUS})"
        f"[ \t\r\n]*{_PLUS}(/?)>"
        # 5: an end tag's name
        f"|</({_WALK_NAME.decode()})[ \t\r\n]*{_PLUS}>"
        # a CDATA section (no group: lastindex is None)
        f"|{_CDATA_SECTION}"
    ).encode()
)
_ASCII_QNAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?")
#: Names the walk has judged: raw bytes to (prefix or None, local name), bounded.
_WALK_QNAMES: dict[bytes, tuple[str | None, str]] = {}
# A CDATA section in a run the patterns have matched: only where one begins is there '<!['.
_FAST_CDATA = re.compile(_CDATA_SECTION.encode())


def _walk_qname(raw: bytes) -> tuple[str | None, str] | None:
    """A name's prefix and local part if it is a QName, else None."""
    parts = _WALK_QNAMES.get(raw)
    if parts is None:
        if raw.isascii():
            if _ASCII_QNAME.fullmatch(raw) is None:
                return None
            text = raw.decode("ascii")
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
            if xc.QNAME.fullmatch(text) is None:
                return None
        prefix, colon, local = text.rpartition(":")
        parts = (prefix if colon else None, local)
        # A peer chooses the names: keep the cache bounded.
        if len(_WALK_QNAMES) < 4096:
            _WALK_QNAMES[raw] = parts
    return parts


def _resolve_prefix(
    prefix: str | None,
    own: dict[str | None, str] | None,
    scopes: list[dict[str | None, str] | None],
    header_scope: dict[str | None, str],
) -> str | None:
    """The namespace of ``prefix`` (None: the default, ``""`` when none), or None if unbound.

    ``own`` are the declarations of the tag at hand, ``scopes`` those of the open
    elements around it, innermost last, ``header_scope`` the stream header's.
    """
    if prefix == "xml":
        return xc.XML_NS
    if prefix == "xmlns":
        return None
    if own is not None and prefix in own:
        return own[prefix]
    for scope in reversed(scopes):
        if scope is not None and prefix in scope:
            return scope[prefix]
    if prefix is None:
        return header_scope.get(None, "")
    return header_scope.get(prefix)


#: What the walk and the wide checks refuse, and an attribute list not judged yet.
_REFUSED: Any = object()
_UNKNOWN = object()
#: Attribute lists the walk has found fine, and their declarations (None: none), for
#: each set of limits: bounded, emptied when full.
_WALK_KNOWN: dict[Limits, dict[bytes, dict[str | None, str] | None]] = {}


def _walk_known(limits: Limits) -> dict[bytes, dict[str | None, str] | None]:
    known = _WALK_KNOWN.get(limits)
    if known is None:
        if len(_WALK_KNOWN) >= 16:
            _WALK_KNOWN.clear()
        known = _WALK_KNOWN[limits] = {}
    return known


def _unjudged_value(raw: bytes) -> str | None:
    """An attribute value read before its bytes and references are judged, or None
    where only the exact path can say what is wrong: not UTF-8, or a reference to no
    character (past U+10FFFF: ValueError, or OverflowError past a C int)."""
    try:
        return attribute_value(raw.decode("utf-8"))
    except (ValueError, OverflowError):
        return None


def _declared_uri(prefix: str | None, single: bytes, double: bytes) -> str | None:
    """The namespace a declaration of ``prefix`` (None: the default) binds, or None if
    the exact path must judge it: empty for a prefix, reserved, or undecodable."""
    uri = _unjudged_value(single + double)
    if uri is None:
        return None
    if uri == xc.XML_NS or uri == xc.XMLNS_NS:
        return None
    if prefix is not None and (not uri or prefix == "xml" or prefix == "xmlns"):
        return None
    return uri


def _walk_attributes(
    attrs: bytes,
    scopes: list[dict[str | None, str] | None],
    header_scope: dict[str | None, str],
    known: dict[bytes, dict[str | None, str] | None],
    max_name: int,
    max_value: int,
    max_attributes: int,
) -> Any:
    """A start tag's declarations (None: none) if its attributes are fine, else _REFUSED."""
    if 0x3C in attrs:
        return _REFUSED
    pairs = _FAST_ATTRIBUTE.findall(attrs)
    if len(pairs) > max_attributes:
        return _REFUSED
    own: dict[str | None, str] = {}
    seen: set[bytes] = set()
    prefixed: list[tuple[str, str]] = []
    for attr, single, double in pairs:
        if attr in seen or len(attr) > max_name or len(single) + len(double) > max_value:
            return _REFUSED
        seen.add(attr)
        parts = _walk_qname(attr)
        if parts is None:
            return _REFUSED
        prefix, local = parts
        if prefix is None and local != "xmlns":
            continue
        if prefix is not None and prefix != "xmlns":
            prefixed.append((prefix, local))
            continue
        declared = None if prefix is None else local
        uri = _declared_uri(declared, single, double)
        if uri is None:
            return _REFUSED
        own[declared] = uri
    if prefixed:
        # Two prefixed attributes may still name the same attribute once resolved.
        expanded: set[tuple[str | None, str]] = set()
        for attr in seen:
            if b":" not in attr and attr != b"xmlns":
                expanded.add((None, attr.decode("utf-8")))
        for prefix, local in prefixed:
            uri = _resolve_prefix(prefix, own, scopes, header_scope)
            if uri is None or (uri, local) in expanded:
                return _REFUSED
            expanded.add((uri, local))
        return own or None
    # Without a prefixed attribute, nothing here depends on where the tag stands.
    if len(known) >= 1024:
        known.clear()
    result = known[attrs] = own or None
    return result


class _FastGrammar:
    """The pieces of the fast patterns for one set of limits, as regular expression text."""

    def __init__(
        self, depth: int, max_attrs: int, max_name: int, max_value: int, wide: bool = False
    ) -> None:
        # A regular expression counts to 2**32 - 2 at most; past a count it can take,
        # a longer name or value simply goes the exact way, which checks the real limit.
        max_name = min(max_name, _FAST_MAX_COUNT)
        max_value = min(max_value, _FAST_MAX_COUNT)
        self.depth = depth
        self.ws = r"[ \t\r\n]"
        self.name = rf"[A-Za-z_][A-Za-z0-9_.\-]{{0,{max_name - 1}}}"
        self.attr_name = self.name
        if max_name > 4:
            self.attr_name = rf"(?:xml:[A-Za-z_][A-Za-z0-9_.\-]{{0,{max_name - 5}}}|{self.name})"
        if max_name > 6 and wide:
            self.attr_name = (
                rf"(?:xmlns:[A-Za-z_][A-Za-z0-9_.\-]{{0,{max_name - 7}}}|{self.attr_name})"
            )
        self.text = f"[^<]*{_PLUS}"
        self.wide = wide
        self.ascii_name = self.name
        if wide:
            # Element names with a prefix or other than ASCII bytes, which the caller
            # judges (the pattern only cuts them), and CDATA sections in text.
            self.name = rf"[A-Za-z_\x80-\xff][A-Za-z0-9_.\-:\x80-\xff]{{0,{max_name - 1}}}"
            self.text = f"[^<]*{_PLUS}(?:{_CDATA_SECTION}[^<]*{_PLUS})*{_PLUS}"
        self.slots = min(_WIDE_ATTRIBUTES if wide else _FAST_ATTRIBUTES, max_attrs)
        self.inner_slots = min(
            self.slots, _WIDE_INNER_ATTRIBUTES if wide else _FAST_INNER_ATTRIBUTES
        )
        self.max_value = max_value

    def attributes(self, group: str, slots: int, extra: str) -> str:
        """Up to ``slots`` attributes, none twice; ``extra`` are bytes values may not hold."""
        max_value = self.max_value
        # Namespace declarations are values like any other here: _fast_span_ok refuses a
        # run in which one could bind a reserved namespace.
        # A class of two bytes or more is matched several times slower than "all but
        # one byte": a value is matched as the latter, each byte it may not hold
        # looked for by a lookahead (a search for one byte, backwards from the quote).
        single = "".join(f"(?![^']{{0,{max_value}}}{c})" for c in extra)
        double = "".join(f'(?![^"]{{0,{max_value}}}{c})' for c in extra)
        value = f"(?:'{single}[^']{{0,{max_value}}}'|\"{double}[^\"]{{0,{max_value}}}\")"
        # Unrolled so that each name can be told apart from the ones before it in the tag.
        # Whitespace as people write it: runs of spaces, tabs and newlines between
        # attributes and around '='.
        ws = self.ws
        tail = ""
        for slot in range(slots, 0, -1):
            # A name is followed by '=' or whitespace: that ends a repeat of an earlier one.
            unique = "".join(f"(?!(?P={group}_{j})[= \\t\\r\\n])" for j in range(1, slot))
            tail = (
                f"(?:{ws}+{_PLUS}{unique}(?P<{group}_{slot}>{self.attr_name})"
                f"{ws}*{_PLUS}={ws}*{_PLUS}{value}{tail})?{_PLUS}"
            )
        return tail

    def inner_attributes(self, group: str) -> str:
        return self.attributes(group, self.inner_slots, "<")

    def element(self, level: int, group: str, cut: bool = False) -> str:
        """A complete element nesting at most ``level`` deep; group names begin with ``group``.

        With ``cut``, an element may also stop at the end of what is searched, its
        last elements still open; then the outermost one sets the empty group ``cut``.
        """
        if level == 0:
            return "(?!)"
        ws = self.ws
        outermost = group == "" and level == self.depth
        if outermost:
            # The outermost tag: its name and attributes are groups 1 and 2, and its values
            # may hold '<' (the caller looks: a byte search is cheaper than a class).
            head = f"<(?P<n{level}>{self.name})({self.attributes(f'a{level}', self.slots, '')})"
        else:
            name = self.name
            if self.wide:
                # A name with a prefix or other than ASCII sets the group odd<level>.
                # (A plain name matches both ways; the possessive repeats, which only
                # Pythons that use this pattern have, never come back to try the second.)
                name = f"{self.ascii_name}(?![:\\x80-\\xff])|{self.name}(?P<{group}odd{level}>)"
            head = f"<(?P<{group}n{level}>{name}){self.inner_attributes(f'{group}a{level}')}"
        inner = self.element(level - 1, group, cut)
        end = f"</(?P={group}n{level}){ws}*{_PLUS}>"
        if cut:
            end = f"(?:{end}|{'(?P<cut>)' if outermost else ''}\\Z)"
        element = f"{head}{ws}*{_PLUS}(?:/>|>{self.text}(?:{inner}{self.text})*{_PLUS}{end})"
        if outermost and self.wide:
            # The group plain is set when no name below the outermost tag was odd.
            chain = ""
            for below in range(1, level):
                chain = f"(?(odd{below})(?!)|{chain})"
            element += f"(?P<plain>{chain})?"
        return element


def _fast_key(limits: Limits) -> tuple[int, int, int, int]:
    return (
        min(_FAST_DEPTH, limits.max_depth),
        limits.max_attributes,
        limits.max_name_bytes,
        limits.max_attribute_value_bytes,
    )


def _fast_pattern(limits: Limits) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """One whole element as common serializers write it, and one start tag, or no match.

    ASCII names, no prefix but ``xml:`` on attributes, attributes separated by
    whitespace and written ``name='value'`` or ``name = "value"``, at most
    ``_FAST_ATTRIBUTES`` of them and none twice, no CDATA, comments or PIs, within
    the limits a pattern can count. In the element pattern group 1 is the whitespace
    before the element (taken in the same match: pretty-printed streams put a newline
    between stanzas), group 2 the element, group 3 its name, group 4 the attributes of
    its outermost tag, and the empty group ``cut`` is set
    when the element is cut by the end of the search; in the tag pattern group 1 is the
    name, 2 the attributes. A tag's values hold no ``&``, so that it needs no further
    look but at its bytes' encoding.
    """
    key = _fast_key(limits)
    patterns = _FAST_CACHE.get(key)
    if patterns is None:
        grammar = _FastGrammar(*key)
        ws = grammar.ws
        tag = f"<({grammar.name})({grammar.attributes('t', grammar.slots, '<&')}){ws}*/?>"
        element = f"({ws}*{_PLUS})({grammar.element(grammar.depth, '', cut=True)})"
        patterns = re.compile(element.encode()), re.compile(tag.encode())
        if len(_FAST_CACHE) >= 16:
            _FAST_CACHE.clear()
        _FAST_CACHE[key] = patterns
    return patterns


#: Nesting the wide pattern covers.
_WIDE_DEPTH = 12


def _no_match() -> None:
    """Stands for a scanner that has found nothing."""


def _wide_declarations(attrs: bytes) -> dict[str | None, str] | None:
    """The namespace declarations of a tag's attributes, None if none, _REFUSED if
    one of them is refused (the exact path says why)."""
    own: dict[str | None, str] | None = None
    for attr, single, double in _FAST_ATTRIBUTE.findall(attrs):
        if attr == b"xmlns":
            prefix = None
        elif attr[:6] == b"xmlns:":
            prefix = attr[6:].decode("ascii")
        else:
            continue
        uri = _declared_uri(prefix, single, double)
        if uri is None:
            return _REFUSED
        if own is None:
            own = {}
        own[prefix] = uri
    return own


#: The tags of an element the wide pattern has matched: '/' of an end tag, name,
#: attributes, '/' of an empty one.
_WIDE_TAG = re.compile(
    rb"<(/?)([^ \t\r\n/>]+)((?:[ \t\r\n]+[^ \t\r\n=]+[ \t\r\n]*=[ \t\r\n]*"
    rb"(?:'[^']*'|\"[^\"]*\"))*)[ \t\r\n]*(/?)>"
)
#: The start tags in an element the wide pattern has matched, by their names.
_WIDE_START_TAG = re.compile(rb"<([A-Za-z_\x80-\xff][A-Za-z0-9_.\-:\x80-\xff]*)")
_WIDE_CACHE: dict[tuple[int, int, int, int], re.Pattern[bytes]] = {}


#: Elements the fast pattern has left to the walk, in this process, before the wide
#: pattern is compiled: a stream's features (``<stream:features>``) should not cost
#: every process the ~25 ms it takes.
_WIDE_AFTER = 64
_wide_misses = 0


def _wide_pattern(limits: Limits) -> re.Pattern[bytes] | None:
    """The element pattern tried where the fast one fails, compiled when first needed.

    None until the fast pattern has missed ``_WIDE_AFTER`` elements in the process:
    the walk takes them meanwhile. Always None without possessive quantifiers
    (Python 3.10): there the engine keeps a way back into every repeat it has
    entered, and a large element costs more than linear time (1.1 MB nested eleven
    deep: 3.8 s, against 0.47 s by the walk).

    Deeper (``_WIDE_DEPTH``), with prefixed and non-ASCII element names, ``xmlns:``
    declarations and CDATA sections; groups as in the fast element pattern. What it
    lets through unjudged (names, prefixes) :meth:`StreamParser._wide_names` judges.
    """
    global _wide_misses
    if not _PLUS:
        return None
    key = (min(_WIDE_DEPTH, limits.max_depth), *_fast_key(limits)[1:])
    pattern = _WIDE_CACHE.get(key)
    if pattern is None:
        if _wide_misses < _WIDE_AFTER:
            _wide_misses += 1
            return None
        grammar = _FastGrammar(*key, wide=True)
        element = f"({grammar.ws}*{_PLUS})({grammar.element(grammar.depth, '', cut=True)})"
        pattern = re.compile(element.encode())
        if len(_WIDE_CACHE) >= 16:
            _WIDE_CACHE.clear()
        _WIDE_CACHE[key] = pattern
    return pattern


def _tag_end(buf: bytearray, start: int, n: int) -> int:
    """The end of the tag at ``buf[start] == b"<"``: past its first ``>`` outside quotes, or -1."""
    pos = start + 1
    while True:
        match = _QUOTE_OR_GT.search(buf, pos, n)
        if match is None:
            return -1
        k = match.start()
        if buf[k] == 0x3E:
            return k + 1
        k = buf.find(b"'" if buf[k] == 0x27 else b'"', k + 1, n)
        if k < 0:
            return -1
        pos = k + 1


def _fast_span_ok(span: bytes | bytearray) -> bool:
    """What the fast pattern leaves out, checked over a whole run of elements at once."""
    # A search for one byte is many times faster than one for several: each rare
    # sequence is looked for only where its rarest byte occurs. (`int in bytes` and
    # find() spare the failed int conversion that `bytes in bytes` begins with.)
    if not span.isascii():
        try:
            span.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if 0xEF in span and (span.find(b"\xef\xbf\xbe") >= 0 or span.find(b"\xef\xbf\xbf") >= 0):
            return False
    # One pass keeps the few bytes that matter: C0 controls, ']', '&' and '#'.
    rare = span.translate(None, _FAST_COMMON_BYTES)
    if rare and rare.translate(None, b"]&#"):
        return False
    if 0x5D in rare and span.find(b"<![CDATA[") >= 0:
        # What a CDATA section holds is not markup: '&' and ']]>' are looked for outside.
        span = _FAST_CDATA.sub(b"", span)
        rare = span.translate(None, _FAST_COMMON_BYTES)
    if 0x5D in rare and span.find(b"]]>") >= 0:
        return False
    # The patterns take a namespace declaration as any attribute: no run may bind the
    # reserved namespaces.
    if span.find(b"http://www.w3.org/") >= 0 and (
        span.find(b"http://www.w3.org/XML/1998/namespace") >= 0
        or span.find(b"http://www.w3.org/2000/xmlns/") >= 0
    ):
        return False
    if 0x26 in rare:
        if _FAST_BAD_AMP.search(span) is not None:
            return False
        if 0x23 in rare and span.find(b"&#") >= 0:
            # Nor spelled with character references (no predefined entity can spell them).
            if _FAST_DECLARATION_REFERENCE.search(span) is not None:
                return False
            refs = set(_FAST_CHARREF.findall(span))
            if not _FAST_LEGAL_CHARREFS.issuperset(refs):
                for ref in refs:
                    digits = ref.lstrip(b"x0")
                    base = 16 if ref[:1] == b"x" else 10
                    if len(digits) > 7 or not xc.legal_char(int(digits or b"0", base)):
                        return False
                if len(_FAST_LEGAL_CHARREFS) < 4096:
                    _FAST_LEGAL_CHARREFS.update(refs)
    return True


class StreamParser:
    """Splits one direction of an XMPP stream into events; see docs/stream-parser.md."""

    def __init__(
        self, *, limits: Limits = DEFAULT_LIMITS, pause_after: Iterable[tuple[str, str]] = ()
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
        # One stream has one order of bytes: a call that overlaps another, from
        # another thread, is refused rather than allowed to mix their state.
        self._guard = threading.Lock()
        self._limits = limits
        self._pause_after: frozenset[tuple[str, str]] = frozenset()
        self.pause_after = pause_after  # type: ignore[assignment]
        self._fast = True
        self._element_pattern, self._tag_pattern = _fast_pattern(limits)
        self._cut_group = self._element_pattern.groupindex["cut"]
        self._wide_pattern: re.Pattern[bytes] | None = None
        # Plain elements in a row before the fast pattern is tried again (see _fast_path).
        self._plain_needed = 4
        self._clear()

    # -- public API -------------------------------------------------------------------------

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def pause_after(self) -> frozenset[tuple[str, str]]:
        return self._pause_after

    @pause_after.setter
    def pause_after(self, names: Iterable[tuple[str, str]]) -> None:
        pairs = frozenset(names)
        for pair in pairs:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not isinstance(pair[0], str)
                or not isinstance(pair[1], str)
            ):
                raise TypeError(f"pause_after holds (namespace, name) pairs of str, not {pair!r}")
        self._enter()
        self._pause_after = pairs
        self._guard.release()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def offset(self) -> int:
        return self._received

    @property
    def header(self) -> StreamHeader | None:
        return self._header

    def feed(self, data: bytes | bytearray | memoryview) -> list[ParserEvent]:
        """Parse more of the stream; an empty ``data`` means end of input."""
        self._enter()
        try:
            return self._feed(data)
        finally:
            self._guard.release()

    def _feed(self, data: bytes | bytearray | memoryview) -> list[ParserEvent]:
        if self._error is not None:
            # Without dropping the old traceback, each raise would append to it.
            raise self._error.with_traceback(None)
        if isinstance(data, memoryview):
            size = data.nbytes
        elif isinstance(data, (bytes, bytearray)):
            size = len(data)
        else:
            raise TypeError(
                f"feed() takes bytes, bytearray or memoryview, not {type(data).__name__}"
            )
        if self._paused:
            raise LocalProtocolError("the parser is paused: take_unparsed(), then reset()")
        events: list[ParserEvent] = []
        try:
            if not size:
                self._end_of_input()
                return events
            buf = self._buf
            buf += data
            self._received += size
            self._chunk = size
            self._parse(buf, events)
        except _Fail as fail:
            failed = fail
        else:
            failed = None
        if failed is not None:
            # Raised outside the except clause so that the error carries no context: it
            # is kept and raised again, and must not keep the parse's frames alive.
            error = RemoteProtocolError(
                failed.message, condition=failed.condition, offset=failed.offset, events=events
            )
            self._error = error
            del failed
            raise error
        done = self._pos
        if done:
            del buf[:done]
            self._base += done
            self._pos = 0
            self._tok -= done
            self._scan -= done
            self._checked -= done
            self._exact_until -= done
        return events

    def close(self) -> list[ParserEvent]:
        """End of input: ``[]`` at a stream boundary, else ``RemoteProtocolError``."""
        return self.feed(b"")

    def reset(self) -> None:
        """Begin a new stream; limits and pause_after are kept."""
        self._enter()
        try:
            self._clear()
        finally:
            self._guard.release()

    def take_unparsed(self) -> bytes:
        """The bytes after the element that paused the parser; they are then forgotten."""
        self._enter()
        rest = self._unparsed
        self._unparsed = b""
        self._guard.release()
        return rest

    def _enter(self) -> None:
        if not self._guard.acquire(False):
            raise RuntimeError("StreamParser used from two threads at once")

    # -- state ------------------------------------------------------------------------------

    def _clear(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._pos = 0  # start of what is still held: a token, or the open top-level element
        self._tok = 0  # in an element: start of the next token to judge
        self._scan = 0  # how far the incomplete token at _tok (or _pos) was scanned
        self._quote = 0  # the open quote of an incomplete start tag, or the PI phase
        self._wait = 0  # the fast path waits for the element at _pos: 1 its start tag, 2 its end
        self._checked = 0  # the fast path's checks passed on buf[_pos:_checked]
        self._exact_until = 0  # the exact path alone takes what begins before this
        self._chunk = 0  # the size of the data being parsed
        self._state = _PROLOG
        self._prolog_content = False  # anything but whitespace before the header
        self._received = 0
        self._header: StreamHeader | None = None
        self._header_scope: dict[str | None, str] = {}
        self._root_name = ""
        self._stack: list[str] = []
        self._scopes: list[dict[str | None, str] | None] = []
        self._top_ns = ""
        self._top_name = ""
        self._error: RemoteProtocolError | None = None
        self._paused = False
        self._unparsed = b""

    def _end_of_input(self) -> None:
        if self._state == _CLOSED or (self._state == _PROLOG and not self._prolog_content):
            return
        if self._state == _ROOT and self._pos < len(self._buf):
            # An element the fast path left waiting: a complete token in it may be in error.
            self._fast = False
            try:
                self._parse(self._buf, [])
            finally:
                self._fast = True
        raise _Fail(_NWF, "end of input inside the stream", self._received)

    # -- token helpers ----------------------------------------------------------------------

    def _decode(self, buf: bytearray, start: int, end: int) -> str:
        try:
            return buf[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Fail(
                "unsupported-encoding", "bytes that are not UTF-8", self._base + start + exc.start
            ) from None

    def _extent(self, buf: bytearray, i: int, n: int) -> tuple[str, int]:
        """Kind and end of the markup token at ``buf[i] == b"<"``; end -1 while incomplete."""
        if i + 1 >= n:
            return "", -1
        second = buf[i + 1]
        scan = self._scan
        if second == 0x2F:  # </
            k = buf.find(b">", max(i + 2, scan))
            if k < 0:
                self._scan = n
                return "end", -1
            return self._done("end", k + 1)
        if second == 0x3F:  # <?
            if self._quote == 0:
                run = _PI_RUN.match(buf, max(i + 2, scan)).end()
                if run >= n:
                    self._scan = n
                    return "pi", -1
                if not (self._base + i == 0 and buf[run] in _WS and buf[i + 2 : run] == b"xml"):
                    return self._done("pi", run + 1)
                self._quote = 1
                scan = run
            k = buf.find(b"?>", max(i + 6, scan - 1))
            if k < 0:
                self._scan = n
                return "decl", -1
            return self._done("decl", k + 2)
        if second == 0x21:  # <!
            head = bytes(buf[i : i + 9])
            for opener in _OPENERS:
                if head.startswith(opener):
                    break
            else:
                if any(opener.startswith(head) for opener in _OPENERS):
                    return "", -1
                k = 2
                while any(opener.startswith(head[: k + 1]) for opener in _OPENERS):
                    k += 1
                return self._done("bad!", i + k + 1)
            if opener != b"<![CDATA[":
                return self._done("comment" if opener == b"<!--" else "doctype", i + len(opener))
            if self._state == _PROLOG:
                return self._done("cdata", i + 9)
            k = buf.find(b"]]>", max(i + 9, scan - 2))
            if k < 0:
                self._scan = n
                return "cdata", -1
            return self._done("cdata", k + 3)
        # A start tag: the first '>' outside a quoted value.
        pos = max(i + 1, scan)
        quote = self._quote
        while True:
            if quote:
                k = buf.find(b"'" if quote == 0x27 else b'"', pos)
                if k < 0:
                    self._scan = n
                    self._quote = quote
                    return "start", -1
                pos = k + 1
                quote = 0
            else:
                match = _QUOTE_OR_GT.search(buf, pos)
                if match is None:
                    self._scan = n
                    self._quote = 0
                    return "start", -1
                k = match.start()
                if buf[k] == 0x3E:
                    return self._done("start", k + 1)
                quote = buf[k]
                pos = k + 1

    def _done(self, kind: str, end: int) -> tuple[str, int]:
        self._scan = 0
        self._quote = 0
        return kind, end

    def _judge_text(self, buf: bytearray, start: int, end: int) -> None:
        raw = bytes(buf[start:end])
        if (
            b"&" not in raw
            and b"]]>" not in raw
            and not raw.translate(None, _FAST_LEGAL_BYTES)
            and (raw.isascii() or (b"\xef\xbf\xbe" not in raw and b"\xef\xbf\xbf" not in raw))
        ):
            # Nothing but the encoding can be wrong: skip the character-by-character search.
            self._decode(buf, start, end)
            return
        text = self._decode(buf, start, end)
        search = xc.TEXT_SPECIAL.search
        special = search(text)
        while special is not None:
            at = special.start()
            char = special.group()
            if char == "&":
                problem = xc.reference_error(text, at)
                if problem is None:
                    special = search(text, at + 1)
                    continue
                condition = problem[0]
                message = _TEXT_REFERENCE_MESSAGES[condition]
            elif char == "]]>":
                condition, message = _NWF, "']]>' in character data"
            else:
                condition, message = _NWF, f"illegal character {ord(char):#x}"
            raise _Fail(condition, message, self._base + start + _blen(text[:at]))

    def _judge_cdata(self, buf: bytearray, start: int, end: int) -> None:
        text = self._decode(buf, start, end)
        bad = xc.ILLEGAL_CHAR.search(text, 9, len(text) - 3)
        if bad is not None:
            at = bad.start()
            raise _Fail(
                _NWF,
                "illegal character in CDATA",
                self._base + start + _blen(text[:at]),
            )

    def _judge_other(self, kind: str, buf: bytearray, start: int, end: int) -> None:
        """Judge a ``<?``/``<!``/end-tag token that is an error where it stands; always raises."""
        offset = self._base + start
        text = self._decode(buf, start, end)
        if kind == "pi":
            target = text[2:-1]
            if xc.NAME.fullmatch(target) is None:
                raise _Fail(_NWF, "'<?' not followed by a name", offset)
            if target == "xml":
                raise _Fail(_NWF, "an XML declaration not at the start of the stream", offset)
            raise _Fail("restricted-xml", "processing instruction", offset)
        if kind == "comment":
            raise _Fail("restricted-xml", "comment", offset)
        if kind == "doctype":
            raise _Fail("restricted-xml", "document type declaration", offset)
        if kind == "cdata":
            raise _Fail(_NWF, "CDATA section outside the root element", offset)
        if kind == "end":
            try:
                _judge_end_tag(text)
            except _Fail as fail:
                fail.offset = offset
                raise
            raise _Fail(_NWF, "end tag outside the root element", offset)
        raise _Fail(_NWF, "'<!' that begins no comment, CDATA section or DOCTYPE", offset)

    def _judge_decl(self, text: str) -> None:
        match = _XMLDECL_VERSION.match(text)
        if match is None:
            raise _Fail(_NWF, "bad XML declaration", 0)
        end = text.find(match.group(1), match.end())
        if end < 0:
            raise _Fail(_NWF, "bad XML declaration", 0)
        if text[match.end() : end] != "1.0":
            raise _Fail(_NWF, "XML version other than 1.0", 0)
        j = end + 1
        match = _XMLDECL_ENCODING.match(text, j)
        if match is not None:
            end = text.find(match.group(1), match.end())
            if end < 0 or _ENCNAME.fullmatch(text, match.end(), end) is None:
                raise _Fail(_NWF, "bad encoding name in the XML declaration", 0)
            if text[match.end() : end].lower() != "utf-8":
                raise _Fail("unsupported-encoding", "encoding other than UTF-8", 0)
            j = end + 1
        match = _XMLDECL_STANDALONE.match(text, j)
        if match is not None:
            end = text.find(match.group(1), match.end())
            if end < 0 or text[match.end() : end] not in ("yes", "no"):
                raise _Fail(_NWF, "bad standalone in the XML declaration", 0)
            j = end + 1
        if _XMLDECL_END.fullmatch(text, j) is None:
            raise _Fail(_NWF, "bad XML declaration", 0)

    def _resolve(self, prefix: str, own: dict[str | None, str] | None) -> str:
        uri = _resolve_prefix(prefix, own, self._scopes, self._header_in_scope())
        if uri is None:
            raise _Fail(_NWF, f"undeclared prefix {prefix!r}")
        return uri

    def _default_ns(self, own: dict[str | None, str] | None) -> str:
        return _resolve_prefix(None, own, self._scopes, self._header_in_scope()) or ""

    def _header_in_scope(self) -> dict[str | None, str]:
        # The root's own tag is judged before its declarations are the header's.
        return self._header_scope if self._state != _PROLOG else {}

    def _namespaces(
        self, name: str, attrs: list[tuple[str, str]]
    ) -> tuple[dict[str | None, str] | None, str, str]:
        """Check a start tag's namespaces; its declarations, namespace and local name."""
        own = _declarations(attrs) if attrs else None
        prefix, colon, local = name.rpartition(":")
        if colon:
            if prefix == "xmlns":
                raise _Fail(_NWF, "an element with the prefix 'xmlns'")
            ns = self._resolve(prefix, own)
        else:
            ns = self._default_ns(own)
        keys = None
        for attr, _ in attrs:
            attr_prefix, colon, attr_local = attr.rpartition(":")
            if colon and attr_prefix != "xmlns":
                uri = self._resolve(attr_prefix, own)
                if keys is None:
                    keys = {(None, a) for a, _ in attrs if ":" not in a and a != "xmlns"}
                key = (uri, attr_local)
                if key in keys:
                    raise _Fail(_NWF, "duplicate attribute after namespace resolution")
                keys.add(key)
        return own, ns, local

    # -- the exact path ---------------------------------------------------------------------

    def _parse(self, buf: bytearray, events: list[ParserEvent]) -> None:
        n = len(buf)
        while not self._paused:
            state = self._state
            if state == _ELEMENT:
                if not self._element(buf, n, events):
                    return
            elif state == _ROOT:
                if (
                    self._fast
                    and self._pos >= self._exact_until
                    and not self._fast_path(buf, n, events)
                ):
                    return
                if not self._root(buf, n, events):
                    return
            elif state == _PROLOG:
                if not self._prolog(buf, n, events):
                    return
            else:
                self._closed(buf, n)
                return

    def _prolog(self, buf: bytearray, n: int, events: list[ParserEvent]) -> bool:
        i = self._pos
        base = self._base
        max_header = self._limits.max_header_bytes
        over = max_header - base  # the first index beyond the header limit
        while i < n:
            if i >= over:
                raise _Fail(_POLICY, "stream header longer than max_header_bytes", max_header)
            byte = buf[i]
            if byte in _WS:
                i = _WS_RUN.match(buf, i).end()
                if i > over:
                    # Whitespace counts too: a byte at offset max_header_bytes is held.
                    raise _Fail(_POLICY, "stream header longer than max_header_bytes", max_header)
                self._pos = i
                continue
            self._prolog_content = True
            if base + i == 0 and (byte == 0 or (byte == 0x3C and n > 1 and buf[1] == 0)):
                # '\0<' or '<\0': the stream opens in UTF-16 without a byte-order mark.
                raise _Fail("unsupported-encoding", "UTF-16, not UTF-8", 0)
            if byte != 0x3C:
                if _cannot_begin_utf8(byte):
                    raise _Fail("unsupported-encoding", "a byte that is not UTF-8", base + i)
                raise _Fail(_NWF, "content before the stream header", base + i)
            kind, end = self._extent(buf, i, n)
            if end < 0:
                if n > over:
                    raise _Fail(_POLICY, "stream header longer than max_header_bytes", max_header)
                return False
            if end > over:
                raise _Fail(_POLICY, "stream header longer than max_header_bytes", max_header)
            if kind == "decl":
                self._judge_decl(self._decode(buf, i, end))
            elif kind == "start":
                self._open_stream(buf, i, end, events)
                self._pos = end
                return True
            else:
                self._judge_other(kind, buf, i, end)
            i = end
            self._pos = i
        return False

    def _open_stream(self, buf: bytearray, start: int, end: int, events: list[ParserEvent]) -> None:
        offset = self._base + start
        text = self._decode(buf, start, end)
        try:
            name, attrs, empty = _judge_start_tag(text, self._limits)
            own, ns, local = self._namespaces(name, attrs)
        except _Fail as fail:
            fail.offset = offset
            raise
        if local != "stream" or ns != STREAMS_NS:
            raise _Fail("invalid-namespace", f"the root is {{{ns}}}{local}, not a stream", offset)
        namespaces = tuple(own.items()) if own else ()
        attributes = []
        version = None
        for attr, raw_value in attrs:
            if attr == "xmlns" or attr.startswith("xmlns:"):
                continue
            prefix, colon, attr_local = attr.rpartition(":")
            if colon:
                uri = xc.XML_NS if prefix == "xml" else own[prefix]  # type: ignore[index]
                key = f"{{{uri}}}{attr_local}"
            else:
                key = attr
            attributes.append((key, attribute_value(raw_value)))
        found = dict(attributes)
        if "version" in found:
            match = _VERSION.fullmatch(found["version"])
            if match is None or any(len(part.lstrip("0")) > 9 for part in match.groups()):
                raise _Fail(
                    "unsupported-version", f"bad stream version {found['version']!r}", offset
                )
            version = (int(match.group(1)), int(match.group(2)))
        prefix = name.rpartition(":")[0] or None
        header = StreamHeader(
            to=found.get("to"),
            from_=found.get("from"),
            id=found.get("id"),
            version=version,
            lang=found.get(f"{{{xc.XML_NS}}}lang"),
            content_namespace=own.get(None) if own else None,
            stream_prefix=prefix,
            namespaces=namespaces,
            attributes=tuple(attributes),
            raw=bytes(buf[start:end]),
        )
        self._header = header
        self._header_scope = dict(own) if own else {}
        self._root_name = name
        events.append(StreamOpened(header=header))
        if empty:
            events.append(StreamClosed())
            self._state = _CLOSED
        else:
            self._state = _ROOT

    def _root(self, buf: bytearray, n: int, events: list[ParserEvent]) -> bool:
        i = self._pos
        max_stanza = self._limits.max_stanza_bytes
        while i < n:
            byte = buf[i]
            if byte in _WS:
                j = _WS_RUN.match(buf, i).end()
                events.append(WhitespaceReceived(raw=bytes(buf[i:j])))
                i = self._pos = j
                continue
            if byte == 0x3C:
                if i + 1 >= n:
                    break
                if buf[i + 1] not in b"/!?":
                    self._state = _ELEMENT
                    self._pos = self._tok = i
                    self._stack.clear()
                    self._scopes.clear()
                    return True
                kind, end = self._extent(buf, i, n)
                if end < 0:
                    if n - i > max_stanza:
                        raise _Fail(
                            _POLICY,
                            "token longer than max_stanza_bytes",
                            self._base + i + max_stanza,
                        )
                    break
                if end - i > max_stanza:
                    raise _Fail(
                        _POLICY, "token longer than max_stanza_bytes", self._base + i + max_stanza
                    )
                if kind == "end":
                    text = self._decode(buf, i, end)
                    try:
                        name = _judge_end_tag(text)
                    except _Fail as fail:
                        fail.offset = self._base + i
                        raise
                    if name != self._root_name:
                        raise _Fail(_NWF, "end tag does not close the root", self._base + i)
                    events.append(StreamClosed())
                    self._state = _CLOSED
                    self._pos = end
                    return True
                if kind == "cdata":
                    self._judge_cdata(buf, i, end)
                    events.append(TextReceived(raw=bytes(buf[i:end])))
                else:
                    self._judge_other(kind, buf, i, end)
                i = self._pos = end
                continue
            k = buf.find(b"<", max(i, self._scan))
            if k < 0:
                if n - i > max_stanza:
                    raise _Fail(
                        _POLICY, "text longer than max_stanza_bytes", self._base + i + max_stanza
                    )
                self._scan = n
                break
            if k - i > max_stanza:
                raise _Fail(
                    _POLICY, "text longer than max_stanza_bytes", self._base + i + max_stanza
                )
            self._scan = 0
            self._judge_text(buf, i, k)
            events.append(TextReceived(raw=bytes(buf[i:k])))
            i = self._pos = k
        self._pos = i
        return False

    def _element(self, buf: bytearray, n: int, events: list[ParserEvent]) -> bool:
        start = self._pos
        limits = self._limits
        limit = start + limits.max_stanza_bytes
        stack = self._stack
        tag_at = self._tag_pattern.match if self._fast else None
        i = self._tok
        while i < n:
            if buf[i] != 0x3C:
                k = buf.find(b"<", max(i, self._scan))
                if k < 0:
                    self._scan = n
                    break
                if k > limit:
                    break
                self._scan = 0
                self._judge_text(buf, i, k)
                i = k
                continue
            # Common tags are judged by one pattern; only a token never found incomplete
            # is tried, so that a tag arriving byte by byte is not matched over and over.
            if tag_at is not None and self._scan == 0 and i + 1 < n:
                end = self._fast_tag(buf, i, n, tag_at)
                if end > limit:
                    break
                if end > 0:
                    i = end
                    if not stack:
                        self._emit(buf, start, end, events)
                        return True
                    continue
            kind, end = self._extent(buf, i, n)
            if end < 0:
                break
            if end > limit:
                break
            offset = self._base + i
            if kind == "start":
                text = self._decode(buf, i, end)
                try:
                    name, attrs, empty = _judge_start_tag(text, limits)
                    if len(stack) >= limits.max_depth:
                        raise _Fail(_POLICY, "elements nested deeper than max_depth")
                    own, ns, local = self._namespaces(name, attrs)
                except _Fail as fail:
                    fail.offset = offset
                    raise
                if not stack:
                    self._top_ns = ns
                    self._top_name = local
                if not empty:
                    stack.append(name)
                    self._scopes.append(own)
            elif kind == "end":
                text = self._decode(buf, i, end)
                try:
                    name = _judge_end_tag(text)
                except _Fail as fail:
                    fail.offset = offset
                    raise
                if name != stack[-1]:
                    raise _Fail(_NWF, "end tag does not match", offset)
                stack.pop()
                self._scopes.pop()
            elif kind == "cdata":
                self._judge_cdata(buf, i, end)
            else:
                self._judge_other(kind, buf, i, end)
            i = end
            if not stack:
                self._emit(buf, start, end, events)
                return True
        self._tok = i
        if n > limit:
            raise _Fail(_POLICY, "element longer than max_stanza_bytes", self._base + limit)
        return False

    def _fast_tag(
        self,
        buf: bytearray,
        i: int,
        n: int,
        tag_at: Callable[[bytearray, int], re.Match[bytes] | None],
    ) -> int:
        """Take the tag at ``buf[i]`` when it is a common one and fine: its end, else 0."""
        stack = self._stack
        if buf[i + 1] == 0x2F:
            match = _FAST_END_TAG.match(buf, i)
            if match is None or match.group(1).decode("ascii") != stack[-1]:
                return 0
            end = match.end()
            if end > self._pos + self._limits.max_stanza_bytes:
                return end
            stack.pop()
            self._scopes.pop()
            return end
        match = tag_at(buf, i)
        if match is None:
            return 0
        raw = match.group()
        if not raw.isascii():
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return 0
            if b"\xef\xbf\xbe" in raw or b"\xef\xbf\xbf" in raw:
                return 0
        if raw.translate(None, _FAST_LEGAL_BYTES) or len(stack) >= self._limits.max_depth:
            return 0
        end = match.end()
        if end > self._pos + self._limits.max_stanza_bytes:
            return end
        name_bytes, attrs = match.group(1, 2)
        own = None
        if b"xmlns" in attrs:
            for attr, single, double in _FAST_ATTRIBUTE.findall(attrs):
                if attr == b"xmlns":
                    # findall gives b"" for the quote style not used.
                    uri = _declared_uri(None, single, double)
                    if uri is None:
                        return 0
                    own = {None: uri}
        name = name_bytes.decode("ascii")
        if not stack:
            self._top_ns = self._default_ns(own)
            self._top_name = name
        if raw[-2] != 0x2F:  # not an empty-element tag
            stack.append(name)
            self._scopes.append(own)
        return end

    def _emit(self, buf: bytearray, start: int, end: int, events: list[ParserEvent]) -> None:
        ns = self._top_ns
        name = self._top_name
        header = self._header
        assert header is not None
        events.append(
            ElementReceived(
                namespace=ns, name=name, raw=bytes(buf[start:end]), header=header, _reader=_tree_py
            )
        )
        self._state = _ROOT
        self._pos = self._tok = end
        if self._pause_after and (ns, name) in self._pause_after:
            self._pause(buf, end)

    def _pause(self, buf: bytearray, end: int) -> None:
        self._paused = True
        self._unparsed = bytes(buf[end:])
        self._received -= len(self._unparsed)
        del buf[end:]

    def _closed(self, buf: bytearray, n: int) -> None:
        i = _WS_RUN.match(buf, self._pos).end()
        if i < n:
            byte = buf[i]
            if _cannot_begin_utf8(byte):
                raise _Fail("unsupported-encoding", "a byte that is not UTF-8", self._base + i)
            raise _Fail(_NWF, "content after the end of the stream", self._base + i)
        self._pos = n

    # -- the fast path ----------------------------------------------------------------------

    def _fast_path(self, buf: bytearray, n: int, events: list[ParserEvent]) -> bool:
        """Take every complete, common top-level element at ``_pos``.

        Nothing is reported unless the whole run it matched passes the checks the
        pattern leaves out; otherwise the exact path redoes that run from its start.
        Returns False to wait for more data: the element at ``_pos`` is certainly
        incomplete and small, and the fast pattern will try it again whole.
        """
        start = i = self._pos
        if self._wait == 1 and self._chunk < _FAST_OPENED_CHUNK:
            # The start tag was cut: while it still is, there is nothing to match (its
            # scan resumes where it stopped). Once complete, the element is matched whole.
            # (After a sizeable chunk it most likely is: the pattern is tried at once.)
            self._wait = 0
            if n - i <= self._limits.max_stanza_bytes and self._extent(buf, i, n)[1] < 0:
                self._wait = 1
                return False
        self._wait = 0
        # Complete elements end by the end of the last complete token: searching no
        # further, the pattern matches an element cut there in the same pass as it
        # finds that it is cut.
        done = n
        last = buf.rfind(b"<", i, n)
        if last >= 0:
            # Most often the last tag is cut before any '>': no need to follow its quotes.
            done = _tag_end(buf, last, n) if buf.find(b">", last, n) >= 0 else -1
            if done < 0:
                done = last
            if self._wide_pattern is not None:
                # A parser that has met CDATA may be cut inside a section, where '<' and
                # '>' are text: complete tokens end before the section.
                section = buf.rfind(b"<![CDATA[", i, n)
                if section >= 0 and section < done and buf.find(b"]]>", section, n) < 0:
                    done = section
        # A scanner matches each element where the previous one ended, without the
        # argument handling of a match() call per element.
        fast = self._element_pattern
        scanner = fast.scanner(buf, i, done)
        element_at = scanner.match
        fast_cut = cut_group = self._cut_group
        # Where the fast pattern fails the wide one is tried, and kept for what follows
        # (a stream that uses CDATA or prefixes once mostly does again) until a few
        # elements in a row have needed nothing it adds.
        wide = self._wide_pattern
        in_wide = False
        plain_run = 0
        plain_group = 0
        # Elements in a row that need nothing the wide pattern adds, before the fast one is
        # tried again; doubled each time it fails at once (as it does for deep elements,
        # which look plain).
        plain_needed = self._plain_needed
        back_at = -1
        cut = False
        max_stanza = self._limits.max_stanza_bytes
        # Only a buffer longer than the limit can hold an element longer than it.
        sized = n - i > max_stanza
        header = self._header
        default_ns = self._header_scope.get(None, "")
        pause_after = self._pause_after
        names = _NAMES
        found: list[ParserEvent] = []
        append = found.append
        shells = _SHELLS
        element_shell, whitespace_shell = _ElementShell, _WhitespaceShell
        element_received, whitespace_received = ElementReceived, WhitespaceReceived
        new = object.__new__
        set_ns, set_name, set_raw, set_header, set_attrs, set_reader = _ER_SET
        reader = _tree_py
        xmlns_at = _FAST_XMLNS.match
        namespaces = _NAMESPACES
        paused = False
        # Where the run stands is read from the last element taken, once, at the end.
        last = None
        while True:
            match = element_at()
            if match is None:
                if last is not None:
                    i = last.end()
                    last = None
                if i < n and buf[i] in _WS:
                    end = _WS_RUN.match(buf, i).end()
                    append(WhitespaceReceived(raw=bytes(buf[i:end])))
                    i = end
                    scanner = scanner.pattern.scanner(buf, i, done)
                    element_at = scanner.match
                    continue
                if i >= done or buf[i] != 0x3C:
                    break
                if not in_wide:
                    if i == back_at:
                        plain_needed = self._plain_needed = min(plain_needed * 2, 64)
                    if wide is None:
                        wide = _wide_pattern(self._limits)
                        if wide is not None:
                            self._wide_pattern = wide
                    if wide is not None:
                        scanner = wide.scanner(buf, i, done)
                        element_at = scanner.match
                        cut_group = wide.groupindex["cut"]
                        plain_group = wide.groupindex["plain"]
                        in_wide = True
                        plain_run = 0
                        continue
                end, ns, name = self._walk(buf, i, done)
                if end < 0:
                    cut = True
                if end <= 0 or (sized and end - i > max_stanza):
                    break
                append(
                    ElementReceived(
                        namespace=ns,
                        name=name,
                        raw=bytes(buf[i:end]),
                        header=header,
                        _reader=reader,
                    )
                )
                i = end
                if pause_after and (ns, name) in pause_after:
                    paused = True
                    break
                scanner = fast.scanner(buf, i, done)
                element_at = scanner.match
                cut_group = fast_cut
                in_wide = False
                continue
            space, raw, name_bytes, attrs, cut_mark = match.group(1, 2, 3, 4, cut_group)
            if space:
                if shells:
                    event = whitespace_shell()
                    event.raw = space
                    event.__class__ = whitespace_received
                    append(event)
                else:
                    append(WhitespaceReceived(raw=space))
            if cut_mark is not None or (sized and len(raw) > max_stanza) or 0x3C in attrs:
                cut = cut_mark is not None
                i = match.start(2)
                last = None
                break
            named = None
            if in_wide:
                # Plain below the outermost tag: no name but ASCII ones without a prefix,
                # nor any prefix declared.
                below_plain = match.group(plain_group) is not None and b"xmlns:" not in raw
                if below_plain and b":" not in name_bytes and name_bytes.isascii():
                    # (a CDATA section is no reason to name it otherwise, but one to stay)
                    plain_run = 0 if b"<![CDATA[" in raw else plain_run + 1
                    if plain_run >= plain_needed:
                        back_at = match.end()
                        scanner = fast.scanner(buf, back_at, done)
                        element_at = scanner.match
                        cut_group = fast_cut
                        in_wide = False
                else:
                    plain_run = 0
                    named = self._wide_names(raw, name_bytes, attrs, below_plain)
                    if named is None:
                        # Something the walk must judge: it begins where this element does.
                        i = match.start(2)
                        last = None
                        element_at = _no_match
                        continue
            if named is None:
                try:
                    name = names[name_bytes]
                except KeyError:
                    name = name_bytes.decode("ascii")
                    # A peer chooses the names: keep the cache bounded.
                    if len(names) < 1024:
                        names[name_bytes] = name
                ns = default_ns
                if b"xmlns" in attrs:
                    declared = xmlns_at(attrs)
                    if declared is not None:
                        single, double = declared.group(1, 2)
                        uri = single if double is None else double
                        ns = namespaces.get(uri)
                        if ns is None:
                            ns = _unjudged_value(uri)
                            if ns is None:
                                # the walk refuses it, and the exact path words the error
                                i = match.start(2)
                                last = None
                                element_at = _no_match
                                continue
                            if len(namespaces) < 256:
                                namespaces[uri] = ns
            else:
                ns, name = named
            # Built without the generated __init__, which costs as much again. The
            # attributes are read from this match's bytes when first asked for.
            if shells:
                event = element_shell()
                event.namespace = ns
                event.name = name
                event.raw = raw
                event.header = header
                event._attrs = attrs
                event._reader = reader
                event.__class__ = element_received
            else:
                event = new(element_received)
                set_ns(event, ns)
                set_name(event, name)
                set_raw(event, raw)
                set_header(event, header)
                set_attrs(event, attrs)
                set_reader(event, reader)
            append(event)
            last = match
            if pause_after and (ns, name) in pause_after:
                paused = True
                break
        if last is not None:
            i = last.end()
        del last, match
        # The scanner holds the buffer: let go of it before anything may resize it.
        del scanner, element_at
        scan, quote = self._scan, self._quote
        if i != start:
            # Whatever was scanned of the element waited for belongs to the matched run.
            self._scan = self._quote = 0
        if paused:
            checked = -1
        elif cut:
            checked = self._cut_element(buf, i, n, done)
        else:
            checked = self._start_tag_cut(buf, i, n)
        if not self._settle(buf, start, i, checked):
            self._scan, self._quote = scan, quote
            return True
        if i != start:
            events += found
            self._pos = self._tok = i
            if paused:
                self._pause(buf, i)
                return False
        return checked < 0

    def _wide_names(
        self, raw: bytes, name_bytes: bytes, attrs: bytes, below_plain: bool
    ) -> tuple[str, str] | None:
        """The namespace and name of an element the wide pattern matched, or None.

        None when its names are not all fine QNames or its prefixes not all bound where
        they are used (followed tag by tag when a declaration below the outermost tag
        scopes one to a subtree): the walk then takes it.
        """
        own: dict[str | None, str] | None = None
        if b"xmlns" in attrs:
            own = _wide_declarations(attrs)
            if own is _REFUSED:
                return None
        parts = _walk_qname(name_bytes)
        if parts is None:
            return None
        prefix, local = parts
        header_scope = self._header_scope
        below = 1 + len(name_bytes) + len(attrs)
        if below_plain:
            # Nothing below the outermost tag to judge (``below_plain``: the pattern
            # found every name there plain, and no prefix is declared in the element).
            names: list[bytes] = []
        elif raw.find(b"xmlns:", below) >= 0:
            # A prefix declared below the outermost tag is in scope in a subtree only.
            if not self._wide_scopes(raw, header_scope):
                return None
            names = []
        else:
            names = _WIDE_START_TAG.findall(raw, below)
        # Each name with a prefix or other than ASCII is judged, and each prefix must be
        # bound where the whole element is.
        ascii_raw = raw.isascii()
        for name in names:
            if b":" not in name and (ascii_raw or name.isascii()):
                continue
            name_parts = _walk_qname(name)
            if name_parts is None:
                return None
            name_prefix = name_parts[0]
            if (
                name_prefix is not None
                and (own is None or name_prefix not in own)
                and (
                    name_prefix == "xml"
                    or name_prefix == "xmlns"
                    or name_prefix not in header_scope
                )
            ):
                return None
        if own is not None and prefix in own:
            return own[prefix], local
        if prefix is None:
            return header_scope.get(None, ""), local
        uri = header_scope.get(prefix)
        if uri is None or prefix == "xml" or prefix == "xmlns":
            return None
        return uri, local

    @staticmethod
    def _wide_scopes(raw: bytes, header_scope: dict[str | None, str]) -> bool:
        """Whether every prefix in an element the wide pattern matched is bound where it
        is used, following declarations tag by tag."""
        if raw.find(b"<![CDATA[") >= 0:
            # (what a section holds could pass for tags)
            return False
        scopes: list[dict[str | None, str] | None] = []
        for closing, name, attrs, empty in _WIDE_TAG.findall(raw):
            if closing:
                scopes.pop()
                continue
            own = _wide_declarations(attrs) if b"xmlns" in attrs else None
            if own is _REFUSED:
                return False
            if b":" in name or not name.isascii():
                parts = _walk_qname(name)
                if parts is None:
                    return False
                prefix = parts[0]
                if prefix is not None:
                    if prefix == "xml" or prefix == "xmlns":
                        return False
                    if _resolve_prefix(prefix, own, scopes, header_scope) is None:
                        return False
            if not empty:
                scopes.append(own)
        return True

    def _walk(self, buf: bytearray, i: int, done: int) -> tuple[int, str, str]:
        """The top-level element at ``buf[i]``, token by token: ``(end, namespace, name)``.

        For what the fast pattern leaves out (prefixes, CDATA sections, other names,
        deeper nesting, more attributes), at a few times its cost rather than the
        exact path's tens. It judges what a token pattern cannot: names, nesting,
        duplicates, limits and namespaces; the caller's run checks do the rest. End 0:
        something it does not take, which the exact path then judges; -1: the
        element is cut at ``done``, all of it so far fine.
        """
        limits = self._limits
        max_depth = limits.max_depth
        max_name = limits.max_name_bytes
        max_value = limits.max_attribute_value_bytes
        max_attributes = limits.max_attributes
        header_scope = self._header_scope
        known = _walk_known(limits)
        token_at = _WALK_TOKEN.scanner(buf, i, done).match
        qname = _walk_qname
        names: list[bytes] = []
        scopes: list[dict[str | None, str] | None] = []
        top_ns = top_name = ""
        pos = i
        while True:
            token = token_at()
            if token is None:
                return (-1 if pos == done and names else 0), "", ""
            pos = token.end()
            kind = token.lastindex
            if kind == 4:
                raw_name, attrs, slash = token.group(2, 3, 4)
                parts = qname(raw_name)
                if parts is None or len(raw_name) > max_name or len(names) >= max_depth:
                    return 0, "", ""
                own: dict[str | None, str] | None = None
                if attrs:
                    # Most tags repeat from stanza to stanza; those whose attributes have no
                    # prefix are judged alike wherever they stand.
                    own = known.get(attrs, _UNKNOWN)
                    if own is _UNKNOWN:
                        own = _walk_attributes(
                            attrs, scopes, header_scope, known, max_name, max_value, max_attributes
                        )
                        if own is _REFUSED:
                            return 0, "", ""
                prefix, local = parts
                if prefix is not None or not names:
                    ns = _resolve_prefix(prefix, own, scopes, header_scope)
                    if ns is None:
                        return 0, "", ""
                    if not names:
                        top_ns, top_name = ns, local
                if slash:
                    if not names:
                        return pos, top_ns, top_name
                else:
                    names.append(raw_name)
                    scopes.append(own)
            elif kind == 5:
                if not names or token.group(5) != names[-1]:
                    return 0, "", ""
                names.pop()
                scopes.pop()
                if not names:
                    return pos, top_ns, top_name
            elif not names:
                # Text or CDATA at the top level: not the walk's to take.
                return 0, "", ""

    def _settle(self, buf: bytearray, start: int, i: int, checked: int) -> bool:
        """Whether ``buf[start:i]``, the run matched, passes the checks the patterns leave out.

        ``checked`` is where the complete tokens of the element waited for at ``i``
        end, or -1 when there is none: they are checked with the run, in one pass, and
        bytes checked by an earlier feed are not checked again. If anything fails,
        nothing is reported and the exact path redoes it all from ``start``.
        """
        end = checked if checked > i else i
        begin = self._checked if self._checked > start else start
        # bytes, not a bytearray: its translate() is the faster one.
        if end > begin and not _fast_span_ok(bytes(memoryview(buf)[begin:end])):
            self._wait = 0
            # The exact path takes the whole run: were the fast path tried again after
            # each element, it would match the rest of the run again each time, and a
            # run of n elements would cost n**2 / 2 matches.
            self._exact_until = end
            return False
        self._checked = end
        return True

    def _cut_element(self, buf: bytearray, i: int, n: int, done: int) -> int:
        """Whether to wait for the top-level element the pattern matched cut at ``done``:
        -1 if not, else ``done``, the end of its complete tokens, which the caller checks.

        Waiting, the pattern tries it again whole when more arrives: worth it for a
        short element cut by a sizeable chunk only, since each try reads it again.
        A token begun by '<?' or '<!' may be complete before its '>' (at a PI's target,
        at '<!--'): the exact path judges it now.
        """
        self._wait = 0
        if (
            n - i > self._limits.max_stanza_bytes
            or n - i > _FAST_OPENED_BYTES
            or self._chunk < _FAST_OPENED_CHUNK
            or (
                done < n
                and buf[done] == 0x3C
                and done + 1 < n
                and buf[done + 1] in b"!?"
                # A CDATA section is judged once complete, by the exact path too.
                and buf[done : done + 9] != b"<![CDATA["
            )
        ):
            return -1
        self._wait = 2
        return done

    def _start_tag_cut(self, buf: bytearray, i: int, n: int) -> int:
        """Whether to wait for the top-level element at ``buf[i:n]``, whose start tag
        may be cut (the element pattern has not matched it): ``i`` if so, else -1.

        The scan for the tag's end resumes where it stopped, so a tag arriving byte
        by byte costs linear time. An element cut after its start tag waits only if
        the element pattern matches it cut (:meth:`_cut_element`); anything else
        goes the exact way, which judges each token once, as soon as it is complete.
        """
        self._wait = 0
        if n - i > self._limits.max_stanza_bytes or n - i < 2:
            return -1
        if buf[i] != 0x3C or buf[i + 1] in b"/!?" or buf.rfind(b"<", i, n) != i:
            return -1
        if _PI_RUN.match(buf, i + 1).end() >= n:
            self._wait = 1
            return i
        if self._scan or self._quote:
            if self._extent(buf, i, n)[1] >= 0:
                return -1
            self._wait = 1
            return i
        # A fresh scan: one match finds what _extent() would, without a call per quote.
        rest = _START_TAG_REST.match(buf, i + 1)
        if rest.group(1) is not None:
            return -1
        quote = rest.group(2)
        self._scan = n
        self._quote = quote[0] if quote is not None else 0
        self._wait = 1
        return i


# Compiling the fast patterns takes tens of milliseconds: do it once, at import, for the
# default limits, so that neither the first parser of a process nor a forked child pays.
_fast_pattern(DEFAULT_LIMITS)
