"""xmppwire.aio.serve() against peers that misbehave on purpose, on loopback.

Peers that never read, send half a header and stop, stop inside a start tag,
go idle, flood, or open more connections than allowed; each time a
well-behaved client is served meanwhile. Deadlines are configured short here;
the assertions on time are lower bounds or generous upper ones (the machine
may be loaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from xmppwire import aio
from xmppwire.session import (
    PasswordTable,
    PeerClosed,
    Role,
    StreamErrorReceived,
    StreamReady,
    StreamSession,
    Timeouts,
    TLSPolicy,
)

DOMAIN = "example.com"
USERS = {"juliet": "r0m30", "romeo": "juliet!", "nurse": "n1"}
TIMEOUT = 30
HEADER = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
)


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def echo(stream: aio.XMPPStream) -> None:
    """examples/minimal_server.py's handler: every message back to its sender."""
    async for stanza in stream:
        if stanza.name == "message" and stream.ready:
            await stream.send_message(stream.peer or "", "echo")


@contextlib.asynccontextmanager
async def server(handler: Any = echo, **options: Any) -> AsyncIterator[aio.XMPPServer]:
    options.setdefault("close_timeout", 2)
    async with aio.serve(
        handler,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        tls=TLSPolicy.DISABLED,
        allow_plain_without_tls=True,
        **options,
    ) as srv:
        yield srv


def client(port: int, user: str = "romeo", **options: Any) -> Any:
    return aio.connect(
        f"{user}@{DOMAIN}/r",
        USERS[user],
        host="127.0.0.1",
        port=port,
        tls=TLSPolicy.DISABLED,
        allow_plain_without_tls=True,
        timeout=TIMEOUT,
        close_timeout=2,
        **options,
    )


async def served_normally(port: int) -> None:
    """Another client logs in, gets its echo, and leaves."""
    async with client(port, "nurse") as other:
        await other.send_message(f"nurse@{DOMAIN}", "hello")
        stanza = await asyncio.wait_for(anext(other), TIMEOUT)
        assert stanza.element().findtext("{jabber:client}body") == "echo"


