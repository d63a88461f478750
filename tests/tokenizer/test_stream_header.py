"""The stream header (RFC 6120 §4.7-4.8) as StreamParser reports it, against both twins."""

from __future__ import annotations

import itertools

import pytest

from xmpp_samples import (
    PROSODY_HEADER,
    STREAMS_NS,
    XML_DECLARATION,
    XML_NS,
    chunkings,
    feed_chunks,
)
from xmppwire import RemoteProtocolError
from xmppwire.events import ElementReceived, StreamHeader, StreamOpened

LANG = f"{{{XML_NS}}}lang"


def header_of(StreamParser, data: bytes) -> StreamHeader:
    """The header ``data`` opens, the same whatever the chunking."""
    headers = []
    for name, chunks in chunkings(data).items():
        outcome = feed_chunks(StreamParser(), chunks)
        assert outcome.error is None, (name, outcome.error)
        opened = [e for e in outcome.events if type(e) is StreamOpened]
        assert len(opened) == 1, name
        headers.append(opened[0].header)
    assert all(h == headers[0] for h in headers)
    return headers[0]


def error_of(StreamParser, data: bytes) -> tuple[str, int | None]:
    for name, chunks in chunkings(data).items():
        outcome = feed_chunks(StreamParser(), chunks)
        assert outcome.exception is not None, name
        if name == "whole":
            whole = outcome.error
        assert outcome.error == whole, name
    return whole


def test_prosodys_header(StreamParser):
    header = header_of(StreamParser, PROSODY_HEADER)
    assert header == StreamHeader(
        to=None,
        from_="localhost",
        id="7fc041e6-7bc2-493a-81e2-fbc19d932b9e",
        version=(1, 0),
        lang="en",
        content_namespace="jabber:client",
        stream_prefix="stream",
        namespaces=(("stream", STREAMS_NS), (None, "jabber:client")),
        attributes=(
            (LANG, "en"),
            ("version", "1.0"),
            ("id", "7fc041e6-7bc2-493a-81e2-fbc19d932b9e"),
            ("from", "localhost"),
        ),
        raw=PROSODY_HEADER[len(XML_DECLARATION) :],
    )
    assert header.attrs["from"] == "localhost"
    assert header.nsmap == {"stream": STREAMS_NS, None: "jabber:client"}


def test_a_clients_header(StreamParser):
    raw = (
        b'<stream:stream from="juliet@im.example.com" to="im.example.com" version="1.0"'
        b' xml:lang="en" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">'
    )
    header = header_of(StreamParser, raw)
    assert (header.to, header.from_, header.id, header.version, header.lang) == (
        "im.example.com",
        "juliet@im.example.com",
        None,
        (1, 0),
        "en",
    )
    assert header.content_namespace == "jabber:client"
    assert header.raw == raw


def test_prosodys_minimal_error_header_then_its_error(StreamParser):
    # What Prosody sends before an error on a stream that was never opened:
    # id='' and no version or from.
    data = (
        b"<?xml version='1.0'?><stream:stream xml:lang='en' xmlns='jabber:client'"
        b" xmlns:stream='http://etherx.jabber.org/streams' id=''>"
        b"<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"</stream:error></stream:stream>"
    )
    events = StreamParser().feed(data)
    header = events[0].header
    assert (header.id, header.version, header.from_, header.to) == ("", None, None, None)
    assert [type(e).__name__ for e in events] == [
        "StreamOpened",
        "ElementReceived",
        "StreamClosed",
    ]
    assert (events[1].namespace, events[1].name) == (STREAMS_NS, "error")


# -- attribute order and quoting ------------------------------------------------------------

ATTRIBUTES = [
    (b"to", b"example.com"),
    (b"from", b"user@example.com"),
    (b"id", b"abc"),
    (b"version", b"1.0"),
    (b"xml:lang", b"de"),
    (b"xmlns", b"jabber:client"),
    (b"xmlns:stream", STREAMS_NS.encode()),
]


