"""The close handshake: RFC 6120 §4.4 and XEP-0190, both orders, timeouts, late stanzas."""

from __future__ import annotations

import pytest

from session_pair import Pair, client, negotiated, server
from xmppwire import LocalProtocolError
from xmppwire.session import (
    CloseTransport,
    PeerClosed,
    SessionState,
    StanzaReceived,
    StreamErrorReceived,
)

MESSAGE = b"<message to='romeo@example.net'><body>still here</body></message>"


def test_we_close_first_and_the_peer_answers(StreamParser):
    """Our closing tag, theirs in answer, then both sides are told to close the transport."""
    pair = negotiated(StreamParser)
    assert pair.a.close() == b"</stream:stream>"
    assert pair.a.state is SessionState.CLOSING
    assert pair.a.close_sent
    events = pair.to_b(b"</stream:stream>")
    assert [type(e) for e in events] == [PeerClosed, CloseTransport]
    assert pair.b.state is SessionState.CLOSED
    assert pair.b.data_to_send() == b"</stream:stream>"
    events = pair.to_a(b"</stream:stream>")
    assert [type(e) for e in events] == [PeerClosed, CloseTransport]
    assert events[-1].reason == "closed"
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.data_to_send() == b""
    assert pair.a.deadline is None


def test_peer_closes_first_and_we_answer_after_what_is_queued(StreamParser):
    """The peer's close is answered with ours, after the reply already queued for it."""
    # The client's bind request and its closing tag arrive in one read.
    pair2 = Pair(client(StreamParser), server(StreamParser))
    pair2.to_b(pair2.a.open())
    data = pair2.until_a_sends(b"urn:ietf:params:xml:ns:xmpp-bind")
    events = pair2.b.receive_data(data + b"</stream:stream>")
    assert [type(e) for e in events][-2:] == [PeerClosed, CloseTransport]
    reply = pair2.b.data_to_send()
    assert reply.startswith(b"<iq type='result'")
    assert reply.endswith(b"</bind></iq></stream:stream>")


def test_peer_close_answered_with_stanzas_queued_by_the_application(StreamParser):
    """A stanza queued by send() before the peer's close goes out before our closing tag."""
    pair = negotiated(StreamParser)
    pair.a.close()
    events = pair.b.receive_data(b"</stream:stream>")
    assert PeerClosed() in events
    assert pair.b.data_to_send() == b"</stream:stream>"
    with pytest.raises(LocalProtocolError):
        pair.b.send(MESSAGE)


def test_stanzas_after_our_close_are_delivered(StreamParser):
    """Everything the peer sends between our closing tag and its own reaches us."""
    pair = negotiated(StreamParser)
    pair.to_b(pair.a.close())
    events = pair.a.receive_data(MESSAGE + MESSAGE + b"</stream:stream>")
    assert [type(e) for e in events] == [StanzaReceived, StanzaReceived, PeerClosed, CloseTransport]
    assert events[0].element.raw == MESSAGE


def test_no_write_after_our_close(StreamParser):
    """After our closing tag, every attempt to write raises LocalProtocolError."""
    pair = negotiated(StreamParser)
    pair.a.close()
    for attempt in (
        lambda: pair.a.send(MESSAGE),
        pair.a.close,
        lambda: pair.a.send_stream_error("conflict"),
        pair.a.tls_started,
        pair.a.open,
    ):
        with pytest.raises(LocalProtocolError):
            attempt()
    assert pair.a.data_to_send() == b""
    assert pair.a.state is SessionState.CLOSING


def test_simultaneous_close(StreamParser):
    """Both close at once: each closing tag answers the other, nobody writes twice."""
    pair = negotiated(StreamParser)
    a_close = pair.a.close()
    b_close = pair.b.close()
    a_events = pair.a.receive_data(b_close)
    b_events = pair.b.receive_data(a_close)
    for events, session in ((a_events, pair.a), (b_events, pair.b)):
        assert [type(e) for e in events] == [PeerClosed, CloseTransport]
        assert session.state is SessionState.CLOSED
        assert session.data_to_send() == b""


def test_close_timeout_ends_without_error(StreamParser):
    """No answer to our close: the deadline passes, the stream ends, no error condition is sent."""
    pair = negotiated(StreamParser)
    pair.a.close()
    deadline = pair.a.deadline
    assert deadline is not None and deadline.kind == "close" and deadline.seconds == 5.0
    events = pair.a.deadline_passed(deadline)
    assert events == [CloseTransport(reason="timeout")]
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.data_to_send() == b""
    assert pair.a.deadline_passed(deadline) == []


def test_close_timeout_is_configurable_and_stale_deadlines_are_ignored(StreamParser):
    """A deadline the session no longer holds does nothing."""
    pair = negotiated(StreamParser, close_timeout=0.5)
    pair.a.close()
    deadline = pair.a.deadline
    assert deadline.seconds == 0.5
    pair.a.receive_data(b"</stream:stream>")
    assert pair.a.deadline is None
    assert pair.a.deadline_passed(deadline) == []
    assert pair.a.state is SessionState.CLOSED


def test_transport_gone_without_closing_tag(StreamParser):
    """End of input without the peer's closing tag ends the stream too (reason eof)."""
    pair = negotiated(StreamParser)
    assert pair.a.receive_data(b"") == [CloseTransport(reason="eof")]
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.data_to_send() == b""


def test_transport_gone_while_closing(StreamParser):
    """The peer drops TCP after our closing tag (Prosody after SIGTERM sometimes does)."""
    pair = negotiated(StreamParser)
    pair.a.close()
    assert pair.a.connection_lost() == [CloseTransport(reason="eof")]
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.connection_lost() == []


def test_close_before_anything_sends_a_header_first(StreamParser):
    """Closing a stream we never opened still sends a well-formed stream."""
    session = client(StreamParser)
    data = session.close()
    assert data.startswith(b"<?xml version='1.0'?><stream:stream ")
    assert b"version='1.0'" in data
    assert data.endswith(b"</stream:stream>")
    receiving = server(StreamParser)
    events = receiving.receive_data(data)
    assert PeerClosed() in events


def test_peer_error_then_close(StreamParser):
    """A received stream error queues our closing tag; the peer's then ends the stream."""
    pair = negotiated(StreamParser)
    pair.to_a(pair.b.send_stream_error("system-shutdown", text="bye"))
    error = pair.of(StreamErrorReceived)[0].error
    assert (error.condition, error.text) == ("system-shutdown", "bye")
    assert pair.a.state is SessionState.CLOSED
    assert pair.a.data_to_send() == b"</stream:stream>"
    assert pair.of(CloseTransport) == [CloseTransport(reason="closed")]
