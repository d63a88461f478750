"""Client-to-server negotiation in memory: STARTTLS, SASL (PLAIN, SCRAM-SHA-1/256), binding."""

from __future__ import annotations

import base64

import pytest

from session_pair import USERS, Pair, client, negotiated, plain_pair, server
from xmppwire import LocalProtocolError
from xmppwire.session import (
    Authenticated,
    AuthenticationFailed,
    BindingFailed,
    CloseTransport,
    FeaturesReceived,
    HeaderReceived,
    PasswordTable,
    PeerClosed,
    ResourceConflict,
    SessionState,
    StanzaReceived,
    StartTLS,
    StreamErrorReceived,
    StreamErrorSent,
    StreamReady,
    TLSFailed,
    TLSPolicy,
)

SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
TLS = "urn:ietf:params:xml:ns:xmpp-tls"
C2S_HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" from='example.com' id='s1' version='1.0'>"
)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_full_negotiation(StreamParser, mechanism):
    """STARTTLS, SASL with each mechanism, restart, bind, a stanza each way, clean close."""
    pair = Pair(client(StreamParser, mechanisms=[mechanism]), server(StreamParser)).start()
    assert pair.a.state is SessionState.READY
    assert pair.b.state is SessionState.READY
    assert pair.a.tls_active and pair.b.tls_active
    # Three headers each way: plain, after TLS, after SASL.
    assert len(pair.of(HeaderReceived, "a")) == 3
    assert len(pair.of(HeaderReceived, "b")) == 3
    assert pair.of(Authenticated, "a") == [Authenticated(mechanism=mechanism, username="juliet")]
    assert pair.of(Authenticated, "b") == [Authenticated(mechanism=mechanism, username="juliet")]
    assert pair.of(StreamReady, "a") == [
        StreamReady(jid="juliet@example.com/balcony", peer="example.com")
    ]
    assert pair.of(StreamReady, "b") == [
        StreamReady(jid="example.com", peer="juliet@example.com/balcony")
    ]
    assert pair.a.jid == "juliet@example.com/balcony"
    assert pair.b.peer == "juliet@example.com/balcony"
    features = [e.features for e in pair.of(FeaturesReceived, "a")]
    assert [f.starttls_required for f in features] == [True, False, False]
    assert features[1].mechanisms == ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")
    assert features[2].bind
    # The client names itself only once TLS is up.
    headers = [
        data for direction, data in pair.wire if direction == "a>b" and b"<stream:stream" in data
    ]
    assert b"from=" not in headers[0]
    assert b"from='juliet@example.com'" in headers[1]
    # Each stream id is fresh.
    ids = [e.header.id for e in pair.of(HeaderReceived, "a")]
    assert len(set(ids)) == 3 and all(len(i) >= 16 for i in ids)

    events = pair.to_b(pair.a.send(b"<message to='romeo@example.net'><body>hi</body></message>"))
    assert [type(e) for e in events] == [StanzaReceived]
    assert events[0].element.to == "romeo@example.net"
    assert events[0].is_stanza
    events = pair.to_a(pair.b.send(b"<presence from='romeo@example.net/orchard'/>"))
    assert events[0].element.from_ == "romeo@example.net/orchard"
    pair.to_b(pair.a.close())
    pair.pump()
    assert pair.a.state is pair.b.state is SessionState.CLOSED


def test_channel_binding_uses_plus(StreamParser):
    """With channel binding data from TLS on both sides, SCRAM-SHA-256-PLUS is offered and used."""
    pair = Pair(
        client(StreamParser),
        server(StreamParser),
        channel_binding=("tls-server-end-point", b"k" * 32),
    )
    pair.start()
    assert pair.of(Authenticated, "b")[0].mechanism == "SCRAM-SHA-256-PLUS"
    assert pair.a.state is SessionState.READY
    mechs = [e.features.mechanisms for e in pair.of(FeaturesReceived, "a")][1]
    assert mechs[:2] == ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-256")


def test_channel_binding_mismatch_fails(StreamParser):
    """Different channel binding data on each side (a man in the middle): not-authorized."""
    pair = Pair(client(StreamParser), server(StreamParser))
    pair.to_b(pair.a.open())
    pair.to_a(pair.b.data_to_send())
    pair.to_b(pair.a.data_to_send())
    pair.to_a(pair.b.data_to_send())
    pair.b.tls_started(channel_binding=("tls-server-end-point", b"server-side"))
    pair.to_b(pair.a.tls_started(channel_binding=("tls-server-end-point", b"client-side")))
    pair.pump()
    assert [e.condition for e in pair.of(AuthenticationFailed, "b")] == ["not-authorized"]
    assert pair.a.authenticated is None