def build_header(order, quotes) -> bytes:
    parts = []
    for (name, value), quote in zip(order, quotes, strict=True):
        parts.append(b" " + name + b"=" + quote + value + quote)
    return b"<stream:stream" + b"".join(parts) + b">"


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(ATTRIBUTES))))[::97])
def test_any_attribute_order_and_either_quote(StreamParser, order):
    attrs = [ATTRIBUTES[i] for i in order]
    quotes = [b"'" if (i + order[0]) % 2 else b'"' for i in range(len(attrs))]
    raw = build_header(attrs, quotes)
    header = StreamParser().feed(raw)[0].header
    assert (header.to, header.from_, header.id, header.version, header.lang) == (
        "example.com",
        "user@example.com",
        "abc",
        (1, 0),
        "de",
    )
    assert header.content_namespace == "jabber:client"
    assert header.stream_prefix == "stream"
    expected_namespaces = tuple(
        (None if name == b"xmlns" else name[6:].decode(), value.decode())
        for name, value in attrs
        if name.startswith(b"xmlns")
    )
    assert header.namespaces == expected_namespaces
    expected_attributes = tuple(
        (LANG if name == b"xml:lang" else name.decode(), value.decode())
        for name, value in attrs
        if not name.startswith(b"xmlns")
    )
    assert header.attributes == expected_attributes
    assert header.raw == raw


def test_whitespace_inside_the_tag(StreamParser):
    raw = (
        b"<stream:stream\n\txmlns:stream = 'http://etherx.jabber.org/streams'\r\n"
        b"  to\t=\t\"example.com\"\n  version='1.0'\n>"
    )
    header = header_of(StreamParser, raw)
    assert (header.to, header.version, header.raw) == ("example.com", (1, 0), raw)


# -- version --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"1.0", (1, 0)),
        (b"1.1", (1, 1)),
        (b"0.9", (0, 9)),
        (b"2.0", (2, 0)),
        (b"01.002", (1, 2)),
        (b"000.000", (0, 0)),
        (b"1.10", (1, 10)),
        (b"999999999.999999999", (999999999, 999999999)),
        (b"0000000000999999999.0000000000000000000001", (999999999, 1)),
    ],
)
def test_version(StreamParser, value, expected):
    raw = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='%s'>" % value
    header = header_of(StreamParser, raw)
    assert header.version == expected
    assert header.attrs["version"] == value.decode()


def test_no_version_is_none(StreamParser):
    raw = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='a'>"
    assert header_of(StreamParser, raw).version is None


@pytest.mark.parametrize(
    "value",
    [
        b"1",
        b"1.",
        b".0",
        b"",
        b"a.b",
        b"1.0.0",
        b" 1.0",
        b"1.0 ",
        b"+1.0",
        b"1.-0",
        b"-1.0",
        b"1,0",
        b"1.0a",
        b"1_0.0",
        b"1.\t0",
        "\u0661.\u0660".encode(),  # Arabic-Indic digits: int() takes them, XMPP doesn't
        "\uff11.\uff10".encode(),  # fullwidth digits
        "\u00b9.0".encode(),  # superscript one
        b"1000000000.0",
        b"1.1000000000",
        b"0001000000000.0",
        b"18446744073709551617.0",
        b"1.4294967297",
    ],
)
def test_bad_version_is_unsupported_version(StreamParser, value):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='%s'"
        b" xmlns='jabber:client'>" % value
    )
    assert error_of(StreamParser, XML_DECLARATION + raw) == (
        "unsupported-version",
        len(XML_DECLARATION),
    )


# -- to, from, id, xml:lang, decoding -------------------------------------------------------


def test_values_are_decoded_as_xml_says(StreamParser):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
        b" to='a&amp;b&#x41;&#66;&lt;&gt;&quot;&apos;' from='x\ty\nz\r\nw\rv'"
        b" id='&#9;&#10;&#13;tab' xml:lang='en&#45;GB'>"
    )
    header = header_of(StreamParser, raw)
    assert header.to == "a&bAB<>\"'"
    assert header.from_ == "x y z w v"
    assert header.id == "\t\n\rtab"
    assert header.lang == "en-GB"
    assert header.attributes == (
        ("to", "a&bAB<>\"'"),
        ("from", "x y z w v"),
        ("id", "\t\n\rtab"),
        (LANG, "en-GB"),
    )


def test_non_ascii_values(StreamParser):
    raw = (
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
        " to='m\u00fcnchen.example' from='\u4e2d@\u4f8b\u5b50.\u6d4b\u8bd5/\U0001f600'"
        " xml:lang='\u00e9'>"
    ).encode()
    header = header_of(StreamParser, raw)
    assert header.to == "m\u00fcnchen.example"
    assert header.from_ == "\u4e2d@\u4f8b\u5b50.\u6d4b\u8bd5/\U0001f600"
    assert header.lang == "\u00e9"


