"""xmppwire.aio on real loopback sockets: our client against our receiving entity.

TLS is real (certificates from a throwaway trustme CA); where a test needs a
peer that misbehaves on purpose (never answers our closing tag, talks after
it), the peer is a plain-TCP server driving a receiving StreamSession by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trustme

from xmppwire import aio
from xmppwire.errors import LocalProtocolError
from xmppwire.session import (
    AuthenticationFailed,
    LinkLocalRegistry,
    PasswordTable,
    PeerClosed,
    Role,
    StanzaReceived,
    StreamErrorReceived,
    StreamErrorSent,
    StreamKind,
    StreamReady,
    StreamSession,
    TLSPolicy,
)

DOMAIN = "example.com"
USERS = {"juliet": "r0m30", "romeo": "juliet!"}
TIMEOUT = 10


_outer: set[asyncio.Task[Any]] = set()
# The server task that ran each Recorder's handler, by its stream.
_serving: dict[aio.XMPPStream, asyncio.Task[Any]] = {}


def bounded(test: Any) -> Any:
    """Fail instead of hanging."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        # The test runs in a task of its own; the one awaiting it is not ours.
        _outer.clear()
        _outer.update(asyncio.all_tasks())
        _serving.clear()
        return await asyncio.wait_for(test(*args, **kwargs), 2 * TIMEOUT)

    return run


def others() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()} - _outer  # type: ignore[operator]


def socket_closed(stream: aio.XMPPStream) -> bool:
    transport = stream.transport
    assert transport is not None
    return transport.is_closing() and stream.get_extra_info("socket").fileno() == -1


async def nothing_left(*streams: aio.XMPPStream) -> None:
    """Every stream's connection gone, its socket closed, the server done with
    it, and no task of ours running."""
    for stream in streams:
        await asyncio.wait_for(stream.wait_closed(), TIMEOUT)
        assert socket_closed(stream)
        serving = _serving.get(stream)
        if serving is not None:
            # The connection is gone before the server has finished with the
            # stream: its task still has to see the end, return from the
            # handler and close the stream. That takes a turn or two of the loop.
            await asyncio.wait([serving], timeout=TIMEOUT)
            assert serving.done() and not serving.cancelled()
            assert serving.exception() is None
    assert others() == set()


class Recorder:
    """A server handler that keeps what it saw and does what the test says."""

    def __init__(self, then: Callable[[aio.XMPPStream], Awaitable[None]] | None = None) -> None:
        self.streams: list[aio.XMPPStream] = []
        self.stanzas: list[bytes] = []
        self.finished = asyncio.Event()
        self.then = then

    async def __call__(self, stream: aio.XMPPStream) -> None:
        self.streams.append(stream)
        task = asyncio.current_task()
        assert task is not None
        _serving[stream] = task
        try:
            if self.then is not None:
                await self.then(stream)
                return
            async for stanza in stream:
                self.stanzas.append(stanza.raw)
                if stanza.name == "message":
                    await stream.send_message(stream.peer or "", "echo: " + _body(stanza))
        finally:
            self.finished.set()


def _body(stanza: Any) -> str:
    return stanza.element().findtext("{jabber:client}body") or ""


@contextlib.asynccontextmanager
async def server(
    server_context: ssl.SSLContext, handler: Any, **options: Any
) -> AsyncIterator[aio.XMPPServer]:
    async with aio.serve(
        handler,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=server_context,
        close_timeout=2,
        **options,
    ) as srv:
        yield srv