def test_unsupported_channel_binding_type_is_refused(StreamParser):
    """scramp has no tls-exporter: refused when given, not when SASL runs."""
    with pytest.raises(LocalProtocolError):
        client(StreamParser, tls_active=True, channel_binding=("tls-exporter", b"x"))
    session = client(StreamParser, tls_active=True, channel_binding=("tls-unique", b"x"))
    assert session.open().startswith(b"<?xml")


def test_scram_prefers_the_strongest(StreamParser):
    pair = Pair(client(StreamParser), server(StreamParser)).start()
    assert pair.of(Authenticated, "b")[0].mechanism == "SCRAM-SHA-256"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_wrong_password(StreamParser, mechanism):
    """not-authorized on both sides; the client stays in negotiation and closes cleanly."""
    pair = Pair(
        client(StreamParser, mechanisms=[mechanism], password="wrong"), server(StreamParser)
    ).start()
    assert [e.condition for e in pair.of(AuthenticationFailed, "a")] == ["not-authorized"]
    assert [e.condition for e in pair.of(AuthenticationFailed, "b")] == ["not-authorized"]
    assert pair.a.state is SessionState.NEGOTIATING
    assert pair.a.authenticated is None and pair.b.authenticated is None
    with pytest.raises(LocalProtocolError):
        pair.a.send(b"<message/>")
    pair.to_b(pair.a.close())
    pair.pump()
    assert pair.a.state is pair.b.state is SessionState.CLOSED


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_unknown_user_fails_like_a_wrong_password(StreamParser, mechanism):
    pair = Pair(
        client(StreamParser, jid="nobody@example.com", mechanisms=[mechanism]), server(StreamParser)
    ).start()
    assert [e.condition for e in pair.of(AuthenticationFailed, "a")] == ["not-authorized"]


def test_server_with_a_wrong_scram_signature_is_refused(StreamParser):
    """A server that doesn't know the password can't fake success: the client errors out."""
    pair = Pair(client(StreamParser, mechanisms=["SCRAM-SHA-1"]), server(StreamParser))
    pair.to_b(pair.a.open())
    pair.until_a_sends(b"<response")
    fake = base64.b64encode(b"v=" + base64.b64encode(b"\0" * 20)).decode()
    events = pair.a.receive_data(f"<success xmlns='{SASL}'>{fake}</success>".encode())
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["not-authorized"]
    assert pair.a.authenticated is None


def test_tls_refused_by_a_server_without_tls(StreamParser):
    """We require TLS, the server offers none: policy-violation from us."""
    pair = Pair(client(StreamParser), server(StreamParser, tls=TLSPolicy.DISABLED)).start()
    sent = pair.of(StreamErrorSent, "a")
    assert [e.error.condition for e in sent] == ["policy-violation"]
    assert [e.error.condition for e in pair.of(StreamErrorReceived, "b")] == ["policy-violation"]
    assert pair.a.state is pair.b.state is SessionState.CLOSED
    assert pair.a.authenticated is None


def test_tls_required_by_the_server_but_disabled_here(StreamParser):
    """A mandatory-to-negotiate feature we can't do: unsupported-feature."""
    pair = Pair(client(StreamParser, tls=TLSPolicy.DISABLED), server(StreamParser)).start()
    assert [e.error.condition for e in pair.of(StreamErrorSent, "a")] == ["unsupported-feature"]


def test_starttls_answered_with_failure(StreamParser):
    """<failure/> to our <starttls/>: reported, then the server's close is answered."""
    session = client(StreamParser)
    session.open()
    features = f"<stream:features><starttls xmlns='{TLS}'/></stream:features>".encode()
    session.receive_data(C2S_HEADER + features)
    assert session.data_to_send() == f"<starttls xmlns='{TLS}'/>".encode()
    events = session.receive_data(f"<failure xmlns='{TLS}'/></stream:stream>".encode())
    assert [type(e) for e in events] == [TLSFailed, PeerClosed, CloseTransport]
    assert session.data_to_send() == b"</stream:stream>"
    assert not session.tls_active