def test_absent_fields_are_none(StreamParser):
    raw = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
    header = header_of(StreamParser, raw)
    assert header == StreamHeader(
        to=None,
        from_=None,
        id=None,
        version=None,
        lang=None,
        content_namespace=None,
        stream_prefix="stream",
        namespaces=(("stream", STREAMS_NS),),
        attributes=(),
        raw=raw,
    )


def test_empty_values_are_empty_strings(StreamParser):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='' from=\"\""
        b" id='' xml:lang=''>"
    )
    header = header_of(StreamParser, raw)
    assert (header.to, header.from_, header.id, header.lang) == ("", "", "", "")


def test_prefixed_to_is_not_to(StreamParser):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'"
        b" x:to='a' stream:from='b' x:lang='c'>"
    )
    header = header_of(StreamParser, raw)
    assert (header.to, header.from_, header.lang) == (None, None, None)
    assert header.attributes == (
        ("{urn:x}to", "a"),
        (f"{{{STREAMS_NS}}}from", "b"),
        ("{urn:x}lang", "c"),
    )
    assert header.namespaces == (("stream", STREAMS_NS), ("x", "urn:x"))


# -- content namespace, prefix, declarations ------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [
        (b" xmlns='jabber:client'", "jabber:client"),
        (b" xmlns='jabber:server'", "jabber:server"),
        (b" xmlns='jabber:component:accept'", "jabber:component:accept"),
        (b" xmlns='urn:example:anything'", "urn:example:anything"),
        (b" xmlns='a&amp;b'", "a&b"),
        (b" xmlns=''", ""),
        (b"", None),
    ],
)
def test_content_namespace(StreamParser, declaration, expected):
    raw = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'%s>" % declaration
    assert header_of(StreamParser, raw).content_namespace == expected


def test_no_prefix(StreamParser):
    raw = b"<stream xmlns='http://etherx.jabber.org/streams' version='1.0'>"
    header = header_of(StreamParser, raw)
    assert header.stream_prefix is None
    assert header.content_namespace == STREAMS_NS
    assert header.namespaces == ((None, STREAMS_NS),)
    events = StreamParser().feed(raw + b"<features/></stream>")
    assert (events[1].namespace, events[1].name) == (STREAMS_NS, "features")
    assert type(events[2]).__name__ == "StreamClosed"


def test_another_prefix(StreamParser):
    raw = b"<foo:stream xmlns:foo='http://etherx.jabber.org/streams' xmlns='jabber:client'>"
    header = header_of(StreamParser, raw)
    assert header.stream_prefix == "foo"
    events = StreamParser().feed(raw + b"<foo:features/><message/></foo:stream>")
    assert [(e.namespace, e.name) for e in events if type(e) is ElementReceived] == [
        (STREAMS_NS, "features"),
        ("jabber:client", "message"),
    ]
    assert type(events[-1]).__name__ == "StreamClosed"
    with pytest.raises(RemoteProtocolError) as info:
        StreamParser().feed(raw + b"<stream:features/>")
    assert (info.value.condition, info.value.offset) == ("not-well-formed", len(raw))


def test_the_close_tag_must_match_the_roots_prefix(StreamParser):
    raw = b"<foo:stream xmlns:foo='http://etherx.jabber.org/streams'>"
    with pytest.raises(RemoteProtocolError) as info:
        StreamParser().feed(raw + b"</stream:stream>")
    assert (info.value.condition, info.value.offset) == ("not-well-formed", len(raw))


def test_a_server_header_with_dialback(StreamParser):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'"
        b" xmlns:db='jabber:server:dialback' to='b.example' from='a.example' version='1.0'>"
    )
    header = header_of(StreamParser, raw)
    assert header.namespaces == (
        ("stream", STREAMS_NS),
        (None, "jabber:server"),
        ("db", "jabber:server:dialback"),
    )
    assert header.nsmap["db"] == "jabber:server:dialback"
    assert header.attributes == (("to", "b.example"), ("from", "a.example"), ("version", "1.0"))


def test_xml_prefix_may_be_declared_with_its_own_uri(StreamParser):
    raw = (
        b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
        b" xmlns:xml='http://www.w3.org/XML/1998/namespace' xml:lang='fr'>"
    )
    header = header_of(StreamParser, raw)
    assert header.lang == "fr"
    assert header.namespaces == (("stream", STREAMS_NS), ("xml", XML_NS))


