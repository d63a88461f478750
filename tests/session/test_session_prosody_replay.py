"""Prosody 0.12's real bytes (tests/data/prosody-0.12-c2s-transcript.txt) replayed to our client.

The transcript holds what slixmpp sent and what Prosody answered, decrypted.
Our initiating session gets Prosody's bytes in the same chunks and must answer
what slixmpp answered, element for element: STARTTLS, SCRAM-SHA-1 (with the
client nonce from the transcript, and the "y" channel-binding flag slixmpp
sends under TLS, the proof and the server's signature then match exactly) or
PLAIN, binding, stanzas and the close. Only the bind request's id is ours:
Prosody's answer is replayed with it put in place of slixmpp's.
"""

from __future__ import annotations

import functools
import itertools
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xmppwire.session import (
    Authenticated,
    CloseTransport,
    HeaderReceived,
    PeerClosed,
    Role,
    SessionState,
    StanzaReceived,
    StartTLS,
    StreamReady,
    StreamSession,
)

TRANSCRIPT = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"
LINE = re.compile(r"^\s*[\d.]+ms DEBUG slixmpp\.xmlstream\.xmlstream: (SEND|RAW RECV): (.*)$")
WRAP = b"<w xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"


def exchanges(user: str) -> list[tuple[str, bytes]]:
    """The (direction, bytes) lines of one user's section, in order."""
    section = TRANSCRIPT.read_text("utf-8").split("================ ")
    text = next(part for part in section if part.startswith(user))
    out = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            out.append((match.group(1), match.group(2).encode("utf-8")))
    return out


def elements(data: bytes) -> list[ET.Element]:
    """Complete top-level elements in ``data``, stream header and closing tag left out."""
    data = re.sub(rb"<\?xml[^>]*\?>", b"", data)
    data = re.sub(rb"<stream:stream[^>]*>", b"", data).replace(b"</stream:stream>", b"")
    return list(ET.fromstring(WRAP + data + b"</w>"))


def canonical(element: ET.Element) -> tuple:
    return (
        element.tag,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [canonical(child) for child in element],
    )


def header_attrs(data: bytes) -> dict[str, str]:
    tag = re.search(rb"<stream:stream[^>]*>", data).group().decode()
    return dict(re.findall(r"([\w:]+)=['\"]([^'\"]*)['\"]", tag))


def replay(
    StreamParser, user: str, *, bytewise: bool = False, cut=None, **options
) -> tuple[StreamSession, list]:
    session = StreamSession(Role.INITIATOR, parser_factory=StreamParser, **options)
    script = exchanges(user)
    assert script[0][0] == "SEND"
    ours = session.open()
    events: list = []
    bind_id = None
    their_bind_id = None
    for direction, data in script:
        if direction == "SEND":
            theirs = data
            if b"<stream:stream" in theirs:
                assert b"<stream:stream" in ours
                mine, expected = header_attrs(ours), header_attrs(theirs)
                for name in ("to", "version", "xmlns", "xmlns:stream"):
                    assert mine[name] == expected[name], name
                ours = ours[ours.index(b"<stream:stream") :]
                ours = re.sub(rb"^<stream:stream[^>]*>", b"", ours)
                theirs = re.sub(rb"^<stream:stream[^>]*>", b"", theirs)
            elif ours == b"" and session.state is SessionState.READY:
                # slixmpp's own stanzas after login: the application sends them.
                ours = session.send(theirs)
            if theirs == b"</stream:stream>" and session.state is SessionState.READY:
                ours = session.close()
            if b"xmpp-bind" in theirs:
                their_bind_id = elements(theirs)[0].get("id")
                bind_id = elements(ours)[0].get("id")
                theirs = theirs.replace(their_bind_id.encode(), bind_id.encode())
            assert [canonical(e) for e in elements(ours)] == [
                canonical(e) for e in elements(theirs)
            ], (ours, theirs)
            if theirs.endswith(b"</stream:stream>"):
                assert ours.endswith(b"</stream:stream>")
            ours = b""
        else:
            if their_bind_id:
                data = data.replace(their_bind_id.encode(), bind_id.encode())
            if bytewise:
                got = [e for i in range(len(data)) for e in session.receive_data(data[i : i + 1])]
            elif cut is not None:
                got = [e for piece in cut(data) for e in session.receive_data(piece)]
            else:
                got = session.receive_data(data)
            events.extend(got)
            if any(type(e) is StartTLS for e in got):
                assert next(e for e in got if type(e) is StartTLS).pending == b""
                ours = session.tls_started(channel_binding=("tls-unique", b"\x00" * 12))
            else:
                ours = session.data_to_send()
    return session, events