def test_server_refuses_starttls_it_does_not_offer(StreamParser):
    """RFC 6120 §5.4.2.2: <failure/>, then the closing tag."""
    session = server(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True)
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    session.data_to_send()
    events = session.receive_data(f"<starttls xmlns='{TLS}'/>".encode())
    assert events == []
    assert session.data_to_send() == f"<failure xmlns='{TLS}'/></stream:stream>".encode()
    assert session.state is SessionState.CLOSING


def test_plain_refused_without_tls(StreamParser):
    """PLAIN isn't offered in the clear, and an <auth> for it gets encryption-required."""
    session = server(StreamParser, tls=TLSPolicy.DISABLED)
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    offered = session.data_to_send()
    assert b"<mechanism>PLAIN</mechanism>" not in offered
    assert b"<mechanism>SCRAM-SHA-1</mechanism>" in offered
    plain = base64.b64encode(b"\0juliet\0r0m30").decode()
    events = session.receive_data(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain}</auth>".encode())
    assert [e.condition for e in events if type(e) is AuthenticationFailed] == [
        "encryption-required"
    ]
    assert b"<encryption-required/>" in session.data_to_send()
    assert session.authenticated is None


def test_client_does_not_send_plain_in_the_clear(StreamParser):
    pair = Pair(
        client(StreamParser, tls=TLSPolicy.DISABLED, mechanisms=["PLAIN"]),
        server(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True),
    ).start()
    assert [e.error.condition for e in pair.of(StreamErrorSent, "a")] == ["policy-violation"]
    assert not any(b"<auth" in data for _, data in pair.wire)


def test_plain_without_tls_when_both_allow_it(StreamParser):
    pair = plain_pair(StreamParser, mechanisms=["PLAIN"]).start()
    assert pair.a.state is SessionState.READY
    assert not pair.a.tls_active
    auth = next(data for _, data in pair.wire if data.startswith(b"<auth"))
    assert (
        auth
        == (
            f"<auth xmlns='{SASL}' mechanism='PLAIN'>"
            + base64.b64encode(b"\0juliet\0r0m30").decode()
            + "</auth>"
        ).encode()
    )