def test_one_header_object_per_stream(StreamParser):
    parser = StreamParser()
    events = parser.feed(PROSODY_HEADER + b"<stream:features/><message/>")
    assert events[0].header is parser.header
    assert events[1].header is parser.header
    assert events[2].header is parser.header


def test_the_header_is_announced_once_complete_and_valid(StreamParser):
    parser = StreamParser()
    for byte in (PROSODY_HEADER[i : i + 1] for i in range(len(PROSODY_HEADER) - 1)):
        assert parser.feed(byte) == []
        assert parser.header is None
    events = parser.feed(PROSODY_HEADER[-1:])
    assert [type(e).__name__ for e in events] == ["StreamOpened"]
    assert events[0].header is parser.header


# -- the XML declaration --------------------------------------------------------------------

ROOT = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"


@pytest.mark.parametrize(
    "prologue",
    [
        b"",
        b" \n\t\r\n",
        b"<?xml version='1.0'?>",
        b'<?xml version="1.0"?>',
        b"<?xml version='1.0'?>\n",
        b"<?xml version = '1.0' ?>",
        b"<?xml\tversion='1.0'\n?>\r\n  ",
        b"<?xml version='1.0' encoding='UTF-8'?>",
        b"<?xml version='1.0' encoding='utf-8'?>",
        b'<?xml version="1.0" encoding="Utf-8"?>',
        b"<?xml version='1.0' standalone='yes'?>",
        b"<?xml version='1.0' standalone=\"no\"?>",
        b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>",
        b"<?xml  version\r\n=\t\"1.0\"  encoding = 'UTF-8'  standalone = 'no'  ?>",
    ],
)
def test_xml_declaration_variants(StreamParser, prologue):
    data = prologue + ROOT
    header = header_of(StreamParser, data)
    assert header.raw == ROOT
    parser = StreamParser()
    parser.feed(data)
    assert parser.offset == len(data)


@pytest.mark.parametrize(
    ("prologue", "condition"),
    [
        (b"<?xml version='1.0' encoding='ISO-8859-1'?>", "unsupported-encoding"),
        (b"<?xml version='1.0' encoding='latin1'?>", "unsupported-encoding"),
        (b"<?xml version='1.0' encoding='UTF-16'?>", "unsupported-encoding"),
        (b"<?xml version='1.1'?>", "not-well-formed"),
        (b"<?xml version='2.0'?>", "not-well-formed"),
        (b"<?xml version='1.0' standalone='YES'?>", "not-well-formed"),
        (b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ? >?>", "not-well-formed"),
        (b"<?xml version='1.0'> ?>", "not-well-formed"),
        (b"<?xml version=1.0?>", "not-well-formed"),
    ],
)
def test_bad_xml_declarations(StreamParser, prologue, condition):
    assert error_of(StreamParser, prologue + ROOT + b"<a/>") == (condition, 0)


# -- invalid namespace ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "root",
    [
        b"<stream:stream xmlns:stream='http://example.com/wrong'>",
        b"<stream:stream xmlns:stream='jabber:client' xmlns='http://etherx.jabber.org/streams'>",
        b"<stream:strem xmlns:stream='http://etherx.jabber.org/streams'>",
        b"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>",
        b"<stream xmlns='jabber:client'>",
        b"<stream>",
        b"<foo/>",
        b"<message xmlns='jabber:client'>",
        b"<s:stream xmlns:s='http://etherx.jabber.org/STREAMS'>",
    ],
)
@pytest.mark.parametrize("prologue", [b"", XML_DECLARATION, b"\n"])
def test_root_not_stream_in_the_streams_namespace(StreamParser, root, prologue):
    assert error_of(StreamParser, prologue + root) == ("invalid-namespace", len(prologue))


def test_invalid_namespace_comes_before_unsupported_version(StreamParser):
    root = b"<stream:stream xmlns:stream='urn:x' version='x.y'>"
    assert error_of(StreamParser, root) == ("invalid-namespace", 0)


def test_reset_forgets_the_header(StreamParser):
    parser = StreamParser()
    parser.feed(PROSODY_HEADER)
    first = parser.header
    parser.reset()
    assert parser.header is None
    other = PROSODY_HEADER.replace(b"7fc041e6", b"00000000")
    events = parser.feed(other)
    assert events[0].header is parser.header
    assert parser.header.id == "00000000-7bc2-493a-81e2-fbc19d932b9e"
    assert first.id == "7fc041e6-7bc2-493a-81e2-fbc19d932b9e"
