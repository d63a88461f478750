"""Stream errors (RFC 6120 §4.9): sending them from every state, the peer's, and parse failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from session_pair import Pair, client, negotiated, plain_pair, server
from xmppwire import Limits, LocalProtocolError
from xmppwire.session import (
    CloseTransport,
    HeaderReceived,
    SessionState,
    StanzaReceived,
    StreamErrorReceived,
    StreamErrorSent,
    StreamKind,
    TLSPolicy,
)
from xmppwire.session.stream_errors import StreamError, build_stream_error

STREAMS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
C2S_HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='example.com' version='1.0'>"
)


def parse_error_bytes(data: bytes) -> ET.Element:
    """The <stream:error> in what a session wrote, read back with expat."""
    start = data.index(b"<stream:error>")
    end = data.index(b"</stream:error>") + len(b"</stream:error>")
    wrapped = b"<w xmlns:stream='http://etherx.jabber.org/streams'>" + data[start:end] + b"</w>"
    return ET.fromstring(wrapped)[0]


def sent_error(StreamParser, data: bytes) -> StreamError:
    """Feed ``data`` to a fresh client session and return the error it parsed."""
    receiving = client(StreamParser, tls=TLSPolicy.DISABLED)
    receiving.open()
    events = receiving.receive_data(data)
    return next(e for e in events if type(e) is StreamErrorReceived).error


def test_error_before_any_header_sends_a_version_1_header_first(StreamParser):
    """Nothing sent yet: a header with version='1.0', then the error, then the close."""
    session = server(StreamParser)
    data = session.send_stream_error("system-shutdown")
    assert data.startswith(b"<?xml version='1.0'?><stream:stream ")
    header = data[: data.index(b">", data.index(b"<stream:stream")) + 1]
    assert b"version='1.0'" in header and b"id='" in header and b"from='example.com'" in header
    assert data.endswith(b"</stream:error></stream:stream>")
    assert parse_error_bytes(data)[0].tag == f"{{{STREAMS_ERR}}}system-shutdown"
    assert session.state is SessionState.CLOSING
    error = sent_error(StreamParser, data)
    assert error.condition == "system-shutdown"


def test_error_with_text_and_application_condition_round_trips(StreamParser):
    """Text, its language and an application-specific child survive the trip."""
    pair = negotiated(StreamParser)
    data = pair.b.send_stream_error(
        "policy-violation",
        text="too big <&>",
        lang="en",
        application_condition="<stanza-too-big xmlns='urn:xmpp:errors'/>",
    )
    assert not data.startswith(b"<?xml")  # the header went out long ago
    events = pair.to_a(data)
    error = next(e for e in events if type(e) is StreamErrorReceived).error
    assert error.condition == "policy-violation"
    assert error.text == "too big <&>"
    assert error.lang == "en"
    assert error.application_condition == ("urn:xmpp:errors", "stanza-too-big")
    assert pair.a.state is SessionState.CLOSED  # their close tag followed the error


def test_see_other_host_carries_the_address(StreamParser):
    data = build_stream_error("see-other-host", condition_text="[2001:db8::1]:5222")
    error = sent_error(StreamParser, C2S_HEADER.replace(b" to=", b" from=") + data)
    assert error.condition == "see-other-host"
    assert error.condition_text == "[2001:db8::1]:5222"


def test_unknown_condition_reads_as_undefined(StreamParser):
    data = b"<stream:error><made-up xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    assert sent_error(StreamParser, C2S_HEADER + data).condition == "undefined-condition"


def test_sending_an_unknown_condition_or_bad_text_is_refused(StreamParser):
    pair = negotiated(StreamParser)
    with pytest.raises(LocalProtocolError):
        pair.a.send_stream_error("no-such-condition")
    with pytest.raises(LocalProtocolError):
        pair.a.send_stream_error("conflict", text="bell \x07")
    assert pair.a.state is SessionState.READY


@pytest.mark.parametrize("state", ["idle", "opening", "negotiating", "ready"])
def test_initiator_can_send_an_error_in_every_live_state(StreamParser, state):
    """Whatever the state, the bytes are a complete stream the peer reads as that error."""
    pair = plain_pair(StreamParser)
    if state != "idle":
        pair.to_b(pair.a.open())
    if state in ("negotiating", "ready"):
        pair.to_a(pair.b.data_to_send())
    if state == "ready":
        pair.pump()
    assert pair.a.state.value == state
    data = pair.a.send_stream_error("undefined-condition", text="x")
    if state == "idle":
        assert data.startswith(b"<?xml version='1.0'?><stream:stream")
    events = pair.to_b(data)
    assert [e.error.condition for e in events if type(e) is StreamErrorReceived] == [
        "undefined-condition"
    ]
    assert pair.a.state is SessionState.CLOSING
    answer = pair.b.data_to_send()
    assert answer.endswith(b"</stream:stream>") and answer.count(b"</stream:stream>") == 1


def test_error_after_close_is_refused(StreamParser):
    pair = negotiated(StreamParser)
    pair.a.close()
    with pytest.raises(LocalProtocolError):
        pair.a.send_stream_error("conflict")


@pytest.mark.parametrize(
    ("payload", "condition"),
    [
        (b"<a><b></a>", "not-well-formed"),
        (b"<!-- comment -->", "restricted-xml"),
        (b"<message>&custom;</message>", "restricted-xml"),
        (b"\xff<message/>", "unsupported-encoding"),
        (b"<message>" + b"x" * 5000 + b"</message>", "policy-violation"),
    ],
)
def test_parse_error_becomes_the_stream_error_it_names(StreamParser, payload, condition):
    """The parser's condition is what we send; the stream then ends (nothing more can be parsed)."""
    pair = negotiated(StreamParser, server_options={"limits": Limits(max_stanza_bytes=4096)})
    events = pair.b.receive_data(payload)
    sent = [e for e in events if type(e) is StreamErrorSent]
    assert [e.error.condition for e in sent] == [condition]
    assert events[-1] == CloseTransport(reason="error")
    assert pair.b.state is SessionState.CLOSED
    data = pair.b.data_to_send()
    assert parse_error_bytes(data)[0].tag == f"{{{STREAMS_ERR}}}{condition}"
    assert data.endswith(b"</stream:stream>")
    got = pair.to_a(data)
    assert [e.error.condition for e in got if type(e) is StreamErrorReceived] == [condition]