def test_sasl_server_failures(StreamParser):
    """invalid-mechanism, incorrect-encoding, malformed-request, aborted; the stream stays up."""
    session = server(
        StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True, max_auth_failures=9
    )
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    session.data_to_send()
    cases = [
        (f"<auth xmlns='{SASL}' mechanism='DIGEST-MD5'/>", "invalid-mechanism"),
        (f"<auth xmlns='{SASL}' mechanism='PLAIN'>not base64!</auth>", "incorrect-encoding"),
        (
            f"<auth xmlns='{SASL}' mechanism='PLAIN'>{base64.b64encode(b'juliet').decode()}</auth>",
            "malformed-request",
        ),
        (f"<response xmlns='{SASL}'>=</response>", "malformed-request"),
        (f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-1'/><abort xmlns='{SASL}'/>", "aborted"),
    ]
    for data, condition in cases:
        events = session.receive_data(data.encode())
        assert [e.condition for e in events if type(e) is AuthenticationFailed] == [condition]
        assert f"<{condition}/>".encode() in session.data_to_send()
    assert session.state is SessionState.NEGOTIATING


def test_too_many_failures_end_the_stream(StreamParser):
    session = server(
        StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True, max_auth_failures=2
    )
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    bad = f"<auth xmlns='{SASL}' mechanism='X'/>".encode()
    session.receive_data(bad)
    events = session.receive_data(bad)
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["policy-violation"]


def test_empty_initial_response_gets_an_empty_challenge(StreamParser):
    """RFC 6120 §6.4.2: no initial response, the server sends an empty challenge."""
    session = server(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True)
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    session.data_to_send()
    session.receive_data(f"<auth xmlns='{SASL}' mechanism='PLAIN'/>".encode())
    assert session.data_to_send() == f"<challenge xmlns='{SASL}'>=</challenge>".encode()
    plain = base64.b64encode(b"\0juliet\0r0m30").decode()
    events = session.receive_data(f"<response xmlns='{SASL}'>{plain}</response>".encode())
    assert [type(e) for e in events] == [Authenticated]


def test_bytes_after_proceed_are_handed_to_tls(StreamParser):
    """Whatever follows <proceed/> in the same read is TLS, never parsed as XML."""
    session = client(StreamParser)
    session.open()
    features = f"<stream:features><starttls xmlns='{TLS}'><required/></starttls></stream:features>"
    session.receive_data(C2S_HEADER + features.encode())
    session.data_to_send()
    hello = b"\x16\x03\x03\x00\x2a\x02\x00\x00\x26<message/>"
    events = session.receive_data(f"<proceed xmlns='{TLS}'/>".encode() + hello)
    assert events == [StartTLS(pending=hello)]
    assert session.state is SessionState.STARTING_TLS
    with pytest.raises(LocalProtocolError):
        session.receive_data(b"<message/>")
    with pytest.raises(LocalProtocolError):
        session.send(b"<message/>")
    header = session.tls_started()
    assert header.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert session.state is SessionState.OPENING


def test_server_hands_over_the_client_hello(StreamParser):
    """The receiving side too: bytes after <starttls/> belong to TLS."""
    session = server(StreamParser)
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    session.data_to_send()
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    events = session.receive_data(f"<starttls xmlns='{TLS}'/>".encode() + hello)
    assert events == [StartTLS(pending=hello)]
    assert session.data_to_send() == f"<proceed xmlns='{TLS}'/>".encode()
    assert session.tls_started() == b""
    events = session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    assert b"<mechanism>PLAIN</mechanism>" in session.data_to_send()


def test_bytes_after_sasl_success_start_the_new_stream(StreamParser):
    """The new stream's header and features, in the same read as <success/>, are parsed as such."""
    session = client(
        StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True, mechanisms=["PLAIN"]
    )
    session.open()
    mechs = f"<mechanisms xmlns='{SASL}'><mechanism>PLAIN</mechanism></mechanisms>"
    session.receive_data(C2S_HEADER + f"<stream:features>{mechs}</stream:features>".encode())
    assert session.data_to_send().startswith(b"<auth")
    bind = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
    events = session.receive_data(
        f"<success xmlns='{SASL}'/>".encode()
        + C2S_HEADER.replace(b"s1", b"s2")
        + f"<stream:features>{bind}</stream:features>".encode()
    )
    assert [type(e) for e in events] == [Authenticated, HeaderReceived, FeaturesReceived]
    assert events[1].header.id == "s2"
    sent = session.data_to_send()
    assert sent.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert b"<resource>balcony</resource>" in sent


def test_server_overrides_the_resource(StreamParser):
    pair = Pair(
        client(StreamParser),
        server(StreamParser, binder=lambda bare, wanted: "assigned-by-server"),
    ).start()
    assert pair.a.jid == "juliet@example.com/assigned-by-server"
    assert pair.b.peer == "juliet@example.com/assigned-by-server"


def test_server_chooses_a_resource_when_none_is_asked(StreamParser):
    pair = Pair(client(StreamParser, jid="juliet@example.com"), server(StreamParser)).start()
    local, _, resource = pair.a.jid.partition("/")
    assert local == "juliet@example.com" and len(resource) >= 8
    assert b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" in b"".join(
        data for _, data in pair.wire
    )


def test_resource_conflict(StreamParser):
    def refuse(bare, wanted):
        raise ResourceConflict

    pair = Pair(client(StreamParser), server(StreamParser, binder=refuse)).start()
    assert pair.of(BindingFailed, "a") == [BindingFailed(condition="conflict")]
    assert pair.of(BindingFailed, "b") == [BindingFailed(condition="conflict")]
    assert pair.a.state is SessionState.NEGOTIATING
    assert pair.b.state is SessionState.NEGOTIATING


def test_stanza_after_auth_before_bind_is_not_authorized(StreamParser):
    pair = plain_pair(StreamParser, mechanisms=["PLAIN"])
    pair.to_b(pair.a.open())
    pair.until_a_sends(b"xmpp-bind")
    events = pair.b.receive_data(b"<message to='romeo@example.net'/>")
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == ["not-authorized"]


def test_password_table_scram_credentials_are_cached():
    table = PasswordTable(USERS)
    first = table.scram_credentials("SCRAM-SHA-1", "juliet")
    assert first is table.scram_credentials("SCRAM-SHA-1", "juliet")
    assert table.scram_credentials("SCRAM-SHA-1", "nobody") is None
    assert table.check_plain("juliet", "r0m30", "")
    assert not table.check_plain("juliet", "r0m30", "romeo")