def client(port: int, context: ssl.SSLContext, user: str = "juliet", **options: Any) -> Any:
    options.setdefault("close_timeout", 2)
    return aio.connect(
        f"{user}@{DOMAIN}/balcony",
        USERS[user],
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        timeout=TIMEOUT,
        **options,
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
@bounded
async def test_login_and_messages_both_ways_over_tls(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, mechanism: str
) -> None:
    handler = Recorder()
    async with server(server_context, handler) as srv:
        async with client(srv.port, client_context, mechanisms=[mechanism]) as stream:
            assert stream.jid == f"juliet@{DOMAIN}/balcony"
            assert stream.session.tls_active
            assert stream.transport.get_extra_info("ssl_object") is not None
            await stream.send_message(f"romeo@{DOMAIN}", "hi")
            answer = await asyncio.wait_for(anext(stream), TIMEOUT)
            assert _body(answer) == "echo: hi"
            assert answer.to == f"juliet@{DOMAIN}/balcony"
        assert stream.close_reason == "closed"
        await asyncio.wait_for(handler.finished.wait(), TIMEOUT)
        (served,) = handler.streams
        assert served.peer == f"juliet@{DOMAIN}/balcony"
        assert served.session.authenticated == "juliet"
        assert handler.stanzas == [
            b"<message to='romeo@example.com' type='chat'><body>hi</body></message>"
        ]
        await nothing_left(stream, served)
        assert served.close_reason == "closed"


@pytest.mark.asyncio
@bounded
async def test_a_burst_larger_than_the_buffers(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    handler = Recorder()
    async with server(server_context, handler) as srv:
        async with client(srv.port, client_context) as stream:
            texts = [f"{n:04d}" + "\u00e9" * 20000 for n in range(100)]

            async def send_all() -> None:
                for text in texts:
                    await stream.send_message(f"romeo@{DOMAIN}", text)

            sender = asyncio.create_task(send_all())
            answers = [_body(await anext(stream)) for _ in texts]
            await sender
        assert answers == ["echo: " + text for text in texts]
        await nothing_left(stream, *handler.streams)


@pytest.mark.asyncio
@bounded
async def test_closing_while_the_server_waits_for_its_buffer_to_drain(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    sent: list[str] = []
    outcome: list[BaseException] = []

    async def flood(stream: aio.XMPPStream) -> None:
        # Sends until the stream refuses: the server is writing as fast as its
        # buffers let it when our closing tag arrives.
        try:
            for n in itertools.count():
                text = f"{n:06d}" + "\u00e9" * 20000
                await stream.send_message(stream.peer or "", text)
                sent.append(text)
        except LocalProtocolError as exc:
            outcome.append(exc)

    handler = Recorder(flood)
    async with server(server_context, handler) as srv:
        stream = await client(srv.port, client_context)
        received = [_body(await anext(stream)) for _ in range(3)]
        await asyncio.wait_for(stream.close(), TIMEOUT)
        received += [
            _body(e.element) async for e in stream.events() if isinstance(e, StanzaReceived)
        ]
        await nothing_left(stream, *handler.streams)
    # The server's send that was waiting returns once our closing tag is in;
    # the next one is refused, and everything sent before the server's
    # closing tag reached us, in order.
    assert len(outcome) == 1
    assert received == sent
    assert stream.close_reason == "closed"
    assert handler.streams[0].close_reason == "closed"


@pytest.mark.asyncio
@bounded
async def test_server_closes_first(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def greet_and_leave(stream: aio.XMPPStream) -> None:
        await stream.send_message(stream.peer or "", "bye")

    handler = Recorder(greet_and_leave)
    async with server(server_context, handler) as srv:
        stream = await client(srv.port, client_context)
        events = [event async for event in stream.events()]
        kinds = [type(e).__name__ for e in events]
        assert kinds[-3:] == ["StanzaReceived", "PeerClosed", "CloseTransport"]
        assert _body(events[-3].element) == "bye"
        assert stream.close_reason == "closed"
        await nothing_left(stream, *handler.streams)
        assert handler.streams[0].close_reason == "closed"
        await stream.close()  # late close on a finished stream: nothing to do
        assert stream.close_reason == "closed"


@pytest.mark.asyncio
@bounded
async def test_both_close_at_once(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    ready = asyncio.Event()

    async def close_when_told(stream: aio.XMPPStream) -> None:
        ready.set()
        await stream.close()

    handler = Recorder(close_when_told)
    async with server(server_context, handler) as srv:
        stream = await client(srv.port, client_context)
        await ready.wait()
        await asyncio.wait_for(stream.close(), TIMEOUT)
        assert stream.close_reason == "closed"
        await nothing_left(stream, *handler.streams)
        assert handler.streams[0].close_reason == "closed"


@pytest.mark.asyncio
@bounded
async def test_server_shutdown_closes_every_stream_politely(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    handler = Recorder()
    srv = await aio.serve(
        handler,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=server_context,
    )
    juliet = await client(srv.port, client_context, "juliet")
    romeo = await client(srv.port, client_context, "romeo")
    while len(srv.streams) < 2 or not all(s.ready for s in srv.streams):
        await asyncio.sleep(0.01)
    await srv.aclose()
    for stream in (juliet, romeo):
        assert [type(e).__name__ async for e in stream.events()][-2:] == [
            "PeerClosed",
            "CloseTransport",
        ]
        assert stream.close_reason == "closed"
    assert {s.close_reason for s in handler.streams} == {"closed"}
    assert srv.streams == frozenset()
    await nothing_left(juliet, romeo, *handler.streams)


@pytest.mark.asyncio
@bounded
async def test_a_failing_handler_still_closes_its_stream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def broken(stream: aio.XMPPStream) -> None:
        raise RuntimeError("application bug")

    handler = Recorder(broken)
    async with server(server_context, handler) as srv:
        stream = await client(srv.port, client_context)
        assert [s async for s in stream] == []
        assert stream.close_reason == "closed"
        await nothing_left(stream, *handler.streams)


@pytest.mark.asyncio
@bounded
async def test_tls_verification_is_on_by_default(
    server_context: ssl.SSLContext,
) -> None:
    async with server(server_context, Recorder()) as srv:
        # The system CAs don't know the throwaway CA.
        with pytest.raises(aio.TLSError, match="CERTIFICATE_VERIFY_FAILED"):
            await aio.connect(
                f"juliet@{DOMAIN}",
                USERS["juliet"],
                host="127.0.0.1",
                port=srv.port,
                timeout=TIMEOUT,
            )
        # Our server side sees the client give up and closes too.
        for stream in srv.streams:
            await stream.wait_closed()
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_cafile_and_server_hostname(
    ca: trustme.CA, server_context: ssl.SSLContext, tmp_path: Any
) -> None:
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    async with server(server_context, Recorder()) as srv:
        async with aio.connect(
            f"juliet@{DOMAIN}",
            USERS["juliet"],
            host="127.0.0.1",
            port=srv.port,
            cafile=str(cafile),
            timeout=TIMEOUT,
        ) as stream:
            assert stream.session.tls_active
        with pytest.raises(aio.TLSError, match="Hostname mismatch"):
            await aio.connect(
                f"juliet@{DOMAIN}",
                USERS["juliet"],
                host="127.0.0.1",
                port=srv.port,
                cafile=str(cafile),
                server_hostname="example.org",
                timeout=TIMEOUT,
            )
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_wrong_password_and_unknown_host(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async with server(server_context, Recorder()) as srv:
        with pytest.raises(aio.AuthenticationError) as failed:
            await aio.connect(
                f"juliet@{DOMAIN}",
                "wrong",
                host="127.0.0.1",
                port=srv.port,
                ssl_context=client_context,
                timeout=TIMEOUT,
            )
        assert failed.value.condition == "not-authorized"
        with pytest.raises(aio.StreamErrorError) as refused:
            await aio.connect(
                "juliet@example.net",
                "x",
                host="127.0.0.1",
                port=srv.port,
                ssl_context=client_context,
                timeout=TIMEOUT,
            )
        assert refused.value.condition == "host-unknown"
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_connection_loss_ends_the_stream(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    async def drop(stream: aio.XMPPStream) -> None:
        stream.abort()

    handler = Recorder(drop)
    async with server(server_context, handler) as srv:
        stream = await client(srv.port, client_context)
        assert [s async for s in stream] == []
        assert stream.close_reason == "eof"
        await nothing_left(stream, *handler.streams)
        with pytest.raises(LocalProtocolError):
            await stream.send_message("romeo@example.com", "too late")


@pytest.mark.asyncio
@bounded
async def test_cancelling_a_reader_leaves_nothing_behind(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    handler = Recorder()
    async with server(server_context, handler) as srv:
        opened: list[aio.XMPPStream] = []

        async def read_forever() -> None:
            async with client(srv.port, client_context) as stream:
                opened.append(stream)
                async for _ in stream:
                    pass

        task = asyncio.create_task(read_forever())
        while not opened:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (stream,) = opened
        await nothing_left(stream, *handler.streams)
        assert stream.close_reason == "eof"
        assert handler.streams[0].close_reason == "eof"


@pytest.mark.asyncio
@bounded
async def test_cancelling_connect_mid_negotiation_leaves_nothing_behind() -> None:
    accepted: list[asyncio.StreamWriter] = []
    lost = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # until our client goes away
        lost.set()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    task = asyncio.ensure_future(
        aio.connect(f"juliet@{DOMAIN}", "x", host="127.0.0.1", port=port, timeout=TIMEOUT)
    )
    while not accepted:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(lost.wait(), TIMEOUT)
    listener.close()
    await listener.wait_closed()
    await asyncio.sleep(0)
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_cancelling_connect_mid_tls_handshake_leaves_nothing_behind(
    client_context: ssl.SSLContext,
) -> None:
    handshake_started = asyncio.Event()
    client_hello = asyncio.Event()
    lost = asyncio.Event()

    async def proceed_then_stall(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # A real receiving session up to <proceed/>; then the ClientHello is
        # read and never answered.
        session = StreamSession(Role.RECEIVER, domains=[DOMAIN], authenticator=PasswordTable(USERS))
        while data := await reader.read(65536):
            if handshake_started.is_set():
                client_hello.set()
                continue
            events = session.receive_data(data)
            writer.write(session.data_to_send())
            if any(type(e).__name__ == "StartTLS" for e in events):
                handshake_started.set()
        lost.set()
        writer.close()

    listener = await asyncio.start_server(proceed_then_stall, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    task = asyncio.ensure_future(
        aio.connect(
            f"juliet@{DOMAIN}",
            USERS["juliet"],
            host="127.0.0.1",
            port=port,
            ssl_context=client_context,
            timeout=TIMEOUT,
        )
    )
    await client_hello.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await lost.wait()
    listener.close()
    await listener.wait_closed()
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_connect_timeout_is_bounded() -> None:
    lost = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until our client gives up
        lost.set()
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    with pytest.raises(aio.ConnectFailed, match="within"):
        await aio.connect(f"juliet@{DOMAIN}", "x", host="127.0.0.1", port=port, timeout=0.2)
    await lost.wait()
    listener.close()
    await listener.wait_closed()
    await asyncio.sleep(0)
    assert others() == set()


# --- a peer driven by hand: plain TCP, a receiving session, and its bytes edited


class HandPeer:
    """A receiving entity whose answer to our closing tag the test decides."""

    def __init__(
        self, *, answer_close: bool = True, after_close: bytes = b"", on_ready: bytes = b""
    ) -> None:
        self.answer_close = answer_close
        self.after_close = after_close
        self.on_ready = on_ready
        self.received: list[bytes] = []
        self.eof = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.failures: list[str] = []
        self.errors: list[str] = []
        self.peer_closed = False

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        session = StreamSession(
            Role.RECEIVER,
            domains=[DOMAIN],
            authenticator=PasswordTable(USERS),
            tls=TLSPolicy.DISABLED,
        )
        try:
            while data := await reader.read(65536):
                events = session.receive_data(data)
                out = session.data_to_send()
                for event in events:
                    if type(event) is StanzaReceived:
                        self.received.append(event.element.raw)
                    elif type(event) is StreamReady:
                        out += self.on_ready
                    elif type(event) is StreamErrorReceived:
                        self.errors.append(event.error.condition)
                    elif type(event) is AuthenticationFailed:
                        self.failures.append(event.condition)
                    elif type(event) is PeerClosed:
                        self.peer_closed = True
                        # Our own answer is the closing tag the session queued.
                        assert out.endswith(b"</stream:stream>")
                        out = out[: -len(b"</stream:stream>")] + self.after_close
                        if self.answer_close:
                            out += b"</stream:stream>"
                writer.write(out)
        finally:
            self.eof.set()
            writer.close()


@contextlib.asynccontextmanager
async def hand_peer(peer: HandPeer) -> AsyncIterator[int]:
    """Listen for the client; on exit, wait until the peer saw the connection end."""
    listener = await asyncio.start_server(peer, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
        await asyncio.gather(*peer.tasks)
    finally:
        listener.close()
        await listener.wait_closed()


def plain_client(port: int, **options: Any) -> Any:
    return aio.connect(
        f"juliet@{DOMAIN}/balcony",
        USERS["juliet"],
        host="127.0.0.1",
        port=port,
        tls=TLSPolicy.DISABLED,
        timeout=TIMEOUT,
        **options,
    )


@pytest.mark.asyncio
@bounded
async def test_close_timeout_when_the_peer_never_answers() -> None:
    peer = HandPeer(answer_close=False)
    async with hand_peer(peer) as port:
        stream = await plain_client(port, close_timeout=0.2)
        await asyncio.wait_for(stream.close(), TIMEOUT)
        assert stream.close_reason == "timeout"
        await asyncio.wait_for(peer.eof.wait(), TIMEOUT)
    await nothing_left(stream)


@pytest.mark.asyncio
@bounded
async def test_a_refused_login_still_closes_politely() -> None:
    peer = HandPeer()
    async with hand_peer(peer) as port:
        with pytest.raises(aio.AuthenticationError) as failed:
            await aio.connect(
                f"juliet@{DOMAIN}",
                "wrong",
                host="127.0.0.1",
                port=port,
                tls=TLSPolicy.DISABLED,
                mechanisms=["SCRAM-SHA-1"],
                timeout=TIMEOUT,
            )
    assert peer.failures == ["not-authorized"]
    # Our closing tag reached the peer, and its answer reached us.
    assert peer.peer_closed
    stream = failed.value.stream
    assert stream is not None and stream.close_reason == "closed"
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_a_peer_sending_broken_xml_gets_our_stream_error() -> None:
    peer = HandPeer(on_ready=b"<message><body>fine</body></message><message><body></message>")
    async with hand_peer(peer) as port:
        stream = await plain_client(port)
        events = [e async for e in stream.events()]
    stanzas = [e for e in events if type(e) is StanzaReceived]
    assert [_body(e.element) for e in stanzas] == ["fine"]
    (sent,) = [e for e in events if type(e) is StreamErrorSent]
    assert sent.error.condition == "not-well-formed"
    assert stream.close_reason == "error"
    assert peer.errors == ["not-well-formed"]
    await nothing_left(stream)


@pytest.mark.asyncio
@bounded
async def test_stanzas_after_our_close_reach_the_application() -> None:
    late = (
        b"<message from='romeo@example.com' type='chat'><body>wait</body></message>"
        b"<message from='romeo@example.com' type='chat'><body>one more</body></message>"
    )
    peer = HandPeer(after_close=late)
    async with hand_peer(peer) as port:
        stream = await plain_client(port)
        await stream.send_message("romeo@example.com", "bye")
        await asyncio.wait_for(stream.close(), TIMEOUT)
        assert stream.close_reason == "closed"
        assert [_body(s) async for s in stream] == ["wait", "one more"]
        assert peer.received == [
            b"<message to='romeo@example.com' type='chat'><body>bye</body></message>"
        ]
        with pytest.raises(LocalProtocolError):
            await stream.send_message("romeo@example.com", "after our closing tag")
    await nothing_left(stream)


@pytest.mark.asyncio
@bounded
async def test_never_a_write_after_our_closing_tag() -> None:
    peer = HandPeer(after_close=b"<message><body>late</body></message>")
    async with hand_peer(peer) as port:
        stream = await plain_client(port)
        sent: list[bytes] = []
        transport = stream.transport
        original = transport.write

        def spy(data: bytes) -> None:
            sent.append(bytes(data))
            original(data)

        transport.write = spy  # type: ignore[method-assign]
        await stream.close()
        assert sent == [b"</stream:stream>"]


# --- link-local (XEP-0174)


@pytest.mark.asyncio
@bounded
async def test_link_local_messages_and_one_connection_per_pair() -> None:
    registry = LinkLocalRegistry()
    got: list[str] = []

    async def handler(stream: aio.XMPPStream) -> None:
        # Held by the session until the initiator's first stanza arrives.
        await stream.send_message("juliet@balcony", "first from romeo")
        async for stanza in stream:
            got.append(_body(stanza))

    async with aio.serve_link_local(handler, "romeo@garden", registry=registry) as srv:
        assert srv.streams == frozenset()
        mine = LinkLocalRegistry()
        async with aio.connect_link_local(
            "juliet@balcony",
            "romeo@garden",
            host="127.0.0.1",
            port=srv.port,
            registry=mine,
            close_timeout=2,
        ) as stream:
            assert stream.session.kind is StreamKind.LINK_LOCAL
            with pytest.raises(LocalProtocolError):
                await aio.connect_link_local(
                    "juliet@balcony", "romeo@garden", host="127.0.0.1", port=srv.port, registry=mine
                )
            # A second stream from the same contact is refused by the recipient.
            with pytest.raises(aio.StreamErrorError) as refused:
                await aio.connect_link_local(
                    "juliet@balcony", "romeo@garden", host="127.0.0.1", port=srv.port
                )
            assert refused.value.condition == "conflict"
            await stream.send_message("romeo@garden", "hello")
            first = await asyncio.wait_for(anext(stream), TIMEOUT)
            assert _body(first) == "first from romeo"
        assert stream.close_reason == "closed"
        assert mine.may_connect("juliet@balcony", "romeo@garden")
    assert got == ["hello"]
    assert registry.may_connect("romeo@garden", "juliet@balcony")
    assert others() == set()