def test_stanzas_before_a_parse_error_are_delivered(StreamParser):
    """What the same read completed before the fault is not lost."""
    pair = negotiated(StreamParser)
    events = pair.b.receive_data(b"<message id='1'/><a><b></a>")
    assert [type(e) for e in events] == [StanzaReceived, StreamErrorSent, CloseTransport]
    assert events[0].element.id == "1"


def test_garbage_before_the_header(StreamParser):
    """An HTTP request on the XMPP port: header first, then not-well-formed."""
    session = server(StreamParser)
    events = session.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["not-well-formed"]
    data = session.data_to_send()
    assert data.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert b"version='1.0'" in data


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (C2S_HEADER.replace(b"jabber:client", b"jabber:server"), "invalid-namespace"),
        (C2S_HEADER.replace(b"xmlns='jabber:client' ", b""), "invalid-namespace"),
        (C2S_HEADER.replace(b"version='1.0'", b"version='2.0'"), "unsupported-version"),
        (C2S_HEADER.replace(b" version='1.0'", b""), "unsupported-version"),
        (C2S_HEADER.replace(b"example.com", b"nope.test"), "host-unknown"),
        (C2S_HEADER.replace(b" to='example.com'", b""), "improper-addressing"),
        (
            C2S_HEADER.replace(
                b"stream:stream xmlns=", b"stream:stream xmlns:stream='urn:wrong' xmlns="
            ),
            "not-well-formed",
        ),
    ],
)
def test_header_errors(StreamParser, header, condition):
    """RFC 6120 §4.7 and §4.8 rules on the initiator's header, each with its condition."""
    session = server(StreamParser)
    events = session.receive_data(header)
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [condition]
    data = session.data_to_send()
    assert data.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert b"version='1.0'" in data
    assert data.endswith(b"</stream:stream>")
    assert b"<stream:features" not in data


def feed(session, data: bytes, delivery: str) -> list:
    """``data`` into ``session`` in one read, or one byte per read."""
    if delivery == "whole":
        return session.receive_data(data)
    events = []
    for i in range(len(data)):
        events.extend(session.receive_data(data[i : i + 1]))
    return events


def response_header(data: bytes) -> bytes:
    start = data.index(b"<stream:stream")
    return data[start : data.index(b">", start) + 1]


@pytest.mark.parametrize("delivery", ["whole", "bytewise"])
@pytest.mark.parametrize(
    ("header", "condition"),
    [
        (C2S_HEADER.replace(b"example.com", b"nope.test"), "host-unknown"),
        (C2S_HEADER.replace(b" to='example.com'", b""), "improper-addressing"),
    ],
)
def test_error_header_names_our_own_host_not_the_one_asked_for(
    StreamParser, header, condition, delivery
):
    """RFC 6120 §4.9.1.3: 'from' is our authoritative hostname (the first domain served)."""
    session = server(StreamParser, domains=["example.com", "example.org"])
    events = feed(session, header, delivery)
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [condition]
    sent = response_header(session.data_to_send())
    assert b"from='example.com'" in sent
    assert b"nope.test" not in sent