def test_replay_scram_sha_1(StreamParser):
    """user1: STARTTLS, SCRAM-SHA-1 byte for byte, bind, presence and roster, message, close."""
    session, events = replay(
        StreamParser,
        "user1",
        jid="user1@localhost/r1",
        password="pass1",
        scram_nonce="8147716846361704",
    )
    assert [e for e in events if type(e) is Authenticated] == [
        Authenticated(mechanism="SCRAM-SHA-1", username="user1")
    ]
    assert len([e for e in events if type(e) is HeaderReceived]) == 3
    assert [e for e in events if type(e) is StreamReady] == [
        StreamReady(jid="user1@localhost/r1", peer="localhost")
    ]
    stanzas = [e.element for e in events if type(e) is StanzaReceived]
    assert [(s.name, s.from_ or s.to) for s in stanzas] == [
        ("presence", "user1@localhost/r1"),
        ("iq", "user1@localhost/r1"),
    ]
    assert events[-2:] == [PeerClosed(), CloseTransport(reason="closed")]
    assert session.state is SessionState.CLOSED


def test_replay_plain_and_a_message_received(StreamParser):
    """user2: PLAIN, then user1's message arrives, then user2 closes and Prosody answers."""
    session, events = replay(
        StreamParser, "user2", jid="user2@localhost/r2", password="pass2", mechanisms=["PLAIN"]
    )
    assert [e for e in events if type(e) is Authenticated] == [
        Authenticated(mechanism="PLAIN", username="user2")
    ]
    message = [e.element for e in events if type(e) is StanzaReceived][-1]
    assert message.name == "message"
    body = message.element().findtext("{jabber:client}body")
    assert body == "hello from user1 <&> é中"
    assert session.state is SessionState.CLOSED


@pytest.mark.parametrize("user", ["user1", "user2"])
def test_replay_in_single_bytes(StreamParser, user):
    """The same server bytes cut into single bytes give the same events."""
    options = {
        "user1": {
            "jid": "user1@localhost/r1",
            "password": "pass1",
            "scram_nonce": "8147716846361704",
        },
        "user2": {"jid": "user2@localhost/r2", "password": "pass2", "mechanisms": ["PLAIN"]},
    }[user]
    _, whole = replay(StreamParser, user, **options)
    session, split = replay(StreamParser, user, bytewise=True, **options)
    assert split == whole
    assert session.state is SessionState.CLOSED


OPTIONS = {
    "user1": {"jid": "user1@localhost/r1", "password": "pass1", "scram_nonce": "8147716846361704"},
    "user2": {"jid": "user2@localhost/r2", "password": "pass2", "mechanisms": ["PLAIN"]},
}


@functools.cache
def _whole(parser: type, user: str) -> list:
    return replay(parser, user, **OPTIONS[user])[1]


@pytest.mark.hypothesis
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), user=st.sampled_from(["user1", "user2"]))
def test_replay_cut_anywhere(StreamParser, data, user):
    """Prosody's reads cut at arbitrary points (several elements per read or half of one)."""

    def cut(chunk: bytes) -> list[bytes]:
        points = data.draw(
            st.lists(st.integers(1, max(1, len(chunk) - 1)), max_size=4, unique=True).map(sorted)
        )
        edges = [0, *points, len(chunk)]
        return [chunk[a:b] for a, b in itertools.pairwise(edges) if b > a]

    whole = _whole(StreamParser, user)
    session, pieces = replay(StreamParser, user, cut=cut, **OPTIONS[user])
    assert pieces == whole
    assert session.state is SessionState.CLOSED
