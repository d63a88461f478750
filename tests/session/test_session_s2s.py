"""Server-to-server streams: header addressing both ways, STARTTLS, then stanzas."""

from __future__ import annotations

from session_pair import Pair
from xmppwire.session import (
    HeaderReceived,
    Role,
    SessionState,
    StanzaReceived,
    StreamErrorSent,
    StreamKind,
    StreamReady,
    StreamSession,
    TLSPolicy,
)

S2S = StreamKind.S2S


def pair(parser, **receiver):
    return Pair(
        StreamSession(
            Role.INITIATOR, S2S, jid="example.net", peer="example.com", parser_factory=parser
        ),
        StreamSession(
            Role.RECEIVER, S2S, domains=["example.com"], parser_factory=parser, **receiver
        ),
    )


def test_s2s_headers_and_tls(StreamParser):
    p = pair(StreamParser).start()
    assert p.a.state is p.b.state is SessionState.READY
    assert p.a.tls_active and p.b.tls_active
    sent = [data for d, data in p.wire if d == "a>b" and b"<stream:stream" in data]
    # The initiating server names itself from the start (RFC 6120 §4.7.1).
    assert all(b"xmlns='jabber:server'" in h and b"from='example.net'" in h for h in sent)
    assert all(b"to='example.com'" in h for h in sent)
    answers = [e.header for e in p.of(HeaderReceived, "a")]
    assert {(h.from_, h.to, h.version) for h in answers} == {("example.com", "example.net", (1, 0))}
    assert p.of(StreamReady, "b") == [StreamReady(jid="example.com", peer="example.net")]
    assert p.of(StreamReady, "a") == [StreamReady(jid="example.net", peer="example.com")]
    stanza = b"<message from='a@example.net' to='b@example.com'><body>hi</body></message>"
    events = p.to_b(p.a.send(stanza))
    assert [type(e) for e in events] == [StanzaReceived]
    assert events[0].element.namespace == "jabber:server"
    assert events[0].is_stanza


def test_s2s_without_tls_when_both_allow(StreamParser):
    p = Pair(
        StreamSession(
            Role.INITIATOR,
            S2S,
            jid="example.net",
            peer="example.com",
            tls=TLSPolicy.OPTIONAL,
            parser_factory=StreamParser,
        ),
        StreamSession(
            Role.RECEIVER,
            S2S,
            domains=["example.com"],
            tls=TLSPolicy.DISABLED,
            parser_factory=StreamParser,
        ),
    ).start()
    assert p.a.state is p.b.state is SessionState.READY
    assert not p.a.tls_active


def test_s2s_unknown_domain(StreamParser):
    p = Pair(
        StreamSession(
            Role.INITIATOR, S2S, jid="example.net", peer="example.org", parser_factory=StreamParser
        ),
        StreamSession(Role.RECEIVER, S2S, domains=["example.com"], parser_factory=StreamParser),
    ).start()
    assert [e.error.condition for e in p.of(StreamErrorSent, "b")] == ["host-unknown"]
    assert p.a.state is p.b.state is SessionState.CLOSED