@pytest.mark.parametrize("delivery", ["whole", "bytewise"])
def test_error_header_keeps_a_served_host_asked_for(StreamParser, delivery):
    """A header error for a domain we do serve still answers from that domain."""
    session = server(StreamParser, domains=["example.com", "example.org"])
    header = C2S_HEADER.replace(b"example.com", b"example.org").replace(b"1.0", b"2.0")
    events = feed(session, header, delivery)
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [
        "unsupported-version"
    ]
    assert b"from='example.org'" in response_header(session.data_to_send())


PEER_ERROR = b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"


@pytest.mark.parametrize("delivery", ["whole", "bytewise"])
def test_nothing_is_delivered_after_the_peers_stream_error_in_the_same_read(StreamParser, delivery):
    """RFC 6120 §4.9.1.1: a stream error is unrecoverable; what follows it is not processed."""
    pair = negotiated(StreamParser)
    data = b"<message id='before'/>" + PEER_ERROR + b"<message id='after'/></stream:stream>"
    events = feed(pair.a, data, delivery)
    assert [type(e).__name__ for e in events] == [
        "StanzaReceived",
        "StreamErrorReceived",
        "PeerClosed",
        "CloseTransport",
    ]
    assert events[0].element.id == "before"
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.data_to_send() == b"</stream:stream>"


@pytest.mark.parametrize("delivery", ["whole", "bytewise"])
def test_nothing_is_delivered_after_the_peers_stream_error_in_later_reads(StreamParser, delivery):
    """Stanzas arriving after the error, read by read, are dropped; EOF still ends it."""
    pair = negotiated(StreamParser)
    events = feed(pair.b, PEER_ERROR, delivery)
    assert [type(e).__name__ for e in events] == ["StreamErrorReceived"]
    assert pair.b.state is SessionState.CLOSING
    assert pair.b.data_to_send() == b"</stream:stream>"
    later = feed(pair.b, b"<message id='late'/><presence/> <iq type='get' id='x'/>", delivery)
    assert later == []
    assert pair.b.state is SessionState.CLOSING
    assert pair.b.receive_data(b"") == [CloseTransport(reason="eof")]
    assert pair.b.state is SessionState.CLOSED


@pytest.mark.parametrize("delivery", ["whole", "bytewise"])
def test_nothing_is_delivered_after_a_stream_error_during_negotiation(StreamParser, delivery):
    """The server's error ends negotiation: a stanza after it is neither delivered nor refused."""
    session = client(StreamParser, tls=TLSPolicy.DISABLED)
    session.open()
    header = (
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        b" from='example.com' id='s1' version='1.0'>"
    )
    events = feed(session, header + PEER_ERROR + b"<message id='after'/>", delivery)
    assert [type(e).__name__ for e in events] == ["HeaderReceived", "StreamErrorReceived"]
    events = feed(session, b"<message id='later'/></stream:stream>", delivery)
    assert [type(e).__name__ for e in events] == ["PeerClosed", "CloseTransport"]


def test_version_negotiation_takes_the_lower(StreamParser):
    """1.5 from the initiator gets 1.0 back."""
    session = server(StreamParser)
    session.receive_data(C2S_HEADER.replace(b"version='1.0'", b"version='1.5'"))
    data = session.data_to_send()
    assert b"version='1.0'" in data and b"<stream:features>" in data
    assert session.state is SessionState.NEGOTIATING


def test_stanza_before_authentication_is_not_authorized(StreamParser):
    """RFC 6120 §4.9.3.12: data before authentication, and it is not processed."""
    session = server(StreamParser)
    session.receive_data(C2S_HEADER)
    session.data_to_send()
    events = session.receive_data(b"<message to='a@b'/><message to='c@d'/>")
    assert [type(e) for e in events] == [StreamErrorSent]
    assert events[0].error.condition == "not-authorized"
    assert session.state is SessionState.CLOSING


def test_unknown_element_during_negotiation(StreamParser):
    session = server(StreamParser)
    session.receive_data(C2S_HEADER)
    events = session.receive_data(b"<foo xmlns='urn:example'/>")
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [
        "unsupported-stanza-type"
    ]


def test_text_between_stanzas_is_bad_format(StreamParser):
    pair = negotiated(StreamParser)
    events = pair.b.receive_data(b"hello<message/>")
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["bad-format"]


