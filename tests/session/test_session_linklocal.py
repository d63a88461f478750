"""XEP-0174 serverless messaging: the recipient's wait, one connection per pair, tie-break."""

from __future__ import annotations

import pytest

from session_pair import Pair
from xmppwire import LocalProtocolError
from xmppwire.session import (
    CloseTransport,
    LinkLocalRegistry,
    Role,
    SessionState,
    StanzaReceived,
    StreamErrorReceived,
    StreamErrorSent,
    StreamKind,
    StreamReady,
    StreamSession,
)

LL = StreamKind.LINK_LOCAL


def initiator(parser, me, peer, registry=None):
    return StreamSession(
        Role.INITIATOR, LL, jid=me, peer=peer, registry=registry, parser_factory=parser
    )


def recipient(parser, me, registry=None):
    return StreamSession(Role.RECEIVER, LL, jid=me, registry=registry, parser_factory=parser)


def test_link_local_stream_opens_with_empty_features(StreamParser):
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"), recipient(StreamParser, "bob@host-b")
    )
    pair.start()
    headers = [data for _, data in pair.wire if b"<stream:stream" in data]
    assert b"to='bob@host-b'" in headers[0] and b"from='alice@host-a'" in headers[0]
    assert b"to='alice@host-a'" in headers[1] and b"from='bob@host-b'" in headers[1]
    assert headers[1].endswith(b"<stream:features/>")
    assert pair.of(StreamReady, "a") == [StreamReady(jid="alice@host-a", peer="bob@host-b")]
    assert pair.of(StreamReady, "b") == [StreamReady(jid="bob@host-b", peer="alice@host-a")]


def test_recipient_holds_stanzas_until_the_initiator_speaks(StreamParser):
    """After its features the recipient sends no stanza before the initiator's first one."""
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"), recipient(StreamParser, "bob@host-b")
    )
    pair.start()
    assert pair.b.send(b"<message id='1'/>") == b""
    assert pair.b.send(b"<message id='2'/>") == b""
    assert pair.b.held == (b"<message id='1'/>", b"<message id='2'/>")
    pair.pump()
    assert pair.of(StanzaReceived, "a") == []
    events = pair.to_b(pair.a.send(b"<message id='hello'/>"))
    assert [e.element.id for e in events] == ["hello"]
    assert pair.b.data_to_send() == b"<message id='1'/><message id='2'/>"
    assert pair.b.held == ()
    assert pair.b.send(b"<message id='3'/>") == b"<message id='3'/>"


def test_initiator_does_not_wait(StreamParser):
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"), recipient(StreamParser, "bob@host-b")
    )
    pair.start()
    assert pair.a.send(b"<message id='1'/>") == b"<message id='1'/>"


def test_legacy_peer_without_version(StreamParser):
    """A pre-1.0 initiator gets no features and may start at once."""
    session = recipient(StreamParser, "bob@host-b")
    events = session.receive_data(
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        b" to='bob@host-b' from='alice@host-a'>"
    )
    assert StreamReady(jid="bob@host-b", peer="alice@host-a") in events
    data = session.data_to_send()
    assert b" version=" not in data.split(b"?>", 1)[1]
    assert b"features" not in data


def test_second_connection_gets_conflict_instead_of_features(StreamParser):
    registry = LinkLocalRegistry()
    first = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"),
        recipient(StreamParser, "bob@host-b", registry),
    ).start()
    assert first.b.state is SessionState.READY
    second = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"),
        recipient(StreamParser, "bob@host-b", registry),
    )
    second.to_b(second.a.open())
    sent = second.b.data_to_send()
    assert b"<stream:features" not in sent
    assert b"<conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in sent
    second.to_a(sent)
    assert [e.error.condition for e in second.of(StreamErrorReceived, "a")] == ["conflict"]
    assert registry.session_for("bob@host-b", "alice@host-a") is first.b


@pytest.mark.parametrize(
    ("smaller", "larger"), [("alice@host-a", "bob@host-b"), ("bob@host-b", "zoe@host-z")]
)
def test_simultaneous_connects_keep_one_connection(StreamParser, smaller, larger):
    """Both open at once: the connection opened by the smaller JID gets conflict, on both sides."""
    reg_small, reg_large = LinkLocalRegistry(), LinkLocalRegistry()
    # Connection S: initiated by the smaller JID. Connection L: by the larger one.
    s = Pair(
        initiator(StreamParser, smaller, larger, reg_small),
        recipient(StreamParser, larger, reg_large),
    )
    big = Pair(
        initiator(StreamParser, larger, smaller, reg_large),
        recipient(StreamParser, smaller, reg_small),
    )
    s_open = s.a.open()
    l_open = big.a.open()
    assert s.a.state is big.a.state is SessionState.OPENING
    s.to_b(s_open)
    big.to_b(l_open)
    s.pump()
    big.pump()
    assert [e.error.condition for e in s.of(StreamErrorSent, "b")] == ["conflict"]
    assert [e.error.condition for e in s.of(StreamErrorReceived, "a")] == ["conflict"]
    assert s.a.state is s.b.state is SessionState.CLOSED
    assert big.a.state is big.b.state is SessionState.READY
    assert reg_small.session_for(smaller, larger) is big.b
    assert reg_large.session_for(larger, smaller) is big.a


def test_no_reconnect_until_the_old_connection_is_over(StreamParser):
    registry = LinkLocalRegistry()
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b", registry),
        recipient(StreamParser, "bob@host-b"),
    ).start()
    assert not registry.may_connect("alice@host-a", "bob@host-b")
    pair.a.close()
    assert pair.a.state is SessionState.CLOSING
    assert not registry.may_connect("alice@host-a", "bob@host-b")
    with pytest.raises(LocalProtocolError):
        initiator(StreamParser, "alice@host-a", "bob@host-b", registry).open()
    pair.to_b(b"</stream:stream>")  # the closing tag the session wrote, delivered
    pair.to_a(pair.b.data_to_send())
    assert pair.of(CloseTransport, "a") == [CloseTransport(reason="closed")]
    assert registry.may_connect("alice@host-a", "bob@host-b")
    assert initiator(StreamParser, "alice@host-a", "bob@host-b", registry).open()


def test_transport_gone_frees_the_pair(StreamParser):
    registry = LinkLocalRegistry()
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"),
        recipient(StreamParser, "bob@host-b", registry),
    ).start()
    assert not registry.may_connect("bob@host-b", "alice@host-a")
    pair.b.connection_lost()
    assert registry.may_connect("bob@host-b", "alice@host-a")


def test_closing_party_with_held_stanzas(StreamParser):
    """Held stanzas never leave when the initiator closes without sending one."""
    pair = Pair(
        initiator(StreamParser, "alice@host-a", "bob@host-b"), recipient(StreamParser, "bob@host-b")
    )
    pair.start()
    pair.b.send(b"<message id='held'/>")
    pair.to_b(pair.a.close())
    assert pair.b.data_to_send() == b"</stream:stream>"
    assert pair.b.held == (b"<message id='held'/>",)
