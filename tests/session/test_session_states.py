"""Every (role, state, trigger) of the transition tables, walked on real sessions.

Each pair is either driven through the public API (bytes in, methods called)
and checked against the table, allowed or refused, or listed in
NOT_PRODUCIBLE with the reason no input can cause it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from session_pair import Pair, client, server
from xmppwire import LocalProtocolError, RemoteProtocolError
from xmppwire.session import Role, SessionState, StreamErrorSent, Trigger
from xmppwire.session.connection import Deadline
from xmppwire.session.states import (
    INITIATOR_TRANSITIONS,
    LOCAL_TRIGGERS,
    RECEIVER_TRANSITIONS,
    REFUSAL_CONDITIONS,
    next_state,
)

S = SessionState
T = Trigger
C2S_HEADER = (
    b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
    b" to='example.com' from='example.com' id='x' version='1.0'>"
)
LIVE = (S.IDLE, S.OPENING, S.NEGOTIATING, S.STARTING_TLS, S.READY, S.CLOSING)
MID_STREAM = (S.NEGOTIATING, S.READY, S.CLOSING)


def session_in(parser, role: Role, state: SessionState):
    """A session of ``role`` driven to ``state`` through real exchanges."""
    pair = Pair(client(parser), server(parser), auto_tls=False)
    me = pair.a if role is Role.INITIATOR else pair.b
    if state is S.IDLE:
        return me
    if state is S.OPENING and role is Role.INITIATOR:
        pair.a.open()
        return me
    pair.to_b(pair.a.open())
    if state is S.NEGOTIATING:
        if role is Role.INITIATOR:
            pair.to_a(pair.b.data_to_send())
        return me
    pair.pump()
    assert pair.a.state is pair.b.state is S.STARTING_TLS
    if state is S.STARTING_TLS:
        return me
    if state is S.OPENING:
        pair.b.tls_started()
        return me
    pair.b.tls_started()
    pair.to_b(pair.a.tls_started())
    pair.auto_tls = True
    pair.pump()
    assert me.state is S.READY
    if state is S.CLOSING:
        me.close()
    elif state is S.CLOSED:
        me.connection_lost()
    return me


def close_deadline(session):
    deadline = session.deadline
    return deadline if deadline is not None and deadline.kind == "close" else None


def stale_deadline(session):
    if close_deadline(session) is not None:
        return session.deadline_passed(session.deadline)
    return session.deadline_passed(Deadline(kind="close", seconds=5.0, serial=999))


ACTIONS: dict[Trigger, Callable] = {
    T.OPEN: lambda s: s.open(),
    T.SEND: lambda s: s.send(b"<message/>"),
    T.CLOSE: lambda s: s.close(),
    T.SEND_ERROR: lambda s: s.send_stream_error("undefined-condition"),
    T.TLS_STARTED: lambda s: s.tls_started(),
    T.CLOSE_TIMEOUT: stale_deadline,
    T.HEADER: lambda s: s.receive_data(C2S_HEADER),
    T.STANZA: lambda s: s.receive_data(b"<message to='a@example.com'/>"),
    T.STREAM_ERROR: lambda s: s.receive_data(
        b"<stream:error><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
    ),
    T.CLOSE_TAG: lambda s: s.receive_data(b"</stream:stream>"),
    T.EOF: lambda s: s.receive_data(b""),
    T.UNPARSEABLE: lambda s: s.receive_data(b"<a><b></a>"),
}

# Pairs no input can cause, and why.
NOT_PRODUCIBLE: dict[tuple[Trigger, SessionState], str] = {}
for st in (S.NEGOTIATING, S.STARTING_TLS, S.READY, S.CLOSED):
    NOT_PRODUCIBLE[(T.HEADER, st)] = "mid-stream, a header is a nested start tag, not a header"
for st in (S.IDLE, S.OPENING, S.STARTING_TLS, S.CLOSED):
    for trig in (T.STANZA, T.STREAM_ERROR, T.CLOSE_TAG):
        NOT_PRODUCIBLE[(trig, st)] = "no stream is open to carry it (or the bytes belong to TLS)"
NOT_PRODUCIBLE[(T.HEADER, S.CLOSING)] = "covered by test_header_after_our_early_close"
NOT_PRODUCIBLE[(T.UNPARSEABLE, S.STARTING_TLS)] = "bytes belong to TLS: receive_data refuses"
NOT_PRODUCIBLE[(T.UNPARSEABLE, S.CLOSED)] = "a closed session parses nothing"
for st in (*LIVE, S.CLOSED):
    for trig in (T.NEGOTIATION, T.PROCEED, T.RESTART, T.NEGOTIATED):
        if st is not S.NEGOTIATING:
            NOT_PRODUCIBLE[(trig, st)] = "only negotiation produces it"
        else:
            NOT_PRODUCIBLE[(trig, st)] = "walked by test_session_negotiation"


CASES = [
    pytest.param(role, state, trigger, id=f"{role.value}-{state.value}-{trigger.value}")
    for role in Role
    for state in SessionState
    for trigger in Trigger
]


@pytest.mark.parametrize(("role", "state", "trigger"), CASES)
def test_every_pair(StreamParser, role, state, trigger):
    if (trigger, state) in NOT_PRODUCIBLE:
        reason = NOT_PRODUCIBLE[(trigger, state)]
        assert reason
        return
    session = session_in(StreamParser, role, state)
    assert session.state is state
    table = INITIATOR_TRANSITIONS if role is Role.INITIATOR else RECEIVER_TRANSITIONS
    expected = table.get(state, {}).get(trigger)
    session.data_to_send()  # what getting here produced
    if trigger is T.CLOSE_TIMEOUT and close_deadline(session) is None:
        # Reporting a deadline the session doesn't hold changes nothing (the
        # negotiation deadline is tested in test_session_deadlines).
        assert stale_deadline(session) == []
        assert session.state is state
        return
    if (trigger is T.TLS_STARTED and state is S.STARTING_TLS) or expected is not None:
        ACTIONS[trigger](session)
        assert session.state is expected, (session.state, expected)
        return
    if trigger in LOCAL_TRIGGERS:
        with pytest.raises(LocalProtocolError):
            ACTIONS[trigger](session)
        assert session.state is state
        assert session.data_to_send() == b""
        return
    events = ACTIONS[trigger](session)
    condition = REFUSAL_CONDITIONS.get((role, trigger), "unsupported-stanza-type")
    assert [e.error.condition for e in events if type(e) is StreamErrorSent] == [condition]
    assert session.state is S.CLOSING
    assert session.data_to_send().endswith(b"</stream:stream>")


def test_header_after_our_early_close(StreamParser):
    """We closed before the peer's header arrived: it is accepted, then its close ends it."""
    session = client(StreamParser)
    session.open()
    session.close()
    session.receive_data(C2S_HEADER)
    assert session.state is S.CLOSING
    session.receive_data(b"</stream:stream>")
    assert session.state is S.CLOSED


def test_table_invariants():
    """After our close no write is allowed; every live state can end; CLOSED only absorbs EOF."""
    writes = {T.OPEN, T.SEND, T.CLOSE, T.SEND_ERROR, T.TLS_STARTED}
    for table in (INITIATOR_TRANSITIONS, RECEIVER_TRANSITIONS):
        assert set(table) == set(SessionState)
        assert not writes & set(table[S.CLOSING])
        assert table[S.CLOSED] == {T.EOF: S.CLOSED}
        for state in LIVE:
            assert table[state][T.EOF] is S.CLOSED
        for state in (S.IDLE, S.OPENING, S.NEGOTIATING, S.READY):
            assert table[state][T.CLOSE] is S.CLOSING
            assert table[state][T.SEND_ERROR] is S.CLOSING
        assert T.SEND in table[S.READY] and all(
            T.SEND not in table[s] for s in S if s is not S.READY
        )


def test_next_state_refusals_carry_the_condition():
    with pytest.raises(RemoteProtocolError) as info:
        next_state(Role.RECEIVER, S.NEGOTIATING, T.STANZA)
    assert info.value.condition == "not-authorized"
    with pytest.raises(LocalProtocolError):
        next_state(Role.INITIATOR, S.CLOSING, T.SEND)