def test_send_serializes_elements_and_checks_characters(StreamParser):
    import xml.etree.ElementTree as ET

    pair = negotiated(StreamParser)
    message = ET.Element("{jabber:client}message", {"to": "romeo@example.net"})
    ET.SubElement(message, "{jabber:client}body").text = "a < b & 'c'"
    ET.SubElement(message, "{urn:xmpp:receipts}request")
    data = pair.a.send(message)
    assert data == (
        b"<message to='romeo@example.net'><body>a &lt; b &amp; 'c'</body>"
        b"<request xmlns='urn:xmpp:receipts'/></message>"
    )
    events = pair.to_b(data)
    assert events[0].element.element().findtext("{jabber:client}body") == "a < b & 'c'"
    with pytest.raises(LocalProtocolError):
        pair.a.send("<message><body>\x1a</body></message>")
    with pytest.raises(LocalProtocolError):
        pair.a.send(b"<message>\xff</message>")
    bad = ET.Element("{jabber:client}message")
    bad.text = "\ud800"
    with pytest.raises(LocalProtocolError):
        pair.a.send(bad)


def test_invalid_resource_is_bad_request(StreamParser):
    """A resource PRECIS refuses (a control character) gets bad-request; the client may retry."""
    pair = Pair(client(StreamParser, jid="juliet@example.com"), server(StreamParser))
    pair.to_b(pair.a.open())
    request = pair.until_a_sends(b"xmpp-bind")
    request = request.replace(
        b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>",
        (
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>\u0085x</resource></bind>"
        ).encode(),
    )
    events = pair.to_b(request)
    assert [e.condition for e in events if type(e) is BindingFailed] == ["bad-request"]
    reply = pair.b.data_to_send()
    assert b"<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in reply
    assert b"type='modify'" in reply
    assert [e.condition for e in pair.to_a(reply) if type(e) is BindingFailed] == ["bad-request"]
    assert pair.b.state is SessionState.NEGOTIATING


def test_username_that_is_not_a_localpart_is_not_bound(StreamParser):
    """An authenticator accepting 'evil@example.org/x' must not bind that address here."""
    pair = Pair(
        client(StreamParser, jid="juliet@example.com", mechanisms=["PLAIN"]),
        server(StreamParser, authenticator=PasswordTable({"evil@example.org/x": "r0m30"})),
    )
    pair.to_b(pair.a.open())
    auth = pair.until_a_sends(b"<auth")
    forged = base64.b64encode(b"\0evil@example.org/x\0r0m30").decode()
    auth = auth.replace(base64.b64encode(b"\0juliet\0r0m30"), forged.encode())
    pair.to_b(auth)
    assert pair.b.authenticated == "evil@example.org/x"
    pair.pump()
    assert [e.condition for e in pair.of(BindingFailed, "b")] == ["not-allowed"]
    assert pair.b.state is SessionState.NEGOTIATING
    assert pair.b.peer is None


def test_binder_returning_garbage_is_our_error(StreamParser):
    pair = Pair(client(StreamParser), server(StreamParser, binder=lambda bare, wanted: "\x85"))
    with pytest.raises(LocalProtocolError):
        pair.start()


def test_server_parses_a_header_pipelined_after_auth(StreamParser):
    """A client that sends its new header right behind <auth> (XEP-0305) is understood."""
    session = server(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True)
    header = C2S_HEADER.replace(b"from=", b"to=")
    session.receive_data(header)
    session.data_to_send()
    plain = base64.b64encode(b"\0juliet\0r0m30").decode()
    events = session.receive_data(
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain}</auth>".encode() + header
    )
    assert [type(e) for e in events] == [Authenticated, HeaderReceived]
    out = session.data_to_send()
    assert out.startswith(f"<success xmlns='{SASL}'/>".encode())
    assert b"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" in out


def test_server_keeps_parsing_after_a_failed_auth_in_the_same_read(StreamParser):
    """A failed <auth> and a second one in one read: both answered, on the same stream."""
    session = server(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True)
    session.receive_data(C2S_HEADER.replace(b"from=", b"to="))
    session.data_to_send()
    wrong = base64.b64encode(b"\0juliet\0nope").decode()
    right = base64.b64encode(b"\0juliet\0r0m30").decode()
    events = session.receive_data(
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>{wrong}</auth>".encode()
        + f"<auth xmlns='{SASL}' mechanism='PLAIN'>{right}</auth>".encode()
    )
    assert [type(e) for e in events] == [AuthenticationFailed, Authenticated]
    assert session.authenticated == "juliet"
