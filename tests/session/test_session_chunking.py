"""A whole client-server negotiation with every read cut at arbitrary points, both directions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_pair import Pair, client, server
from xmppwire.session import SessionState


class CuttingPair(Pair):
    """A pair whose transport delivers each write in pieces."""

    cut: object = None

    def to_b(self, data: bytes) -> list:
        events = []
        for piece in self.cut(data):
            events.extend(Pair.to_b(self, piece))
        return events

    def to_a(self, data: bytes) -> list:
        events = []
        for piece in self.cut(data):
            events.extend(Pair.to_a(self, piece))
        return events


def kinds(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.mark.hypothesis
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), mechanism=st.sampled_from(["PLAIN", "SCRAM-SHA-1"]))
def test_negotiation_survives_any_cut(StreamParser, data, mechanism):
    whole = Pair(client(StreamParser, mechanisms=[mechanism]), server(StreamParser)).start()

    def cut(chunk: bytes) -> list[bytes]:
        points = data.draw(
            st.lists(st.integers(1, max(1, len(chunk) - 1)), max_size=3, unique=True).map(sorted)
        )
        edges = [0, *points, len(chunk)]
        return [chunk[a:b] for a, b in itertools.pairwise(edges) if b > a]

    pieces = CuttingPair(client(StreamParser, mechanisms=[mechanism]), server(StreamParser))
    pieces.cut = cut
    pieces.start()
    assert pieces.a.state is pieces.b.state is SessionState.READY
    assert kinds(pieces.a_events) == kinds(whole.a_events)
    assert kinds(pieces.b_events) == kinds(whole.b_events)
    assert pieces.a.jid == whole.a.jid == "juliet@example.com/balcony"
    stanza = b"<message to='romeo@example.net'><body>cut</body></message>"
    got = pieces.to_b(pieces.a.send(stanza))
    assert [e.element.raw for e in got] == [stanza]
    pieces.to_b(pieces.a.close())
    pieces.pump()
    assert pieces.a.state is pieces.b.state is SessionState.CLOSED