def test_whitespace_keepalives_are_fine(StreamParser):
    pair = negotiated(StreamParser)
    assert pair.b.receive_data(b" \n ") == []
    assert pair.b.state is SessionState.READY


def test_versionless_header_followed_by_an_error_is_the_error(StreamParser):
    """Prosody's pre-error header has no version: the error it carries is what we report."""
    session = client(StreamParser)
    session.open()
    events = session.receive_data(
        b"<?xml version='1.0'?><stream:stream xml:lang='en' xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' id=''>"
        b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>This server does not serve nope.test"
        b"</text></stream:error></stream:stream>"
    )
    assert next(type(e) for e in events) is HeaderReceived
    error = next(e for e in events if type(e) is StreamErrorReceived).error
    assert error.condition == "host-unknown"
    assert error.text == "This server does not serve nope.test"
    assert not [e for e in events if type(e) is StreamErrorSent]
    assert session.state is SessionState.CLOSED
    assert session.data_to_send() == b"</stream:stream>"


def test_versionless_header_followed_by_features_is_unsupported_version(StreamParser):
    session = client(StreamParser)
    session.open()
    events = session.receive_data(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        b"id='x'><stream:features/>"
    )
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [
        "unsupported-version"
    ]


def test_s2s_error_paths(StreamParser):
    """S2S headers need both addresses, a domain as 'from', and jabber:server."""
    base = (
        b"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"
        b" to='example.com' from='example.net' version='1.0'>"
    )
    cases = {
        base.replace(b" from='example.net'", b""): "improper-addressing",
        base.replace(b"example.net", b"user@example.net"): "invalid-from",
        base.replace(b"jabber:server", b"jabber:client"): "invalid-namespace",
    }
    for header, condition in cases.items():
        session = server(StreamParser, kind=StreamKind.S2S, authenticator=None)
        events = session.receive_data(header)
        assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [condition]
    session = server(StreamParser, kind=StreamKind.S2S, authenticator=None)
    session.receive_data(base)
    data = session.data_to_send()
    assert b"to='example.net'" in data and b"from='example.com'" in data
    assert session.peer == "example.net"


def test_restart_with_another_to_is_not_authorized(StreamParser):
    """After TLS the 'to' must stay the same (Prosody: not-authorized)."""
    pair = Pair(client(StreamParser), server(StreamParser, domains=["example.com", "example.org"]))
    pair.to_b(pair.a.open())
    pair.to_a(pair.b.data_to_send())
    pair.to_b(pair.a.data_to_send())  # <starttls/>
    pair.to_a(pair.b.data_to_send())  # <proceed/>
    pair.b.tls_started()
    pair.a.tls_started()
    events = pair.b.receive_data(C2S_HEADER.replace(b"example.com", b"example.org"))
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["not-authorized"]


def test_peer_error_while_we_are_closing(StreamParser):
    """An error answering our close is reported; we don't write a second closing tag."""
    pair = negotiated(StreamParser)
    pair.a.close()
    events = pair.a.receive_data(
        b"<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
        b"</stream:error></stream:stream>"
    )
    assert [type(e).__name__ for e in events] == [
        "StreamErrorReceived",
        "PeerClosed",
        "CloseTransport",
    ]
    assert pair.a.data_to_send() == b""


def test_garbage_while_we_are_closing_ends_without_writing(StreamParser):
    """Our closing tag is out: a parse error can't be answered, the stream just ends."""
    pair = negotiated(StreamParser)
    pair.a.close()
    events = pair.a.receive_data(b"<message/><a><b></a>")
    assert [type(e) for e in events] == [StanzaReceived, CloseTransport]
    assert events[-1].reason == "error"
    assert pair.a.data_to_send() == b""
    assert pair.a.state is SessionState.CLOSED


def test_response_header_takes_the_initiators_language(StreamParser):
    session = server(StreamParser)
    session.receive_data(C2S_HEADER.replace(b"version=", b"xml:lang='fr' version="))
    assert b"xml:lang='fr'" in session.data_to_send()
    session = server(StreamParser, lang="de")
    session.receive_data(C2S_HEADER)
    assert b"xml:lang='de'" in session.data_to_send()


def test_our_error_stops_processing_what_follows(StreamParser):
    """After our error the peer's stanzas are not delivered; its closing tag still counts."""
    pair = negotiated(StreamParser)
    pair.b.send_stream_error("policy-violation")
    events = pair.b.receive_data(b"<message id='late'/></stream:stream>")
    assert [type(e).__name__ for e in events] == ["PeerClosed", "CloseTransport"]