async def read_until_eof(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while chunk := await reader.read(65536):
        data += chunk
    return data


# ------------------------------------------------------------ backpressure


@pytest.mark.asyncio
async def test_a_client_that_never_reads_cannot_grow_the_server() -> None:
    # The attacker logs in, stops reading, and sends messages as fast as its
    # socket takes them (up to 200 MB or until it has been stuck for 3 s).
    async with server() as srv:
        attacker = await client(srv.port)
        transport = attacker.transport
        assert transport is not None
        transport.pause_reading()
        message = b"<message to='romeo@example.com'><body>" + b"x" * 900 + b"</body></message>"
        chunk = message * 256  # ~240 KB
        baseline = rss_bytes()
        peak = baseline
        sent = 0
        stuck_since = time.monotonic()
        started = time.monotonic()
        while sent < 200_000_000 and time.monotonic() - started < 60:
            if transport.get_write_buffer_size() < 1 << 20:
                transport.write(chunk)
                sent += len(chunk)
                stuck_since = time.monotonic()
            elif time.monotonic() - stuck_since > 3:
                break
            await asyncio.sleep(0)
            peak = max(peak, rss_bytes())
        (victim,) = [s for s in srv.streams if s.peer == f"romeo@{DOMAIN}/r"]
        queued = victim._queued_bytes
        growth = peak - baseline
        print(
            f"\nnever-reading client: wrote {sent / 1e6:.1f} MB into its socket; server "
            f"backlog {queued / 1e6:.2f} MB, process RSS growth {growth / 1e6:.1f} MB"
        )
        # Reading paused at the bound (plus at most one read's worth).
        assert "backlog" in victim._paused_for
        assert queued <= (1 << 20) + 300_000
        assert growth < 32_000_000
        await served_normally(srv.port)
        attacker.abort()
        await attacker.wait_closed()


@pytest.mark.asyncio
async def test_server_writes_wait_for_a_client_that_never_reads() -> None:
    sends_done = 0

    async def flood(stream: aio.XMPPStream) -> None:
        nonlocal sends_done
        for _ in range(100_000):
            await stream.send_message(stream.peer or "", "y" * 1000)
            sends_done += 1

    async with server(flood) as srv:
        attacker = await client(srv.port)
        assert attacker.transport is not None
        attacker.transport.pause_reading()
        await asyncio.sleep(1.5)
        (victim,) = list(srv.streams)
        buffered = victim.transport.get_write_buffer_size()  # type: ignore[union-attr]
        print(
            f"\nserver sends done while the client never reads: {sends_done}; buffered {buffered}"
        )
        # The handler waits in send(): its buffer stays near asyncio's high-water mark.
        assert sends_done < 100_000
        assert buffered < 256 * 1024
        attacker.abort()
        await attacker.wait_closed()


@pytest.mark.asyncio
async def test_rate_limit_delays_and_drops_nothing() -> None:
    received: list[str] = []

    async def collect(stream: aio.XMPPStream) -> None:
        async for stanza in stream:
            received.append(stanza.element().findtext("{jabber:client}body") or "")

    limited = server(collect, max_bytes_per_second=50_000, burst_bytes=10_000)
    async with limited as srv, client(srv.port) as sender:
        started = time.monotonic()
        for n in range(100):
            await sender.send_message(f"juliet@{DOMAIN}", f"{n:03d}" + "z" * 900)
        for _ in range(100 * TIMEOUT):
            if len(received) == 100:
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    # ~100 KB at 50 KB/s after a 10 KB burst: at least ~1.8 s; every stanza in order.
    print(f"\n100 KB through a 50 KB/s limit in {elapsed:.2f} s")
    assert [body[:3] for body in received] == [f"{n:03d}" for n in range(100)]
    assert elapsed > 1.5


# --------------------------------------------------------------- deadlines


@pytest.mark.asyncio
async def test_slowloris_clients_get_connection_timeout_at_the_deadline() -> None:
    async with server(timeouts=Timeouts(negotiation=1.0)) as srv:

        async def slowloris() -> tuple[bytes, float]:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            started = time.monotonic()
            writer.write(HEADER[:60])
            data = await read_until_eof(reader)
            writer.close()
            return data, time.monotonic() - started

        async def stuck_in_a_start_tag() -> tuple[bytes, float]:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            started = time.monotonic()
            writer.write(HEADER + b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mecha")
            data = await read_until_eof(reader)
            writer.close()
            return data, time.monotonic() - started

        attackers = [asyncio.create_task(slowloris()) for _ in range(200)]
        attackers.append(asyncio.create_task(stuck_in_a_start_tag()))
        for _ in range(200):
            if srv.negotiating == 201:
                break
            await asyncio.sleep(0.01)
        # (they may already be timing out on a very slow machine)
        assert srv.negotiating > 100
        # Normal service meanwhile (this client negotiates well within the second).
        await served_normally(srv.port)
        results = await asyncio.wait_for(asyncio.gather(*attackers), TIMEOUT)
        for data, elapsed in results:
            assert b"<connection-timeout xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in data
            assert data.endswith(b"</stream:stream>")
            assert elapsed >= 0.9
        print(f"\n201 stalled clients closed after {max(e for _, e in results):.2f} s at most")
        for _ in range(100):
            if srv.connections == 0:
                break
            await asyncio.sleep(0.05)
        assert srv.connections == 0 and srv.negotiating == 0


@pytest.mark.asyncio
async def test_idle_stream_closed_without_error_and_a_late_stanza_delivered() -> None:
    received: list[bytes] = []
    closed_by: list[str | None] = []

    async def record(stream: aio.XMPPStream) -> None:
        async for stanza in stream:
            received.append(stanza.raw)
        closed_by.append(stream.close_reason)

    async with server(record, timeouts=Timeouts(idle=0.5, keepalive=0.5)) as srv:
        # A client driven by hand, so it can talk after the server's closing tag.
        session = StreamSession(
            Role.INITIATOR,
            jid=f"juliet@{DOMAIN}/balcony",
            password=USERS["juliet"],
            tls=TLSPolicy.DISABLED,
            allow_plain_without_tls=True,
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(session.open())
        events: list[Any] = []
        keepalive_seen = False
        started = None
        late = b"<message to='romeo@example.com'><body>late</body></message>"
        while data := await asyncio.wait_for(reader.read(65536), TIMEOUT):
            if data == b" ":
                keepalive_seen = True
            if b"</stream:stream>" in data and started is not None:
                # Talk after the server's closing tag, before reading it.
                writer.write(session.send(late))
            new = session.receive_data(data)
            events += new
            if any(type(e) is StreamReady for e in new):
                started = time.monotonic()
            writer.write(session.data_to_send())
        writer.close()
        assert started is not None
        idle_for = time.monotonic() - started
    assert keepalive_seen
    assert not [e for e in events if type(e) is StreamErrorReceived]
    assert [type(e) for e in events if type(e) is PeerClosed] == [PeerClosed]
    assert received == [late]
    assert closed_by == ["closed"]
    # Idle 0.5 s (noticed within 1 s), then 0.5 s after the keepalive.
    assert idle_for >= 0.9
    print(f"\nidle client closed after {idle_for:.2f} s")


@pytest.mark.asyncio
async def test_a_stream_we_stopped_reading_is_not_judged_idle() -> None:
    # The handler stops consuming: reading pauses, so the peer's bytes wait in
    # the socket, and the idle deadline must not take that for silence.
    consume = asyncio.Event()
    received = 0

    async def slow(stream: aio.XMPPStream) -> None:
        nonlocal received
        await consume.wait()
        async for _ in stream:
            received += 1

    options: Any = {"timeouts": Timeouts(idle=0.3, keepalive=0.3), "max_queued_events": 10}
    async with server(slow, **options) as srv, client(srv.port) as sender:
        for n in range(2000):
            await sender.send_message(f"juliet@{DOMAIN}", f"{n}" + "w" * 200)
        await asyncio.sleep(2)
        (stream,) = list(srv.streams)
        assert "backlog" in stream._paused_for
        assert stream.ready and sender.ready
        consume.set()
        for _ in range(20 * TIMEOUT):
            if received == 2000:
                break
            await asyncio.sleep(0.05)
        assert received == 2000


# ------------------------------------------------------------------ limits


@pytest.mark.asyncio
async def test_connection_limits_refuse_the_next_connection() -> None:
    async with server(max_connections=3, max_negotiating=2) as srv:

        async def refused() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(HEADER)
            data = await asyncio.wait_for(read_until_eof(reader), TIMEOUT)
            writer.close()
            return data

        # Two connections still negotiating: a third is refused.
        stalled = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(2)]
        for _ in range(100):
            if srv.negotiating == 2:
                break
            await asyncio.sleep(0.02)
        data = await refused()
        assert b"<resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in data
        assert data.endswith(b"</stream:stream>")
        for _, writer in stalled:
            writer.close()
        for _ in range(100):
            if srv.connections == 0:
                break
            await asyncio.sleep(0.02)
        # Three logged-in clients: a fourth connection is refused, the three are served.
        async with (
            client(srv.port, "juliet") as a,
            client(srv.port, "romeo") as b,
            client(srv.port, "nurse") as c,
        ):
            assert srv.connections == 3
            data = await refused()
            assert b"resource-constraint" in data
            with pytest.raises(aio.StreamErrorError) as refusal:
                await client(srv.port, "juliet")
            assert refusal.value.condition == "resource-constraint"
            for stream in (a, b, c):
                await stream.send_message(f"juliet@{DOMAIN}", "hi")
                reply = await asyncio.wait_for(anext(stream), TIMEOUT)
                assert reply.element().findtext("{jabber:client}body") == "echo"
        assert srv.refused == 3


@pytest.mark.asyncio
async def test_tls_connections_share_one_receive_buffer_and_every_byte_arrives_in_order(
    server_context: Any, client_context: Any
) -> None:
    """Three clients send 2 MB each over TLS at once: the server's TLS
    connections read into one buffer per loop, and each stream still gets
    every stanza, whole and in order."""
    clients = 3
    per_client = 2000
    received: dict[str, list[str]] = {}

    async def collect(stream: aio.XMPPStream) -> None:
        bodies = received.setdefault(stream.peer or "", [])
        async for stanza in stream:
            bodies.append(stanza.element().findtext("{jabber:client}body") or "")

    async with aio.serve(
        collect,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=server_context,
        close_timeout=2,
    ) as srv:
        streams = [
            await aio.connect(
                f"{user}@{DOMAIN}/bulk",
                USERS[user],
                host="127.0.0.1",
                port=srv.port,
                ssl_context=client_context,
                timeout=TIMEOUT,
                close_timeout=2,
            )
            for user in list(USERS)[:clients]
        ]
        buffers = {
            id(s.transport._ssl_protocol._ssl_buffer)  # type: ignore[union-attr]
            for s in srv.streams
        }
        assert len(buffers) == 1
        assert len(srv.streams) == clients

        async def send(n: int, stream: aio.XMPPStream) -> None:
            for i in range(per_client):
                await stream.send_message(f"{DOMAIN}", f"{n}:{i}:" + chr(97 + n) * 1000)

        await asyncio.wait_for(
            asyncio.gather(*(send(n, s) for n, s in enumerate(streams))), TIMEOUT
        )
        await asyncio.wait_for(asyncio.gather(*(s.close() for s in streams)), TIMEOUT)
    assert len(received) == clients
    for n, stream in enumerate(streams):
        bodies = received[stream.jid or ""]
        assert bodies == [f"{n}:{i}:" + chr(97 + n) * 1000 for i in range(per_client)]
