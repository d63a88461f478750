"""A quick pass over the stream parser: a real login, a few errors, chunking, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmppwire import (
    ElementReceived,
    Limits,
    RemoteProtocolError,
    StreamClosed,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)

TRANSCRIPT = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"
HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='example.com'>"
)


def received_chunks() -> list[bytes]:
    """The exact bytes Prosody sent, one RAW RECV line per chunk, in order."""
    chunks = []
    for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines():
        if "RAW RECV: " in line:
            chunks.append(line.split("RAW RECV: ", 1)[1].encode("utf-8"))
    return chunks


def merged(events: list) -> list:
    """Events as comparable values, adjacent whitespace merged."""
    out: list = []
    for event in events:
        if isinstance(event, WhitespaceReceived) and out and out[-1][0] == "ws":
            out[-1] = ("ws", out[-1][1] + event.raw)
        elif isinstance(event, WhitespaceReceived):
            out.append(("ws", event.raw))
        elif isinstance(event, ElementReceived):
            out.append(("element", event.namespace, event.name, event.raw))
        elif isinstance(event, StreamOpened):
            out.append(("opened", event.header))
        elif isinstance(event, TextReceived):
            out.append(("text", event.raw))
        else:
            out.append((type(event).__name__,))
    return out


def outcome(parser_class: type, data: bytes, cuts: list[int]) -> tuple[list, tuple | None]:
    parser = parser_class()
    events: list = []
    try:
        previous = 0
        for cut in [*cuts, len(data)]:
            if cut > previous:
                events += parser.feed(data[previous:cut])
                previous = cut
        events += parser.close()
    except RemoteProtocolError as exc:
        return merged(events + list(exc.events)), (exc.condition, exc.offset)
    return merged(events), None


def test_prosody_login_splits_into_its_elements(StreamParser: type) -> None:
    parser = StreamParser()
    seen = []
    for chunk in received_chunks():
        if chunk.startswith(b"<?xml"):
            parser.reset()
        for event in parser.feed(chunk):
            if isinstance(event, ElementReceived):
                assert chunk.count(event.raw) == 1
                seen.append((event.namespace, event.name))
            elif isinstance(event, StreamOpened):
                assert event.header.from_ == "localhost"
                assert event.header.version == (1, 0)
                assert event.header.lang == "en"
                assert event.header.content_namespace == "jabber:client"
                assert event.header.stream_prefix == "stream"
                seen.append("opened")
            elif isinstance(event, StreamClosed):
                seen.append("closed")
    streams = "http://etherx.jabber.org/streams"
    sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    assert seen[:5] == [
        "opened",
        (streams, "features"),
        ("urn:ietf:params:xml:ns:xmpp-tls", "proceed"),
        "opened",
        (streams, "features"),
    ]
    assert (sasl, "challenge") in seen
    assert seen.count((sasl, "success")) == 2
    assert seen.count("closed") == 2
    assert seen[-2:] == [("jabber:client", "message"), "closed"]
    assert parser.close() == []


def test_prosody_message_tree_and_attributes(StreamParser: type) -> None:
    parser = StreamParser()
    messages = []
    for chunk in received_chunks():
        if chunk.startswith(b"<?xml"):
            parser.reset()
        messages += [e for e in parser.feed(chunk) if getattr(e, "name", None) == "message"]
    (message,) = messages
    assert message.type == "chat"
    assert message.from_ == "user1@localhost/r1"
    assert message.element().findtext("{jabber:client}body") == "hello from user1 <&> é中"


@pytest.mark.parametrize(
    ("body", "condition", "at"),
    [
        (b"<a><!-- no --></a>", "restricted-xml", 3),
        (b"<a>&nbsp;</a>", "restricted-xml", 3),
        (b"<a>&amp</a>", "not-well-formed", 3),
        (b"<a>ok \xc0\x80</a>", "unsupported-encoding", 6),
        (b"<a b='1' b='2'/>", "not-well-formed", 0),
        (b"<a xmlns:p='u' xmlns:q='u' p:b='' q:b=''/>", "not-well-formed", 0),
        (b"<p:a/>", "not-well-formed", 0),
        (b"<a><b></a>", "not-well-formed", 6),
        (b"<a>x]]></a>", "not-well-formed", 4),
        (b"<a>&#0;</a>", "not-well-formed", 3),
    ],
)
def test_errors_whatever_the_chunking(
    StreamParser: type, body: bytes, condition: str, at: int
) -> None:
    data = HEADER + b"<ok/>" + body + b"</stream:stream>"
    whole = outcome(StreamParser, data, [])
    assert whole[1] == (condition, len(HEADER) + 5 + at)
    assert whole[0][-1][:3] == ("element", "jabber:client", "ok")
    assert outcome(StreamParser, data, list(range(1, len(data)))) == whole


def test_header_errors(StreamParser: type) -> None:
    wrong = b"<stream:stream xmlns:stream='urn:wrong'>"
    assert outcome(StreamParser, wrong, [])[1] == ("invalid-namespace", 0)
    latin = b"<?xml version='1.0' encoding='latin-1'?>"
    assert outcome(StreamParser, latin, [])[1] == ("unsupported-encoding", 0)


def test_byte_by_byte_equals_whole(StreamParser: type) -> None:
    data = (
        HEADER
        + b" \n<message to='a@b' id='1'><body>caf\xc3\xa9 &lt;3</body></message>"
        + b"<iq type='get'><q xmlns='urn:x' xmlns:y='urn:y' y:a='1'><![CDATA[<raw>]]></q></iq>"
        + b"\t stray text <presence/> </stream:stream>\n"
    )
    whole = outcome(StreamParser, data, [])
    assert whole[1] is None
    kinds = [event[0] for event in whole[0]]
    assert kinds == [
        "opened",
        "ws",
        "element",
        "element",
        "ws",
        "text",
        "element",
        "ws",
        "StreamClosed",
    ]
    assert outcome(StreamParser, data, list(range(1, len(data)))) == whole


def test_size_limit_is_byte_exact(StreamParser: type) -> None:
    element = b"<message><body>" + b"x" * 100 + b"</body></message>"
    data = HEADER + element
    fits = StreamParser(limits=Limits(max_stanza_bytes=len(element)))
    assert [e.raw for e in fits.feed(data) if isinstance(e, ElementReceived)] == [element]
    for cuts in ([], list(range(1, len(data)))):
        parser = StreamParser(limits=Limits(max_stanza_bytes=len(element) - 1))
        with pytest.raises(RemoteProtocolError) as raised:
            previous = 0
            for cut in [*cuts, len(data)]:
                parser.feed(data[previous:cut])
                previous = cut
        assert raised.value.condition == "policy-violation"
        assert raised.value.offset == len(HEADER) + len(element) - 1


def test_pause_after_proceed_keeps_the_rest(StreamParser: type) -> None:
    tls = ("urn:ietf:params:xml:ns:xmpp-tls", "proceed")
    parser = StreamParser(pause_after={tls})
    data = HEADER + b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\x16\x03\x01garbage"
    events = parser.feed(data)
    assert isinstance(events[-1], ElementReceived) and events[-1].name == "proceed"
    assert parser.paused
    assert parser.take_unparsed() == b"\x16\x03\x01garbage"
    assert parser.offset == len(data) - len(b"\x16\x03\x01garbage")
    parser.reset()
    assert not parser.paused and parser.header is None and parser.offset == 0
    assert [type(e) for e in parser.feed(HEADER + b"<a/>")] == [StreamOpened, ElementReceived]


def test_errors_are_sticky(StreamParser: type) -> None:
    parser = StreamParser()
    with pytest.raises(RemoteProtocolError) as first:
        parser.feed(HEADER + b"<a>&bad</a>")
    with pytest.raises(RemoteProtocolError) as again:
        parser.feed(b"<b/>")
    assert again.value is first.value
    with pytest.raises(RemoteProtocolError):
        parser.close()
