"""Hypothesis strategies: XMPP-ish streams with the events they must give, and mutations of them.

A generated stream is well-formed restricted XML by construction; alongside its
bytes comes the list of events (whitespace merged) a correct parser reports.
Mutations damage such a stream with bytes chosen to hit the tokenizer's edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

STREAMS = "http://etherx.jabber.org/streams"

#: (root prefix, root declarations, default namespace, prefixes in scope)
HEADER_STYLES = [
    ("stream", [("xmlns", "jabber:client"), ("xmlns:stream", STREAMS)], "jabber:client"),
    ("stream", [("xmlns:stream", STREAMS)], ""),
    (None, [("xmlns", STREAMS)], STREAMS),
    (
        "foo",
        [
            ("xmlns:foo", STREAMS),
            ("xmlns", "jabber:server"),
            ("xmlns:db", "jabber:server:dialback"),
        ],
        "jabber:server",
    ),
]
HEADER_ATTRIBUTES = [
    ("to", "example.com"),
    ("from", "juliet@example.com/balcony"),
    ("id", "a1-b2"),
    ("version", "1.0"),
    ("xml:lang", "en"),
]
DECLARATIONS = [
    "<?xml version='1.0'?>",
    '<?xml version="1.0" encoding="UTF-8"?>',
    "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
]
ELEMENT_NAMES = ["message", "presence", "iq", "body", "x", "query", "item", "b-c", "d.e", "_f"]
NON_ASCII_NAMES = ["\u00e9l\u00e9ment", "\u4e2d"]
ATTRIBUTE_NAMES = ["to", "from", "id", "type", "a", "b-c", "xml:lang", "\u00e9"]
WHITESPACE = [" ", "\n", "\t", "\r\n", "  "]
TEXT_PIECES = [
    "hi",
    " ",
    "&amp;",
    "&lt;",
    "&gt;",
    "&quot;",
    "&apos;",
    "&#65;",
    "&#x4e2d;",
    "\u00e9",
    "\u4e2d",
    "\r\n",
    "\t",
    ">",
    "]]x",
    "x]>",
    "<![CDATA[<&>]]>",
    "<![CDATA[]]>",
]
#: Characters expat's (XML 1.0 4th edition) name tables treat differently from the 5th
#: edition's, kept out of streams compared with expat.
ASTRAL_TEXT = ["\U0001f600", "&#x1F600;", "\u263a", "\u20ac"]
VALUE_PIECES = ["v", " ", "&amp;", "&lt;", "&#x41;", "\u00e9", "\u4e2d", ">", "\t", "\n", "]]>"]
DEPTH_1_TEXT = ["hello", "x &amp; y", "\u4e2d", "&#66;"]


@dataclass(frozen=True)
class GeneratedStream:
    data: bytes
    #: ("opened",), ("element", namespace, name, raw), ("ws", raw), ("text", raw), ("closed",)
    expected: tuple[tuple, ...]
    #: byte ranges of the top-level elements, for pause tests
    elements: tuple[tuple[str, str, int, int], ...]

    def __repr__(self) -> str:
        return f"GeneratedStream(data={self.data!r})"


def _text(draw, pieces: list[str], max_size: int = 5) -> str:
    return "".join(draw(st.lists(st.sampled_from(pieces), max_size=max_size)))


def _value(draw, quote: str) -> str:
    other = '"' if quote == "'" else "'"
    return _text(draw, [*VALUE_PIECES, other], 4)


@st.composite
def _element(draw, depth: int, default: str, scope: dict[str, str], astral: bool) -> tuple:
    """(raw text, namespace, local name) of one element with its subtree."""
    names = ELEMENT_NAMES + NON_ASCII_NAMES
    local = draw(st.sampled_from(names))
    declarations: list[tuple[str, str]] = []
    scope = dict(scope)
    if draw(st.integers(0, 4)) == 0:
        default = draw(st.sampled_from(["urn:x", "jabber:x:data", "", "urn:a&amp;b"]))
        declarations.append(("xmlns", default))
        default = default.replace("&amp;", "&")
    if draw(st.integers(0, 3)) == 0:
        declarations.append(("xmlns:p", "urn:p"))
        scope["p"] = "urn:p"
    prefixes = [None, *sorted(scope)]
    prefix = draw(st.sampled_from(prefixes)) if draw(st.booleans()) else None
    qname = f"{prefix}:{local}" if prefix else local
    namespace = scope[prefix] if prefix else default

    attr_names = draw(st.lists(st.sampled_from(ATTRIBUTE_NAMES), unique=True, max_size=3))
    if "p" in scope and draw(st.booleans()):
        # p:id and id are different attributes; so are p:id and q:id for other URIs
        attr_names.append("p:id")
    attributes = [(n, None) for n in attr_names]
    attributes += [(n, v) for n, v in declarations]
    order = draw(st.permutations(attributes))
    parts = []
    for name, fixed in order:
        quote = draw(st.sampled_from(["'", '"']))
        value = fixed if fixed is not None else _value(draw, quote)
        space = draw(st.sampled_from(WHITESPACE))
        eq = draw(st.sampled_from(["=", " = ", "=\n"]))
        parts.append(f"{space}{name}{eq}{quote}{value}{quote}")
    start = "<" + qname + "".join(parts) + draw(st.sampled_from(["", " ", "\n"]))

    children = []
    if depth < 3:
        count = draw(st.integers(0, 3))
        for _ in range(count):
            if draw(st.booleans()):
                raw, _, _ = draw(_element(depth + 1, default, scope, astral))
                children.append(raw)
            else:
                children.append(_text(draw, TEXT_PIECES + (ASTRAL_TEXT if astral else [])))
    if not children and draw(st.booleans()):
        return start + "/>", namespace, local
    end = f"</{qname}{draw(st.sampled_from(['', ' ', chr(10)]))}>"
    return start + ">" + "".join(children) + end, namespace, local


@st.composite
def streams(draw, *, declaration: bool = True, astral: bool = True, depth1_cdata: bool = True):
    """A well-formed XMPP-ish stream and the events it must give."""
    prefix, root_declarations, default, *_ = draw(st.sampled_from(HEADER_STYLES))
    scope = {p[6:]: uri for p, uri in root_declarations if p.startswith("xmlns:")}
    prologue = ""
    if declaration and draw(st.booleans()):
        prologue += draw(st.sampled_from(DECLARATIONS))
    prologue += draw(st.sampled_from(["", "\n", " \r\n"]))
    extra = draw(st.lists(st.sampled_from(HEADER_ATTRIBUTES), unique=True))
    attributes = draw(st.permutations(root_declarations + extra))
    root = f"{prefix}:stream" if prefix else "stream"
    quote = draw(st.sampled_from(["'", '"']))
    head = "<" + root + "".join(f" {n}={quote}{v}{quote}" for n, v in attributes)
    data = (prologue + head).encode()
    expected: list[tuple] = [("opened",)]
    elements: list[tuple[str, str, int, int]] = []
    if draw(st.integers(0, 20)) == 0:
        data += b"/>"
        expected.append(("closed",))
        return GeneratedStream(data, tuple(expected), ())
    data += b">"

    pending: bytes | None = None  # depth-1 character data not yet ended by a `<`
    kinds = ["element", "element", "element", "whitespace", "text"]
    if depth1_cdata:
        kinds.append("cdata")
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=6)):
        if kind == "whitespace":
            raw = "".join(draw(st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=3)))
            raw = raw.encode()
            if pending is None:
                expected.append(("ws", raw))
            else:
                pending += raw
        elif kind == "text":
            raw = draw(st.sampled_from(DEPTH_1_TEXT)).encode()
            pending = raw if pending is None else pending + raw
        else:
            if pending is not None:
                expected.append(("text", pending))
                pending = None
            if kind == "cdata":
                raw = draw(st.sampled_from(["<![CDATA[ <x/> ]]>", "<![CDATA[]]>"])).encode()
                expected.append(("text", raw))
            else:
                text, namespace, local = draw(_element(1, default, scope, astral))
                raw = text.encode()
                elements.append((namespace, local, len(data), len(data) + len(raw)))
                expected.append(("element", namespace, local, raw))
        data += raw
    if draw(st.booleans()):
        if pending is not None:
            expected.append(("text", pending))
        data += f"</{root}>".encode() + draw(st.sampled_from([b"", b" ", b"\r\n"]))
        expected.append(("closed",))
    return GeneratedStream(data, tuple(_merge(expected)), tuple(elements))


def _merge(expected: list[tuple]) -> list[tuple]:
    merged: list[tuple] = []
    for item in expected:
        if item[0] == "ws" and merged and merged[-1][0] == "ws":
            merged[-1] = ("ws", merged[-1][1] + item[1])
        else:
            merged.append(item)
    return merged


#: Bytes that hit the tokenizer's edges: markup characters, references, broken UTF-8,
#: illegal characters, and the constructs restricted XML refuses.
DAMAGE = [
    b"<",
    b">",
    b"/",
    b"'",
    b'"',
    b"=",
    b"&",
    b";",
    b"]]>",
    b":",
    b" ",
    b"x",
    b"\x00",
    b"\x01",
    b"\r\n",
    b"\xff",
    b"\xc3",
    b"\x80",
    b"\xe4\xb8",
    b"\xef\xbf\xbe",
    b"\xed\xa0\x80",
    b"&amp;",
    b"&#65;",
    b"&#1;",
    b"&#x110000;",
    b"<a>",
    b"</a>",
    b"<a/>",
    b" xmlns:p='u'",
    b" xmlns:p=''",
    b"p:",
    b" a='1'",
    b"<![CDATA[",
    b"</stream:stream>",
]
RESTRICTED_DAMAGE = [
    b"<!--",
    b"-->",
    b"<?pi x?>",
    b"<!DOCTYPE x>",
    b"&foo;",
    b"<?xml version='1.0'?>",
]


@st.composite
def mutations(draw, data: bytes, damage: list[bytes]) -> bytes:
    """``data`` with one to three edits: insertions, deletions, replacements, duplications."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        at = draw(st.integers(0, len(buffer)))
        if kind == "insert":
            buffer[at:at] = draw(st.sampled_from(damage))
        elif kind == "delete":
            buffer[at : at + draw(st.integers(1, 8))] = b""
        elif kind == "replace":
            buffer[at : at + 1] = draw(st.sampled_from(damage))
        else:
            length = draw(st.integers(1, 16))
            buffer[at:at] = buffer[at : at + length]
    return bytes(buffer)


@st.composite
def split_points(draw, data: bytes) -> list[int]:
    """Where a transport might cut ``data``."""
    if not data:
        return []
    return draw(st.lists(st.integers(0, len(data)), max_size=12))
