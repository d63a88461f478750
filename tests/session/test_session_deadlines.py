"""The deadlines a session holds: which one, and what passing it does.

No clock here: the test reports a deadline as passed, the way the adapter's
timer does (tests/test_aio_exposed.py runs the same on real sockets).
"""

from __future__ import annotations

import pytest

from session_pair import Pair, client, server
from xmppwire.session import (
    CloseTransport,
    Deadline,
    PeerClosed,
    SessionState,
    StanzaReceived,
    StreamErrorSent,
    Timeouts,
    TLSPolicy,
)

C2S_HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
)


def ready_pair(StreamParser: type, **timeouts: object) -> Pair:
    pair = Pair(
        client(StreamParser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True),
        server(
            StreamParser,
            tls=TLSPolicy.DISABLED,
            allow_plain_without_tls=True,
            timeouts=Timeouts(**timeouts),  # type: ignore[arg-type]
        ),
    ).start()
    assert pair.b.state is SessionState.READY
    return pair


def test_a_receiver_holds_the_negotiation_deadline_from_the_start(StreamParser):
    session = server(StreamParser, timeouts=Timeouts(negotiation=7.5))
    deadline = session.deadline
    assert deadline is not None
    assert (deadline.kind, deadline.seconds) == ("negotiation", 7.5)
    # The peer's bytes don't move it: it runs from the connection to the bound resource.
    session.receive_data(C2S_HEADER[:40])
    assert session.deadline == deadline


def test_missing_the_negotiation_deadline_is_connection_timeout(StreamParser):
    session = server(StreamParser, timeouts=Timeouts(negotiation=1))
    session.receive_data(C2S_HEADER)
    session.data_to_send()
    session.receive_data(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mech")
    events = session.deadline_passed(session.deadline)
    assert [type(e) for e in events] == [StreamErrorSent]
    assert events[0].error.condition == "connection-timeout"
    out = session.data_to_send()
    assert b"<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in out
    assert out.endswith(b"</stream:stream>")
    # Then the polite close: the close timeout is the deadline now.
    assert session.state is SessionState.CLOSING
    assert session.deadline.kind == "close"


def test_a_half_header_gets_a_header_of_ours_with_the_error(StreamParser):
    session = server(StreamParser, timeouts=Timeouts(negotiation=1))
    session.receive_data(C2S_HEADER[:50])
    session.deadline_passed(session.deadline)
    out = session.data_to_send()
    assert out.startswith(b"<?xml") and b"<stream:stream" in out
    assert b"connection-timeout" in out


def test_a_ready_stream_drops_the_negotiation_deadline(StreamParser):
    pair = ready_pair(StreamParser, negotiation=1)
    assert pair.b.deadline is None
    # A stale report of it changes nothing.
    assert pair.b.deadline_passed(Deadline(kind="negotiation", seconds=1, serial=1)) == []


def test_no_negotiation_deadline_when_switched_off(StreamParser):
    assert server(StreamParser, timeouts=Timeouts(negotiation=None)).deadline is None


def test_idle_stream_keepalive_then_close_without_error(StreamParser):
    pair = ready_pair(StreamParser, idle=30, keepalive=10)
    idle = pair.b.deadline
    assert (idle.kind, idle.seconds) == ("idle", 30)
    assert pair.b.deadline_passed(idle) == []
    assert pair.b.data_to_send() == b" "
    keepalive = pair.b.deadline
    assert (keepalive.kind, keepalive.seconds) == ("keepalive", 10)
    assert pair.b.deadline_passed(keepalive) == []
    out = pair.b.data_to_send()
    assert out == b"</stream:stream>"  # no stream error
    assert pair.b.state is SessionState.CLOSING
    # A stanza the client sends before it sees our closing tag is still delivered.
    events = pair.to_b(pair.a.send(b"<message to='romeo@example.com'><body>late</body></message>"))
    assert [type(e) for e in events] == [StanzaReceived]
    pair.to_a(out)
    events = pair.to_b(pair.a.data_to_send())
    assert [type(e) for e in events] == [PeerClosed, CloseTransport]
    assert events[1].reason == "closed"


def test_a_peer_that_spoke_is_not_idle(StreamParser):
    pair = ready_pair(StreamParser, idle=30)
    idle = pair.b.deadline
    pair.to_b(pair.a.send(b"<presence/>"))
    # The timer is not moved on each read: passing it re-arms it.
    assert pair.b.deadline == idle
    assert pair.b.deadline_passed(idle) == []
    assert pair.b.data_to_send() == b""
    again = pair.b.deadline
    assert again.kind == "idle" and again != idle
    # An answer to the keepalive (a space will do) keeps the stream open.
    pair.b.deadline_passed(again)
    assert pair.b.data_to_send() == b" "
    pair.to_b(b" ")
    pair.b.deadline_passed(pair.b.deadline)
    assert pair.b.state is SessionState.READY
    assert pair.b.deadline.kind == "idle"


def test_ping_keepalive(StreamParser):
    pair = ready_pair(StreamParser, idle=30, keepalive_ping=True)
    pair.b.deadline_passed(pair.b.deadline)
    ping = pair.b.data_to_send()
    assert ping.startswith(b"<iq type='get' id='keepalive-")
    assert b"from='example.com' to='juliet@example.com/balcony'" in ping
    assert ping.endswith(b"<ping xmlns='urn:xmpp:ping'/></iq>")
    events = pair.to_a(ping)
    assert [type(e) for e in events] == [StanzaReceived]


@pytest.mark.parametrize("value", [0, -1.0])
def test_timeouts_must_be_positive(value):
    with pytest.raises(ValueError):
        Timeouts(negotiation=value)
