"""StreamParser's events and API, against both implementations (docs/stream-parser.md)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from xmpp_samples import (
    CLOSE,
    HEADER,
    PROSODY_HEADER,
    SASL_NS,
    STREAMS_NS,
    TLS_CLIENT_HELLO,
    TLS_NS,
    XML_NS,
    bytewise,
    chunkings,
    feed_chunks,
    merge_whitespace,
    split_at,
)
from xmppwire import Limits, LocalProtocolError, ProtocolError, RemoteProtocolError
from xmppwire.events import (
    ElementReceived,
    StreamClosed,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)

MESSAGE = (
    b"<message to='juliet@example.com' from=\"romeo@example.net/orchard\" id='m1'"
    b" type='chat' xml:lang='en'><body>Art thou not Romeo, &amp; a Montague?</body></message>"
)
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
FEATURES = (
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    b"</starttls></stream:features>"
)


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


def element_events(events: list) -> list[tuple[str, str, bytes]]:
    return [(e.namespace, e.name, e.raw) for e in events if type(e) is ElementReceived]


# --- events -------------------------------------------------------------------------------


def test_a_client_stream_gives_header_elements_whitespace_and_close(StreamParser):
    data = HEADER + MESSAGE + b" " + b"<presence/>" + b"\n" + CLOSE
    events = StreamParser().feed(data)
    assert kinds(events) == [
        "StreamOpened",
        "ElementReceived",
        "WhitespaceReceived",
        "ElementReceived",
        "WhitespaceReceived",
        "StreamClosed",
    ]
    header = events[0].header
    assert header.raw == HEADER
    assert events[1] == ElementReceived(
        namespace="jabber:client", name="message", raw=MESSAGE, header=header
    )
    assert events[2] == WhitespaceReceived(raw=b" ")
    assert events[3] == ElementReceived(
        namespace="jabber:client", name="presence", raw=b"<presence/>", header=header
    )
    assert events[4] == WhitespaceReceived(raw=b"\n")
    assert events[5] == StreamClosed()


def test_events_are_exactly_the_shared_event_types(StreamParser):
    events = StreamParser().feed(HEADER + b"<a/> x<b/>" + CLOSE)
    assert [type(e) for e in events] == [
        StreamOpened,
        ElementReceived,
        WhitespaceReceived,
        TextReceived,
        ElementReceived,
        StreamClosed,
    ]


def test_feed_returns_a_list(StreamParser):
    parser = StreamParser()
    assert parser.feed(b"") == []
    assert type(parser.feed(HEADER)) is list
    assert parser.feed(b"<messa") == []


@pytest.mark.parametrize(
    "raw",
    [
        b"<message/>",
        b"<message />",
        b"<message\n\tto = 'a@b'\r\n  id=\"x'y\"\n/>",
        b"<message to='a>b' id=\"c>d\"></message>",
        b"<message><body>1 &lt; 2 &gt; 1 &amp; &apos;&quot; &#65;&#x263a;</body></message >",
        b"<message><body><![CDATA[<not-a-tag attr='&nope;'> ]] > ]]></body></message>",
        b"<iq type='get' id='r'><query xmlns='jabber:iq:roster'><item jid='a@b'>"
        b"<group>\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80</group></item></query></iq>",
        b"<m\xc3\xa9ssage \xe4\xb8\xad='\xf0\x9f\x98\x80'/>",
        b"<message><a><b><c><d/></c></b></a></message>",
        b"<message>]]</message>",
        b"<message>a]>b]] >c</message>",
        b"<message>\r\n\t\x7f\xc2\x85\xef\xbf\xbd\xf4\x8f\xbf\xbf</message>",
    ],
    ids=[
        "empty",
        "empty-space",
        "whitespace-in-tag",
        "gt-in-attribute",
        "references",
        "cdata",
        "nested-non-ascii",
        "non-ascii-names",
        "deep",
        "brackets",
        "almost-cdata-end",
        "legal-edge-characters",
    ],
)
def test_raw_is_exactly_the_received_bytes(StreamParser, raw):
    for name, chunks in chunkings(HEADER + raw + b" " + raw).items():
        outcome = feed_chunks(StreamParser(), chunks)
        assert outcome.error is None, name
        assert [e.raw for e in outcome.events if type(e) is ElementReceived] == [raw, raw], name


def test_namespaces_resolve_against_the_header_and_the_elements_own_declarations(StreamParser):
    data = (
        b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
        b" xmlns:db='jabber:server:dialback' version='1.0'>"
        b"<stream:features/>"
        b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
        b"<db:result from='a.example' to='b.example'>key</db:result>"
        b"<x:y xmlns:x='urn:x'/>"
        b"<db:verify xmlns:db='urn:other'/>"
        b"<message/>"
        b"<message xmlns=''/>"
        b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    )
    events = StreamParser().feed(data)
    assert [(e.namespace, e.name) for e in events if type(e) is ElementReceived] == [
        (STREAMS_NS, "features"),
        (TLS_NS, "starttls"),
        ("jabber:server:dialback", "result"),
        ("urn:x", "y"),
        ("urn:other", "verify"),
        ("jabber:server", "message"),
        ("", "message"),
        (STREAMS_NS, "error"),
    ]


def test_without_a_default_namespace_elements_are_in_no_namespace(StreamParser):
    data = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><message/>"
    events = StreamParser().feed(data)
    assert (events[1].namespace, events[1].name, events[1].tag) == ("", "message", "message")


def test_unprefixed_root_puts_unprefixed_children_in_the_streams_namespace(StreamParser):
    data = b"<stream xmlns='http://etherx.jabber.org/streams'><features/><message/>"
    events = StreamParser().feed(data)
    assert [(e.namespace, e.name) for e in events[1:]] == [
        (STREAMS_NS, "features"),
        (STREAMS_NS, "message"),
    ]


def test_a_prefix_declared_in_one_stanza_does_not_leak_into_the_next(StreamParser):
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(HEADER + b"<message xmlns:p='urn:p'><p:x/></message><p:x/>")
    assert info.value.condition == "not-well-formed"
    assert info.value.offset == len(HEADER) + len(b"<message xmlns:p='urn:p'><p:x/></message>")


def test_whitespace_is_reported_as_soon_as_it_arrives(StreamParser):
    parser = StreamParser()
    assert kinds(parser.feed(HEADER)) == ["StreamOpened"]
    for ws in (b" ", b"\t", b"\r", b"\n", b" \r\n\t "):
        assert parser.feed(ws) == [WhitespaceReceived(raw=ws)]
    assert parser.feed(b"<presence/>\n")[1] == WhitespaceReceived(raw=b"\n")


def test_each_whitespace_event_carries_its_own_run_when_runs_repeat(StreamParser):
    runs = [b"\n", b"\n", b"\n\n", b"\n", b" " * 40, b" " * 40, b"\t", b"\n", b" " * 39]
    data = b"".join(b"<presence/>" + run for run in runs)
    for chunks in ([data], [data[:30], data[30:]], [data[i : i + 1] for i in range(len(data))]):
        parser = StreamParser()
        parser.feed(HEADER)
        events = [e for chunk in chunks for e in parser.feed(chunk)]
        whitespace = [e.raw for e in events if type(e) is WhitespaceReceived]
        assert b"".join(whitespace) == b"".join(runs)
        if len(chunks) == 1:
            assert whitespace == runs


def test_whitespace_before_the_header_and_after_the_close_gives_no_event(StreamParser):
    parser = StreamParser()
    assert parser.feed(b"\n \t\r\n") == []
    events = parser.feed(HEADER)
    assert kinds(events) == ["StreamOpened"]
    assert events[0].header.raw == HEADER
    assert kinds(parser.feed(CLOSE)) == ["StreamClosed"]
    assert parser.feed(b" \n\t\r ") == []
    assert parser.close() == []


def test_text_at_depth_1_is_reported_when_the_next_tag_begins(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER)
    assert parser.feed(b"  hello") == [WhitespaceReceived(raw=b"  ")]
    assert parser.feed(b" world ") == []
    events = parser.feed(b"<presence/>")
    assert events[0] == TextReceived(raw=b"hello world ")
    assert kinds(events) == ["TextReceived", "ElementReceived"]


def test_text_before_the_close_tag(StreamParser):
    events = StreamParser().feed(HEADER + b"x" + CLOSE)
    assert events[1:] == [TextReceived(raw=b"x"), StreamClosed()]


def test_text_decodes_references_and_line_ends(StreamParser):
    raw = b"a &amp; &lt;&gt;&apos;&quot; &#x263A;&#9731; b\r\nc\rd\ne\xc3\xa9"
    events = StreamParser().feed(HEADER + raw + b"<presence/>")
    text = events[1]
    assert text == TextReceived(raw=raw)
    assert text.text == "a & <>'\" \u263a\u2603 b\nc\nd\ne\u00e9"


def test_a_self_closing_root_opens_and_closes(StreamParser):
    data = b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'/>"
    parser = StreamParser()
    events = parser.feed(data + b" \n")
    assert kinds(events) == ["StreamOpened", "StreamClosed"]
    assert events[0].header.raw == data
    assert parser.close() == []


def test_many_stanzas_in_one_chunk_and_one_stanza_over_many(StreamParser):
    stanzas = [b"<message id='%d'><body>%s</body></message>" % (i, b"x" * i) for i in range(50)]
    data = HEADER + b"".join(stanzas)
    whole = StreamParser().feed(data)
    assert [e.raw for e in whole[1:]] == stanzas
    parser = StreamParser()
    pieces = []
    for chunk in bytewise(data):
        pieces.extend(parser.feed(chunk))
    assert pieces == whole


def test_thirty_thousand_children_in_one_stanza_are_fine(StreamParser):
    raw = b"<message>" + b"<a/>" * 30000 + b"</message>"
    events = StreamParser().feed(HEADER + raw)
    assert events[1].raw == raw


def test_unknown_top_level_elements_are_the_sessions_business(StreamParser):
    # Prosody answers these with unsupported-stanza-type; the parser just reports them.
    events = StreamParser().feed(HEADER + b"<foo xmlns='jabber:client'/><foo xmlns='urn:x'/>")
    assert [(e.namespace, e.name) for e in events[1:]] == [
        ("jabber:client", "foo"),
        ("urn:x", "foo"),
    ]


# --- attrs, element() ----------------------------------------------------------------------


def test_attrs_are_decoded_with_elementtree_names(StreamParser):
    raw = (
        b"<message to='juliet@example.com' from=\"romeo@example.net/o\" id='a&amp;b&#x41;'"
        b" type='chat' xml:lang='en' xmlns:x='urn:x' x:flag='1&lt;2'"
        b" note='tab\there&#9;nl\r\nend'><body/></message>"
    )
    element = StreamParser().feed(HEADER + raw)[1]
    assert element.attrs == {
        "to": "juliet@example.com",
        "from": "romeo@example.net/o",
        "id": "a&bA",
        "type": "chat",
        f"{{{XML_NS}}}lang": "en",
        "{urn:x}flag": "1<2",
        "note": "tab here\tnl end",
    }
    assert (element.to, element.from_, element.id, element.type, element.lang) == (
        "juliet@example.com",
        "romeo@example.net/o",
        "a&bA",
        "chat",
        "en",
    )
    assert element.get("note") == "tab here\tnl end"
    assert element.get("missing") is None
    assert element.get("missing", "d") == "d"


def test_attrs_of_an_element_without_attributes(StreamParser):
    element = StreamParser().feed(HEADER + b"<presence/>")[1]
    assert element.attrs == {}
    assert (element.to, element.from_, element.id, element.type, element.lang) == (None,) * 5


def test_element_builds_a_tree_with_inherited_namespaces(StreamParser):
    raw = (
        b"<message to='a@b' xml:lang='en'><body>hello &lt;&amp;&gt; \xc3\xa9\xe4\xb8\xad</body>"
        b"<x xmlns='jabber:x:data' type='form'><field var='v'><value>1</value></field></x>"
        b"<stream:error/><![CDATA[<raw>]]></message>"
    )
    element = StreamParser().feed(HEADER + raw)[1]
    tree = element.element()
    assert isinstance(tree, ET.Element)
    assert tree.tag == "{jabber:client}message"
    assert tree.attrib == {"to": "a@b", f"{{{XML_NS}}}lang": "en"}
    assert [child.tag for child in tree] == [
        "{jabber:client}body",
        "{jabber:x:data}x",
        f"{{{STREAMS_NS}}}error",
    ]
    assert tree[0].text == "hello <&> \u00e9\u4e2d"
    assert tree[1][0][0].tag == "{jabber:x:data}value"
    assert tree[2].tail == "<raw>"
    assert element.element() is not tree


def test_element_on_a_server_stream_with_a_dialback_prefix(StreamParser):
    data = (
        b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
        b" xmlns:db='jabber:server:dialback'><db:result from='a' to='b'>k</db:result>"
    )
    tree = StreamParser().feed(data)[1].element()
    assert tree.tag == "{jabber:server:dialback}result"
    assert (tree.get("from"), tree.get("to"), tree.text) == ("a", "b", "k")


def test_element_header_is_the_streams_header(StreamParser):
    parser = StreamParser()
    events = parser.feed(PROSODY_HEADER + FEATURES)
    assert events[1].header == events[0].header == parser.header


# --- input types and the caller's buffer ---------------------------------------------------


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-slice"])
def test_bytes_like_input(StreamParser, kind):
    data = HEADER + MESSAGE + b" " + CLOSE
    reference = StreamParser().feed(data)
    padded = b"garbage" + data + b"trailing"

    convert = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}.get(kind)

    for name, chunks in chunkings(data).items():
        if convert is None:
            # every chunk is a view into the middle of a larger buffer
            outcome_events = []
            parser = StreamParser()
            offset = len(b"garbage")
            view = memoryview(padded)
            for chunk in chunks:
                outcome_events.extend(parser.feed(view[offset : offset + len(chunk)]))
                offset += len(chunk)
        else:
            outcome_events = feed_chunks(StreamParser(), [convert(c) for c in chunks]).events
        assert merge_whitespace(outcome_events) == reference, name
        assert all(type(e.raw) is bytes for e in outcome_events if hasattr(e, "raw"))


def test_the_callers_buffer_may_be_reused_at_once(StreamParser):
    data = HEADER + MESSAGE
    parser = StreamParser()
    buffer = bytearray(64)
    events = []
    for start in range(0, len(data), 64):
        piece = data[start : start + 64]
        buffer[: len(piece)] = piece
        events.extend(parser.feed(memoryview(buffer)[: len(piece)]))
        buffer[:] = b"\xff" * 64
    assert events[1].raw == MESSAGE
    assert events[0].header.raw == HEADER


@pytest.mark.parametrize("bad", ["<stream:stream>", 42, None, [b"<"], object()])
def test_non_bytes_input_raises_type_error_and_changes_nothing(StreamParser, bad):
    parser = StreamParser()
    parser.feed(HEADER + b"<message>")
    offset = parser.offset
    with pytest.raises((TypeError, ValueError)):
        parser.feed(bad)
    assert parser.offset == offset
    events = parser.feed(b"</message>")
    assert element_events(events) == [("jabber:client", "message", b"<message></message>")]


@pytest.mark.parametrize("bad", ["big", 262144, {"max_depth": 3}])
def test_limits_must_be_a_limits(StreamParser, bad):
    with pytest.raises((TypeError, ValueError)):
        StreamParser(limits=bad)


def test_limits_are_kept(StreamParser):
    limits = Limits(max_depth=7)
    parser = StreamParser(limits=limits)
    assert parser.limits == limits
    parser.feed(HEADER)
    parser.reset()
    assert parser.limits == limits
    assert StreamParser().limits == Limits()


# --- offset, header ------------------------------------------------------------------------


def test_offset_counts_the_bytes_of_this_stream(StreamParser):
    parser = StreamParser()
    assert parser.offset == 0
    assert parser.header is None
    data = HEADER + MESSAGE + b"  " + CLOSE
    parser.feed(data)
    assert parser.offset == len(data)
    assert parser.header is not None
    assert parser.header.raw == HEADER
    parser.reset()
    assert parser.offset == 0
    assert parser.header is None


def test_header_is_none_until_the_header_is_complete(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER[:-1])
    assert parser.header is None
    events = parser.feed(HEADER[-1:])
    assert parser.header == events[0].header


# --- end of input ---------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["close", "feed-empty"])
def test_end_of_input_at_a_stream_boundary_is_fine(StreamParser, end):
    def finish(parser):
        return parser.close() if end == "close" else parser.feed(b"")

    assert finish(StreamParser()) == []
    parser = StreamParser()
    parser.feed(HEADER + MESSAGE + CLOSE + b"\n")
    assert finish(parser) == []
    assert finish(parser) == []


@pytest.mark.parametrize(
    "data",
    [
        HEADER,
        HEADER + b" ",
        HEADER + MESSAGE,
        HEADER + b"<message><body>hi</body>",
        HEADER + b"<message to='a",
        HEADER + b"<",
        HEADER + b"</stream:strea",
        HEADER + b"hello",
        HEADER[:10],
        b"<?xml version='1.0'",
        b"<",
    ],
    ids=[
        "after-header",
        "after-whitespace",
        "after-element",
        "in-element",
        "in-attribute",
        "after-lt",
        "in-close-tag",
        "in-text",
        "in-header",
        "in-declaration",
        "lt-only",
    ],
)
@pytest.mark.parametrize("end", ["close", "feed-empty"])
def test_end_of_input_inside_the_stream_is_not_well_formed(StreamParser, data, end):
    for name, chunks in chunkings(data).items():
        parser = StreamParser()
        for chunk in chunks:
            parser.feed(chunk)
        with pytest.raises(RemoteProtocolError) as info:
            parser.close() if end == "close" else parser.feed(b"")
        assert (info.value.condition, info.value.offset) == ("not-well-formed", len(data)), name


# --- sticky errors ---------------------------------------------------------------------------


def test_errors_are_sticky_until_reset(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER)
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(b"<message><!-- no --></message>")
    first = info.value
    assert (first.condition, first.offset) == ("restricted-xml", len(HEADER) + 9)
    for again in (lambda: parser.feed(b"<presence/>"), parser.close, lambda: parser.feed(b"")):
        with pytest.raises(RemoteProtocolError) as info:
            again()
        assert info.value is first
    parser.reset()
    events = parser.feed(HEADER + b"<presence/>")
    assert kinds(events) == ["StreamOpened", "ElementReceived"]
    assert parser.offset == len(HEADER) + len(b"<presence/>")


def test_the_error_carries_the_events_completed_by_the_failing_call(StreamParser):
    parser = StreamParser()
    assert kinds(parser.feed(HEADER)) == ["StreamOpened"]
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(MESSAGE + b" <presence/><!--")
    header = parser.header
    assert info.value.events == (
        ElementReceived(namespace="jabber:client", name="message", raw=MESSAGE, header=header),
        WhitespaceReceived(raw=b" "),
        ElementReceived(
            namespace="jabber:client", name="presence", raw=b"<presence/>", header=header
        ),
    )
    assert isinstance(info.value, ProtocolError)
    assert str(info.value)
    assert info.value.message


def test_an_error_in_the_header_call_keeps_nothing_back(StreamParser):
    with pytest.raises(RemoteProtocolError) as info:
        StreamParser().feed(HEADER + b"<a><b></a>")
    assert kinds(list(info.value.events)) == ["StreamOpened"]


# --- pause_after, take_unparsed, reset --------------------------------------------------------

SERVER_STREAM = PROSODY_HEADER + FEATURES


def test_pipelined_proceed_leaves_the_tls_bytes_unparsed(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    events = parser.feed(SERVER_STREAM + PROCEED + TLS_CLIENT_HELLO)
    assert kinds(events) == ["StreamOpened", "ElementReceived", "ElementReceived"]
    assert (events[-1].namespace, events[-1].name, events[-1].raw) == (TLS_NS, "proceed", PROCEED)
    assert parser.paused is True
    assert parser.offset == len(SERVER_STREAM + PROCEED)
    assert parser.take_unparsed() == TLS_CLIENT_HELLO
    assert parser.take_unparsed() == b""
    with pytest.raises(LocalProtocolError):
        parser.feed(b"<presence/>")
    with pytest.raises(LocalProtocolError):
        parser.close()
    parser.reset()
    assert (parser.paused, parser.offset, parser.header) == (False, 0, None)
    assert set(parser.pause_after) == {(TLS_NS, "proceed")}
    events = parser.feed(PROSODY_HEADER)
    assert kinds(events) == ["StreamOpened"]
    assert parser.offset == len(PROSODY_HEADER)


def test_local_protocol_error_is_not_a_remote_one():
    assert issubclass(LocalProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)


def test_the_pause_is_the_same_whatever_the_chunking(StreamParser):
    data = SERVER_STREAM + b" " + PROCEED + TLS_CLIENT_HELLO
    reference = None
    for cut in range(len(data) + 1):
        parser = StreamParser(pause_after={(TLS_NS, "proceed")})
        events = []
        rest = b""
        for index, chunk in enumerate(split_at(data, [cut])):
            events.extend(parser.feed(chunk))
            if parser.paused:
                rest = parser.take_unparsed() + b"".join(split_at(data, [cut])[index + 1 :])
                break
        assert parser.paused, cut
        assert rest == TLS_CLIENT_HELLO, cut
        events = merge_whitespace(events)
        if reference is None:
            reference = events
        assert events == reference, cut


def test_pausing_element_at_the_end_of_a_chunk_leaves_nothing(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    parser.feed(SERVER_STREAM + PROCEED)
    assert parser.paused
    assert parser.take_unparsed() == b""


def test_whitespace_after_the_pausing_element_is_left_unparsed(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    events = parser.feed(SERVER_STREAM + PROCEED + b" \n<x/>")
    assert kinds(events)[-1] == "ElementReceived"
    assert parser.take_unparsed() == b" \n<x/>"


def test_pause_after_matches_resolved_names_at_the_top_level_only(StreamParser):
    parser = StreamParser()
    parser.pause_after = {(TLS_NS, "proceed")}
    events = parser.feed(
        SERVER_STREAM
        + b"<iq type='result' id='1'><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></iq>"
        + b"<proceed/>"
        + b"<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'/>"
        + b"<after/>"
    )
    assert [e.name for e in events if type(e) is ElementReceived] == [
        "features",
        "iq",
        "proceed",
        "proceed",
    ]
    assert events[-1].raw == b"<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'/>"
    assert parser.paused
    assert parser.take_unparsed() == b"<after/>"


def test_take_unparsed_without_a_pause_is_empty(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    assert parser.take_unparsed() == b""
    parser.feed(SERVER_STREAM + b"<message>")
    assert parser.take_unparsed() == b""
    assert parser.paused is False


def test_reset_drops_the_bytes_not_taken(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    parser.feed(SERVER_STREAM + PROCEED + TLS_CLIENT_HELLO)
    parser.reset()
    assert parser.take_unparsed() == b""
    assert parser.paused is False


def test_sasl_success_and_the_next_header_in_one_chunk(StreamParser):
    success = b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1nQUNt</success>"
    parser = StreamParser(pause_after={(SASL_NS, "success")})
    events = parser.feed(PROSODY_HEADER + success + PROSODY_HEADER + b"<stream:features/>")
    assert events[-1].name == "success"
    rest = parser.take_unparsed()
    assert rest == PROSODY_HEADER + b"<stream:features/>"
    parser.reset()
    events = parser.feed(rest)
    assert kinds(events) == ["StreamOpened", "ElementReceived"]
    assert (events[1].namespace, events[1].name) == (STREAMS_NS, "features")


def test_reset_in_the_middle_of_an_element_forgets_it(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER + b"<message><body>half")
    parser.reset()
    events = parser.feed(XML_DECL_AND_HEADER + b"<presence/>")
    assert element_events(events) == [("jabber:client", "presence", b"<presence/>")]
    assert events[0].header.raw == HEADER


XML_DECL_AND_HEADER = b"<?xml version='1.0'?>" + HEADER


def test_reset_after_a_closed_stream_accepts_a_new_declaration(StreamParser):
    parser = StreamParser()
    parser.feed(XML_DECL_AND_HEADER + CLOSE)
    parser.reset()
    assert kinds(parser.feed(XML_DECL_AND_HEADER)) == ["StreamOpened"]
    assert parser.offset == len(XML_DECL_AND_HEADER)


# --- details of feeding (docs/stream-parser.md, "Feeding, offset, close") -------------------


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b""), memoryview(b"abc")[1:1]])
def test_any_empty_bytes_like_object_means_end_of_input(StreamParser, empty):
    assert StreamParser().feed(empty) == []
    parser = StreamParser()
    parser.feed(HEADER + b"<message>")
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(empty)
    assert (info.value.condition, info.value.offset) == (
        "not-well-formed",
        len(HEADER) + len(b"<message>"),
    )


def test_end_of_input_at_a_boundary_changes_nothing(StreamParser):
    parser = StreamParser()
    assert parser.close() == []
    assert parser.feed(b"  ") == []
    assert parser.close() == []
    events = parser.feed(HEADER + CLOSE)
    assert kinds(events) == ["StreamOpened", "StreamClosed"]
    assert parser.close() == []
    assert parser.feed(b"\n") == []
    assert parser.offset == 2 + len(HEADER + CLOSE) + 1


def test_offset_counts_held_bytes_and_the_failing_call(StreamParser):
    parser = StreamParser()
    parser.feed(HEADER[:10])
    assert parser.offset == 10
    parser.feed(HEADER[10:] + b"<message><bo")
    assert parser.offset == len(HEADER) + len(b"<message><bo")
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"dy>\x01 and more<")
    assert parser.offset == len(HEADER) + len(b"<message><body>\x01 and more<")


def test_offset_excludes_what_a_pause_leaves(StreamParser):
    parser = StreamParser(pause_after={(TLS_NS, "proceed")})
    parser.feed(SERVER_STREAM[:30])
    parser.feed(SERVER_STREAM[30:] + PROCEED + b"tail")
    assert parser.offset == len(SERVER_STREAM + PROCEED)
    assert parser.take_unparsed() == b"tail"
    assert parser.offset == len(SERVER_STREAM + PROCEED)


def test_a_non_contiguous_memoryview_is_not_bytes_like(StreamParser):
    # Python's glossary: a bytes-like object exports a C-contiguous buffer
    parser = StreamParser()
    parser.feed(HEADER)
    strided = memoryview(b"<<pprreesseennccee//>>")[::2]
    with pytest.raises((TypeError, ValueError)):
        parser.feed(strided)
    assert parser.offset == len(HEADER)
    assert element_events(parser.feed(b"<presence/>")) == [
        ("jabber:client", "presence", b"<presence/>")
    ]


def test_a_very_deep_element_within_a_raised_depth_limit(StreamParser):
    depth = 20000
    raw = b"<a>" * depth + b"</a>" * depth
    parser = StreamParser(limits=Limits(max_depth=depth))
    events = parser.feed(HEADER + raw)
    assert events[-1].raw == raw


def test_a_quote_in_a_start_tag_hides_the_gt(StreamParser):
    # the tag's end is the first `>` outside quotes, even where no value may start
    parser = StreamParser()
    assert kinds(parser.feed(HEADER + b"<a 'x>")) == ["StreamOpened"]
    with pytest.raises(RemoteProtocolError) as info:
        parser.close()
    assert (info.value.condition, info.value.offset) == (
        "not-well-formed",
        len(HEADER) + len(b"<a 'x>"),
    )
    parser = StreamParser()
    parser.feed(HEADER + b"<a 'x>")
    with pytest.raises(RemoteProtocolError) as info:
        parser.feed(b"' b='1'/>")
    assert (info.value.condition, info.value.offset) == ("not-well-formed", len(HEADER))


def test_pause_after_set_while_an_element_is_held(StreamParser):
    parser = StreamParser()
    events = parser.feed(SERVER_STREAM + b"hi <proc")
    assert events[-1] == TextReceived(raw=b"hi ")
    parser.pause_after = [(TLS_NS, "proceed")]
    events = parser.feed(b"eed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><x/>")
    assert kinds(events) == ["ElementReceived"]
    assert parser.paused
    rest = parser.take_unparsed()
    assert type(rest) is bytes
    assert rest == b"<x/>"


def test_pause_after_accepts_any_iterable_of_pairs(StreamParser):
    for pairs in ([(TLS_NS, "proceed")], ((TLS_NS, "proceed"),), frozenset({(TLS_NS, "proceed")})):
        parser = StreamParser(pause_after=pairs)
        parser.feed(SERVER_STREAM + PROCEED + b"!")
        assert parser.paused
        assert set(parser.pause_after) == {(TLS_NS, "proceed")}
        assert parser.take_unparsed() == b"!"


KITCHEN_SINK = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    + HEADER
    + b"\n \t"
    + MESSAGE
    + b"hi &amp; <![CDATA[ <x> ]]> "
    + b"<iq type='result' id='r&#x31;'><query xmlns='jabber:iq:roster' ver=\"1\">"
    + b"<item jid='a@b' name='\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80'>"
    + b"<group>G &lt;1&gt;</group></item>"
    + b"</query ></iq>\r\n"
    + b"<p:x xmlns:p='urn:p' p:a='1' a='2'><p:y/><![CDATA[]]]]><![CDATA[>]]>]]</p:x>"
    + b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    + b" </stream:stream \n> \n"
)


def test_every_two_way_cut_of_a_stream_with_everything(StreamParser):
    reference = feed_chunks(StreamParser(), [KITCHEN_SINK], close=True)
    assert reference.error is None
    assert kinds(reference.merged) == [
        "StreamOpened",
        "WhitespaceReceived",
        "ElementReceived",
        "TextReceived",
        "TextReceived",
        "WhitespaceReceived",
        "ElementReceived",
        "WhitespaceReceived",
        "ElementReceived",
        "ElementReceived",
        "WhitespaceReceived",
        "StreamClosed",
    ]
    for cut in range(1, len(KITCHEN_SINK)):
        outcome = feed_chunks(StreamParser(), [KITCHEN_SINK[:cut], KITCHEN_SINK[cut:]], close=True)
        assert outcome.merged == reference.merged, cut
        assert outcome.error is None, cut
