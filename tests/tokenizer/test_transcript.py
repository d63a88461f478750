"""A real Prosody 0.12 login replayed: the server's exact bytes as slixmpp received them.

``tests/data/prosody-0.12-c2s-transcript.txt`` logs two logins (STARTTLS, SASL
SCRAM-SHA-1 or PLAIN, bind, presence, roster, a message). Every ``RAW RECV:``
line is one read from the socket. The streams restart after ``<proceed/>`` and
after SASL ``<success/>``, which is where the parser is paused and reset.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xmpp_samples import SASL_NS, STREAMS_NS, TLS_NS, XML_NS, bytewise, merge_whitespace
from xmppwire.events import (
    ElementReceived,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
    WhitespaceReceived,
)

TRANSCRIPT = Path(__file__).parents[1] / "data" / "prosody-0.12-c2s-transcript.txt"
RESTARTS = {(TLS_NS, "proceed"), (SASL_NS, "success")}
CLIENT = "jabber:client"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
LANG = f"{{{XML_NS}}}lang"


def received(user: str) -> list[bytes]:
    """The RAW RECV reads of one user's connection, in order."""
    chunks: list[bytes] = []
    current = None
    for line in TRANSCRIPT.read_text(encoding="utf-8").splitlines():
        if line.startswith("================"):
            current = line.split()[1]
        elif current == user and " RAW RECV: " in line:
            chunks.append(line.split(" RAW RECV: ", 1)[1].encode("utf-8"))
    return chunks


def replay(StreamParser, chunks: list[bytes]) -> list[list]:
    """Feed the reads, restarting the stream where the client did; events per stream."""
    parser = StreamParser(pause_after=RESTARTS)
    streams: list[list] = [[]]
    for chunk in chunks:
        pending = chunk
        while pending:
            streams[-1].extend(parser.feed(pending))
            pending = b""
            if parser.paused:
                pending = parser.take_unparsed()
                parser.reset()
                streams.append([])
    assert parser.close() == []
    return streams


def header(id_: str) -> dict:
    return {
        "to": None,
        "from_": "localhost",
        "id": id_,
        "version": (1, 0),
        "lang": "en",
        "content_namespace": CLIENT,
        "stream_prefix": "stream",
        "namespaces": (("stream", STREAMS_NS), (None, CLIENT)),
        "attributes": (
            (LANG, "en"),
            ("version", "1.0"),
            ("id", id_),
            ("from", "localhost"),
        ),
    }


STARTTLS_FEATURES = (STREAMS_NS, "features", {}, ["{urn:ietf:params:xml:ns:xmpp-tls}starttls"])
SASL_FEATURES = (STREAMS_NS, "features", {}, ["{urn:ietf:params:xml:ns:xmpp-sasl}mechanisms"])
SESSION_FEATURES = (
    STREAMS_NS,
    "features",
    {},
    [
        "{urn:xmpp:features:pre-approval}sub",
        "{http://jabber.org/protocol/caps}c",
        f"{{{BIND}}}bind",
        "{urn:ietf:params:xml:ns:xmpp-session}session",
        "{urn:xmpp:features:rosterver}ver",
    ],
)
PROCEED = (TLS_NS, "proceed", {}, [])


def session(user: str, bind_id: str, presence_id: str, roster_id: str) -> list:
    jid = f"{user}@localhost/r{user[-1]}"
    return [
        (CLIENT, "iq", {"id": bind_id, "type": "result"}, [f"{{{BIND}}}bind"]),
        (CLIENT, "presence", {"id": presence_id, "from": jid, LANG: "en"}, []),
        (CLIENT, "iq", {"id": roster_id, "to": jid, "type": "result"}, ["{jabber:iq:roster}query"]),
    ]


EXPECTED = {
    "user1": [
        (header("7fc041e6-7bc2-493a-81e2-fbc19d932b9e"), [STARTTLS_FEATURES, PROCEED], False),
        (
            header("9201df99-d244-4605-8c67-22bc3bbb83fb"),
            [
                SASL_FEATURES,
                (SASL_NS, "challenge", {}, []),
                (SASL_NS, "success", {}, []),
            ],
            False,
        ),
        (
            header("9610c71d-7e03-47e2-8351-8f09ebdbe9fa"),
            [
                SESSION_FEATURES,
                *session(
                    "user1",
                    "b2a344220bb74378b952553cb4761e46",
                    "9ccc415e38994f488105c55596f5ae91",
                    "6fd12d204e044f728db586e28e8127eb",
                ),
            ],
            True,
        ),
    ],
    "user2": [
        (header("eef3fdbf-4a40-459b-9793-60bb5a5a8082"), [STARTTLS_FEATURES, PROCEED], False),
        (
            header("5d8dcc12-f6a8-4224-a80f-eef3d0363c45"),
            [SASL_FEATURES, (SASL_NS, "success", {}, [])],
            False,
        ),
        (
            header("663e058c-b9a3-4a99-a4c1-0cbc0f93c17c"),
            [
                SESSION_FEATURES,
                *session(
                    "user2",
                    "904310f0351445b48ff50e979c6eeadb",
                    "b410f37da4cb48378472a9dbe4b55529",
                    "74fb658d19ca44e8bccb8af98971cea2",
                ),
                (
                    CLIENT,
                    "message",
                    {
                        LANG: "en",
                        "type": "chat",
                        "from": "user1@localhost/r1",
                        "id": "94c5135c8c7f4d35aff1dde25654da33",
                        "to": "user2@localhost",
                    },
                    [f"{{{CLIENT}}}body"],
                ),
            ],
            True,
        ),
    ],
}


def check(streams: list[list], user: str, chunks: list[bytes]) -> None:
    expected = EXPECTED[user]
    assert len(streams) == len(expected)
    # what the streams were made of: the reads, cut where the restarts are
    wire = b"".join(chunks)
    for events, (fields, elements, closed) in zip(streams, expected, strict=True):
        assert type(events[0]) is StreamOpened
        head: StreamHeader = events[0].header
        assert {name: getattr(head, name) for name in fields} == fields
        assert head.raw.startswith(b"<stream:stream xml:lang='en'")
        assert head.raw.endswith(b" from='localhost'>")
        body = events[1:]
        if closed:
            assert type(body[-1]) is StreamClosed
            body = body[:-1]
        assert not [e for e in body if type(e) in (TextReceived, WhitespaceReceived)]
        assert all(type(e) is ElementReceived for e in body)
        got = [(e.namespace, e.name, e.attrs, [c.tag for c in e.element()]) for e in body]
        assert got == elements
        for event in body:
            assert event.header is head
            assert event.raw in wire
        # the stream is exactly: declaration, header, elements, close tag
        stream_bytes = (
            b"<?xml version='1.0'?>"
            + head.raw
            + b"".join(e.raw for e in body)
            + (b"</stream:stream>" if closed else b"")
        )
        assert stream_bytes in wire
        wire = wire[wire.index(stream_bytes) + len(stream_bytes) :]
    assert wire == b""


@pytest.mark.parametrize("user", ["user1", "user2"])
def test_each_read_as_one_chunk(StreamParser, user):
    chunks = received(user)
    assert len(chunks) == 9
    check(replay(StreamParser, chunks), user, chunks)


@pytest.mark.parametrize("user", ["user1", "user2"])
@pytest.mark.parametrize("how", ["all-at-once", "byte-by-byte"])
def test_the_same_bytes_cut_otherwise(StreamParser, user, how):
    chunks = received(user)
    data = b"".join(chunks)
    cut = [data] if how == "all-at-once" else bytewise(data)
    check(replay(StreamParser, cut), user, chunks)


def test_the_message_body(StreamParser):
    streams = replay(StreamParser, received("user2"))
    message = streams[-1][-2]
    assert message.name == "message"
    tree = message.element()
    assert tree.tag == "{jabber:client}message"
    assert tree.find("{jabber:client}body").text == "hello from user1 <&> \u00e9\u4e2d"
    assert b"<body>hello from user1 &lt;&amp;&gt; \xc3\xa9\xe4\xb8\xad</body>" in message.raw


def test_the_sasl_challenge_and_features(StreamParser):
    streams = replay(StreamParser, received("user1"))
    challenge = streams[1][2]
    assert challenge.element().text.startswith("cj04MTQ3NzE2ODQ2MzYxNzA0")
    mechanisms = streams[1][1].element()[0]
    assert [m.text for m in mechanisms] == ["SCRAM-SHA-1", "PLAIN"]
    caps = streams[2][1].element()[1]
    assert caps.attrib == {
        "ver": "wBr6DNC6Vxj+iDPS/AmhkECMTr8=",
        "node": "http://prosody.im",
        "hash": "sha-1",
    }
    bind = streams[2][2].element()
    assert bind.find(f"{{{BIND}}}bind/{{{BIND}}}jid").text == "user1@localhost/r1"


def test_offsets_restart_with_each_stream(StreamParser):
    chunks = received("user1")
    parser = StreamParser(pause_after=RESTARTS)
    offsets = []
    consumed = 0
    for chunk in chunks:
        parser.feed(chunk)
        consumed += len(chunk)
        if parser.paused:
            offsets.append(parser.offset)
            assert parser.take_unparsed() == b""
            parser.reset()
            assert parser.offset == 0
    assert offsets[0] == len(b"".join(chunks[:2]))
    assert offsets[1] == len(b"".join(chunks[2:5]))
    assert parser.offset == len(b"".join(chunks[5:]))


@pytest.mark.parametrize("user", ["user1", "user2"])
def test_every_two_way_cut(StreamParser, user):
    chunks = received(user)
    data = b"".join(chunks)
    reference = [merge_whitespace(s) for s in replay(StreamParser, [data])]
    for cut in range(1, len(data)):
        streams = replay(StreamParser, [data[:cut], data[cut:]])
        assert [merge_whitespace(s) for s in streams] == reference, cut
