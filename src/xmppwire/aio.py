"""asyncio adapter over the sans-I/O stream session.

The only module of xmppwire that imports asyncio. Every protocol decision
(what to answer, when a stream is ready, when it is over) is the
:class:`~xmppwire.session.StreamSession`'s; this module moves bytes between it
and a transport, runs the TLS handshake it asks for, keeps the timer it wants
and turns its events into awaitables.

Client::

    async with xmppwire.aio.connect("juliet@example.com", "pw") as stream:
        await stream.send_message("romeo@example.com", "hi")
        async for stanza in stream:
            ...

Receiving entity::

    async def handler(stream: XMPPStream) -> None:
        async for stanza in stream:
            ...

    async with xmppwire.aio.serve(handler, domains=["example.com"],
                                  authenticator=PasswordTable({...}),
                                  ssl_context=ctx) as server:
        await server.serve_forever()

See docs/aio.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import ssl
import sys
import weakref
import xml.etree.ElementTree as ET
from asyncio import selector_events, sslproto
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar

from .errors import LocalProtocolError, XMPPWireError
from .events import ElementReceived
from .jid import JID
from .session import (
    MECHANISMS,
    AuthenticationFailed,
    Authenticator,
    BindingFailed,
    CloseTransport,
    Deadline,
    Event,
    LinkLocalRegistry,
    Role,
    SessionState,
    StanzaReceived,
    StartTLS,
    StreamError,
    StreamErrorReceived,
    StreamErrorSent,
    StreamKind,
    StreamReady,
    StreamSession,
    TLSFailed,
    TLSPolicy,
    default_binder,
)
from .session.binding import ResourceBinder
from .session.deadlines import DEFAULT_TIMEOUTS, Timeouts

__all__ = [
    "AuthenticationError",
    "ConnectFailed",
    "StreamErrorError",
    "TLSError",
    "Timeouts",
    "XMPPServer",
    "XMPPStream",
    "connect",
    "connect_link_local",
    "serve",
    "serve_link_local",
]

log = logging.getLogger("xmppwire.aio")

_T = TypeVar("_T")
#: Once our closing tag is out, the backlog may grow to this many times its
#: bounds before reading pauses again.
_CLOSING_BACKLOG_FACTOR = 16
#: Deadlines about the peer's silence, put off while we hold its bytes unread.
_SILENCE_DEADLINES = frozenset({"idle", "keepalive"})
#: Shared by every stream that reads (each ``frozenset()`` is a new object).
_NOT_PAUSED: frozenset[str] = frozenset()
Handler = Callable[["XMPPStream"], Awaitable[None]]


class ConnectFailed(XMPPWireError, ConnectionError):
    """The stream ended (or could not be set up) before it was ready.

    ``stream`` is the closed :class:`XMPPStream` when one was opened (its
    ``close_reason``, ``stream_error`` and ``events()`` say how it ended).
    """

    stream: XMPPStream | None = None


class TLSError(ConnectFailed):
    """STARTTLS was refused, or the handshake failed."""


class AuthenticationError(ConnectFailed):
    """SASL authentication or resource binding was refused; ``condition`` says why."""

    def __init__(self, message: str, condition: str) -> None:
        super().__init__(message)
        self.condition = condition


class StreamErrorError(ConnectFailed):
    """The peer sent ``<stream:error/>`` before the stream was ready."""

    def __init__(self, error: StreamError) -> None:
        text = f": {error.text}" if error.text else ""
        super().__init__(f"stream error {error.condition}{text}")
        self.error = error
        self.condition = error.condition


def _address(peername: Any) -> str:
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername or "an unknown address")


def _consume(future: asyncio.Future[Any]) -> None:
    # A failure nobody awaits (a server-side stream that never got ready)
    # must not be reported as "exception never retrieved".
    if not future.cancelled():
        future.exception()


class XMPPStream(asyncio.Protocol):
    """One XMPP stream over one connection, either end.

    Iterate over it (``async for stanza in stream``) for the stanzas
    (:class:`~xmppwire.events.ElementReceived`), or over :meth:`events` for
    every session event (stream errors, the peer's close...). Use one of the
    two: they read the same queue. Stanzas the peer sends after our closing
    tag are still delivered; iteration ends when the connection is gone.

    The asyncio ``Protocol`` methods (``connection_made``, ``data_received``...)
    belong to the transport; don't call them.
    """

    # A server holds one per connection: no instance dict, and what an idle
    # stream doesn't use (the event queue, drain waiters) only while in use.
    __slots__ = (
        "__weakref__",
        "_abort_timer",
        "_burst",
        "_close_timeout",
        "_closed",
        "_drain_waiters",
        "_ended",
        "_event_waiters",
        "_events",
        "_extra",
        "_handshake_timeout",
        "_loop",
        "_max_queued_bytes",
        "_max_queued_events",
        "_paused_for",
        "_queued_bytes",
        "_queued_events",
        "_rate",
        "_rate_held",
        "_rate_timer",
        "_ready",
        "_refuse_with",
        "_server_hostname",
        "_session",
        "_ssl_context",
        "_timer",
        "_timer_deadline",
        "_tls_pending",
        "_tls_task",
        "_tokens",
        "_tokens_at",
        "_transport",
        "_write_paused",
        "close_reason",
        "exception",
        "stream_error",
    )

    def __init__(
        self,
        session: StreamSession,
        *,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        close_timeout: float = 5.0,
        handshake_timeout: float = 30.0,
        max_queued_events: int = 1000,
        max_queued_bytes: int = 1 << 20,
        max_bytes_per_second: float | None = None,
        burst_bytes: int | None = None,
        refuse_with: str | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._session = session
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._close_timeout = close_timeout
        self._handshake_timeout = handshake_timeout
        self._transport: asyncio.Transport | None = None
        # Events not consumed yet (None: the connection is gone), and the
        # consumers waiting for one; both None while empty.
        self._events: collections.deque[Event | None] | None = None
        self._event_waiters: list[asyncio.Future[None]] | None = None
        self._ended = False
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._ready.add_done_callback(_consume)
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._tls_task: asyncio.Task[None] | None = None
        self._tls_pending: list[bytes] | None = None
        self._extra: dict[str, Any] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: Deadline | None = None
        self._abort_timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] | None = None
        # Read backpressure: what the application has not consumed yet.
        self._max_queued_events = max_queued_events
        self._max_queued_bytes = max_queued_bytes
        self._queued_events = 0
        self._queued_bytes = 0
        # Why reading is paused ("backlog", "rate"); reading resumes when none is left.
        self._paused_for = _NOT_PAUSED
        # Token bucket of the byte-rate limit.
        self._rate = max_bytes_per_second
        self._burst = float(burst_bytes if burst_bytes is not None else (max_bytes_per_second or 0))
        self._tokens = self._burst
        self._tokens_at = self._loop.time()
        self._rate_timer: asyncio.TimerHandle | None = None
        self._rate_held = bytearray()
        self._refuse_with = refuse_with
        #: The peer's ``<stream:error/>``, if it sent one.
        self.stream_error: StreamError | None = None
        #: ``CloseTransport.reason`` once the stream is over (``closed``,
        #: ``timeout``, ``error``, ``eof``), else ``None``.
        self.close_reason: str | None = None
        #: What broke the connection from our side (TLS failure...), if anything.
        self.exception: BaseException | None = None

    # ------------------------------------------------------------ public API

    @property
    def session(self) -> StreamSession:
        """The session machine (read its state; write only through this object)."""
        return self._session

    @property
    def jid(self) -> str | None:
        """Our address: a client's bound full JID."""
        return self._session.jid

    @property
    def peer(self) -> str | None:
        """The peer's address: on a server, the client's bound full JID."""
        return self._session.peer

    @property
    def transport(self) -> asyncio.Transport | None:
        """The current transport (the TLS one once STARTTLS is done)."""
        return self._transport

    @property
    def ready(self) -> bool:
        """Stanzas may be sent: negotiation is over and no closing tag went out."""
        return self._session.state is SessionState.READY

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The transport's extra info (``socket``, ``peername``, ``ssl_object``...),
        still answered for the socket and addresses once the connection is gone."""
        transport = self._transport
        if transport is not None and not self._closed.done():
            value = transport.get_extra_info(name)
            if value is not None:
                return value
        return self._extra.get(name, default)

    @property
    def closed(self) -> bool:
        """The connection is gone and nothing of ours is left running."""
        return self._closed.done()

    async def wait_ready(self) -> None:
        """Wait until negotiation is over; raises :class:`ConnectFailed` if it can't be."""
        await asyncio.shield(self._ready)

    async def wait_closed(self) -> None:
        """Wait until the connection is gone."""
        await asyncio.shield(self._closed)

    async def send(self, stanza: bytes | str | ET.Element) -> None:
        """Send one stanza (bytes, a string or an ElementTree element)."""
        self._write(self._session.send(stanza))
        await self._drain()

    async def send_message(
        self,
        to: str | JID,
        body: str,
        *,
        type: str = "chat",
        id: str | None = None,
        from_: str | JID | None = None,
    ) -> None:
        """Send a ``<message/>`` with a ``<body/>`` (``from_``: a server speaking for a sender)."""
        ns = self._session.kind.content_namespace
        attrs = {"to": str(to), "type": type}
        if id is not None:
            attrs["id"] = id
        if from_ is not None:
            attrs["from"] = str(from_)
        message = ET.Element(f"{{{ns}}}message", attrs)
        ET.SubElement(message, f"{{{ns}}}body").text = body
        await self.send(message)

    async def send_presence(self, *, to: str | JID | None = None, type: str | None = None) -> None:
        """Send a ``<presence/>`` (no arguments: initial presence, so the server routes to us)."""
        ns = self._session.kind.content_namespace
        attrs = {}
        if to is not None:
            attrs["to"] = str(to)
        if type is not None:
            attrs["type"] = type
        await self.send(ET.Element(f"{{{ns}}}presence", attrs))

    async def close(self) -> None:
        """Close the stream the polite way and wait until the connection is gone.

        Our ``</stream:stream>``, then the peer's (delivering what it still
        sends) or the close timeout, then TLS close_notify, then TCP close.
        """
        if not self._closed.done():
            state = self._session.state
            if state is SessionState.STARTING_TLS:
                self.abort()
            elif state not in (SessionState.CLOSING, SessionState.CLOSED):
                self._write(self._session.close())
                self._rearm()
                if "backlog" in self._paused_for and not self._over_backlog(0.5):
                    self._resume("backlog")
        try:
            # Bounded even if the peer ignores TLS close_notify.
            await asyncio.wait_for(asyncio.shield(self._closed), 2 * self._close_timeout + 1)
        except asyncio.TimeoutError:
            self.abort()
            await asyncio.shield(self._closed)

    def abort(self) -> None:
        """Drop the connection at once: no closing tag, no close_notify."""
        if self._closed.done():
            return
        for event in self._session.connection_lost():
            self._record(event)
        if self._tls_task is not None and not self._tls_task.done():
            self._tls_task.cancel()
        if self._transport is not None:
            self._transport.abort()
            # The transport closes its socket in a callback it has just
            # scheduled; ours runs after it.
            self._loop.call_soon(self._finish, None)
        else:
            self._finish(None)

    def __aiter__(self) -> XMPPStream:
        return self

    async def __anext__(self) -> ElementReceived:
        while True:
            event = await self._next_event()
            if event is None:
                raise StopAsyncIteration
            if type(event) is StanzaReceived:
                return event.element

    def events(self) -> AsyncIterator[Event]:
        """Every session event, in order, until the connection is gone."""
        return _EventIterator(self)

    async def __aenter__(self) -> XMPPStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
            return
        # Cancelled or failed: don't linger on a handshake, but leave nothing open.
        self.abort()
        await self._settle()

    # ---------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        for name in ("socket", "peername", "sockname"):
            self._extra[name] = transport.get_extra_info(name)
        if self._refuse_with is not None:
            # Over a server limit: our header, the error and our closing tag at once.
            self._write(
                self._session.send_stream_error(
                    self._refuse_with, text="the server is not taking more connections now"
                )
            )
        elif self._session.role is Role.INITIATOR:
            try:
                self._write(self._session.open())
            except LocalProtocolError as exc:
                self._fail(exc)
        self._rearm()

    def data_received(self, data: bytes) -> None:
        if self._closed.done():
            return
        if self._tls_pending is not None:
            # Decrypted bytes can arrive between the end of the handshake and
            # our tls_started(): they belong to the restarted stream.
            self._tls_pending.append(bytes(data))
            return
        if self._rate is not None:
            if self._rate_held:
                self._rate_held += data
                return
            data = self._within_rate(data)
            if not data:
                return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        try:
            events = self._session.receive_data(data)
        except LocalProtocolError as exc:
            # Bytes while TLS should be starting: they belong to TLS.
            self._fail(TLSError(str(exc)))
            return
        self._dispatch(events)
        if self._over_backlog(1):
            self._pause("backlog")

    def eof_received(self) -> bool | None:
        if self._rate_held and not self._closed.done():
            # The peer is done sending: what the rate limit held goes now.
            held, self._rate_held = bytes(self._rate_held), bytearray()
            self._feed(held)
        if not self._closed.done():
            self._dispatch(self._session.receive_data(b""))
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            for event in self._session.connection_lost():
                self._record(event)
        self._finish(exc)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writers()

    # -------------------------------------------------------------- insides

    def _dispatch(self, events: Iterable[Event]) -> None:
        session = self._session
        for event in events:
            kind = type(event)
            if kind is StartTLS:
                self._write(session.data_to_send())
                self._start_tls(event.pending)
                continue
            self._record(event)
            if kind is StreamReady:
                if not self._ready.done():
                    self._ready.set_result(None)
            elif kind is StreamErrorReceived:
                self.stream_error = event.error
                self._not_ready(StreamErrorError(event.error))
            elif kind is StreamErrorSent:
                self._not_ready(
                    ConnectFailed(f"we sent stream error {event.error.condition}: {event.message}")
                )
            elif kind is TLSFailed:
                self._not_ready(TLSError("the peer refused STARTTLS"))
            elif kind in (AuthenticationFailed, BindingFailed) and session.role is Role.INITIATOR:
                what = "authentication" if kind is AuthenticationFailed else "resource binding"
                self._not_ready(
                    AuthenticationError(f"{what} failed: {event.condition}", event.condition)
                )
                if session.state not in (SessionState.CLOSING, SessionState.CLOSED):
                    self._write(session.close())
            elif kind is AuthenticationFailed:
                # A server operator wants failed logins on record (password guessing).
                log.warning(
                    "failed login from %s: %s (%s)",
                    _address(self._extra.get("peername")),
                    event.condition,
                    event.mechanism or "no mechanism",
                )
            elif kind is CloseTransport:
                self._write(session.data_to_send())
                self._close_transport()
        self._write(session.data_to_send())
        self._rearm()

    def _record(self, event: Event) -> None:
        kind = type(event)
        if kind is StanzaReceived:
            self._queued_bytes += len(event.element.raw)  # type: ignore[attr-defined]
        elif kind is CloseTransport and self.close_reason is None:
            self.close_reason = event.reason  # type: ignore[attr-defined]
        self._queued_events += 1
        self._put(event)

    def _over_backlog(self, share: float) -> bool:
        if self._session.state is SessionState.CLOSING:
            # After our closing tag the peer's must still be read, behind
            # whatever it had in flight: more room, still a bound.
            share *= _CLOSING_BACKLOG_FACTOR
        return (
            self._queued_events > self._max_queued_events * share
            or self._queued_bytes > self._max_queued_bytes * share
        )

    def _consumed(self, event: Event) -> None:
        self._queued_events -= 1
        if type(event) is StanzaReceived:
            self._queued_bytes -= len(event.element.raw)  # type: ignore[attr-defined]
        # Resume at half the bounds, not just under them: one read per stanza
        # consumed would be a pause and a resume per read.
        if "backlog" in self._paused_for and not self._over_backlog(0.5):
            self._resume("backlog")

    def _pause(self, reason: str) -> None:
        if reason in self._paused_for:
            return
        self._paused_for |= {reason}
        transport = self._transport
        if transport is not None and self._tls_pending is None and not transport.is_closing():
            transport.pause_reading()

    def _resume(self, reason: str) -> None:
        self._paused_for = (self._paused_for - {reason}) or _NOT_PAUSED
        if self._paused_for:
            return
        transport = self._transport
        # While TLS starts, reading belongs to the handshake.
        if transport is not None and self._tls_pending is None and not transport.is_closing():
            transport.resume_reading()

    def _within_rate(self, data: bytes) -> bytes:
        """The part of ``data`` the byte-rate limit lets through now; the rest
        is held (reading paused) and fed as the bucket refills: delayed, not dropped."""
        rate = self._rate
        assert rate is not None
        now = self._loop.time()
        self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * rate)
        self._tokens_at = now
        allowed = max(0, min(len(data), int(self._tokens)))
        self._tokens -= allowed
        if allowed < len(data):
            self._rate_held += data[allowed:]
            self._pause("rate")
            self._schedule_refill()
        return data[:allowed]

    def _schedule_refill(self) -> None:
        rate = self._rate
        assert rate is not None
        # Wait until the held bytes (or a burst's worth) may pass.
        want = min(len(self._rate_held), max(self._burst, 1.0))
        delay = max(0.0, (want - self._tokens) / rate)
        self._rate_timer = self._loop.call_later(delay, self._refilled)

    def _refilled(self) -> None:
        self._rate_timer = None
        held, self._rate_held = bytes(self._rate_held), bytearray()
        if self._closed.done() or not held:
            return
        passing = self._within_rate(held)
        if passing:
            self._feed(passing)
        if not self._rate_held and not self._closed.done():
            self._resume("rate")

    def _not_ready(self, exc: BaseException) -> None:
        if not self._ready.done():
            self._ready.set_exception(exc)

    def _write(self, data: bytes) -> None:
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    async def _drain(self) -> None:
        if not self._write_paused or self._closed.done():
            return
        waiter = self._loop.create_future()
        if self._drain_waiters is None:
            self._drain_waiters = []
        self._drain_waiters.append(waiter)
        await waiter

    def _wake_writers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def _rearm(self) -> None:
        deadline = self._session.deadline
        if deadline == self._timer_deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None and not self._closed.done():
            self._timer = self._loop.call_later(deadline.seconds, self._deadline_fired, deadline)

    def _deadline_fired(self, deadline: Deadline) -> None:
        self._timer = None
        if self._closed.done():
            return
        if self._paused_for and deadline.kind in _SILENCE_DEADLINES:
            # We are the ones not reading: the peer can't be judged silent.
            self._timer = self._loop.call_later(deadline.seconds, self._deadline_fired, deadline)
            return
        self._dispatch(self._session.deadline_passed(deadline))

    def _close_transport(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # close(), not abort(): on a TLS transport it sends close_notify first.
        transport.close()
        self._abort_timer = self._loop.call_later(self._close_timeout, self._abort_transport)

    def _abort_transport(self) -> None:
        self._abort_timer = None
        if self._transport is not None and not self._closed.done():
            self._transport.abort()

    def _start_tls(self, pending: bytes) -> None:
        transport = self._transport
        assert transport is not None
        if pending:
            # loop.start_tls() can't be handed bytes already read.
            self._fail(
                TLSError(
                    f"the peer sent {len(pending)} bytes of TLS before the STARTTLS exchange was "
                    "over; asyncio's start_tls can't take them"
                )
            )
            return
        if self._ssl_context is None:
            self._fail(TLSError("STARTTLS is due but no SSL context was given"))
            return
        # Nothing may reach data_received until the TLS layer owns the socket.
        transport.pause_reading()
        self._tls_pending = []
        self._tls_task = self._loop.create_task(self._run_tls(transport, self._ssl_context))

    async def _run_tls(self, transport: asyncio.Transport, context: ssl.SSLContext) -> None:
        server_side = self._session.role is Role.RECEIVER
        options: dict[str, Any] = {"ssl_handshake_timeout": self._handshake_timeout}
        if sys.version_info >= (3, 11):
            options["ssl_shutdown_timeout"] = self._close_timeout
        restore = _tls_protocol_without_own_buffer(transport)
        try:
            tls_transport = await self._loop.start_tls(
                transport,
                self,
                context,
                server_side=server_side,
                server_hostname=None if server_side else self._server_hostname,
                **options,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = TLSError(f"TLS handshake failed: {exc}")
            failure.__cause__ = exc  # an untrusted certificate shows as SSLCertVerificationError
            self._fail(failure, transport)
            return
        finally:
            restore()
        if tls_transport is None or self._closed.done():
            self._fail(TLSError("the connection ended during the TLS handshake"), transport)
            return
        self._transport = tls_transport
        if self._paused_for:
            tls_transport.pause_reading()
        early, self._tls_pending = self._tls_pending or [], None
        self._tls_task = None  # done: nothing left to cancel or wait for
        self._write(self._session.tls_started())
        self._rearm()
        if early:
            self.data_received(b"".join(early))

    def _fail(self, exc: BaseException, transport: asyncio.BaseTransport | None = None) -> None:
        """Something outside the session broke the connection: drop it."""
        if self._closed.done():
            return
        if self.exception is None:
            self.exception = exc
        self._not_ready(exc)
        for event in self._session.connection_lost():
            self._record(event)
        for t in {transport, self._transport} - {None}:
            t.abort()  # type: ignore[attr-defined]
        self._loop.call_soon(self._finish, exc)

    def _finish(self, exc: BaseException | None) -> None:
        if self._closed.done():
            return
        for handle in (self._timer, self._abort_timer, self._rate_timer):
            if handle is not None:
                handle.cancel()
        self._timer = self._abort_timer = self._rate_timer = None
        task = self._tls_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        reason = exc or self.exception
        self._not_ready(
            ConnectFailed(
                f"the connection ended before the stream was ready{f': {reason}' if reason else ''}"
            )
        )
        self._put(None)
        self._wake_writers()
        self._closed.set_result(None)

    def _put(self, event: Event | None) -> None:
        if self._events is None:
            self._events = collections.deque()
        self._events.append(event)
        waiters, self._event_waiters = self._event_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def _next_event(self) -> Event | None:
        while not self._ended:
            events = self._events
            if events:
                event = events.popleft()
                if not events:
                    # An idle stream keeps no deque (a block of 64 slots).
                    self._events = None
                if event is None:
                    self._ended = True
                    return None
                self._consumed(event)
                return event
            waiter = self._loop.create_future()
            if self._event_waiters is None:
                self._event_waiters = []
            self._event_waiters.append(waiter)
            await waiter
        return None

    async def _settle(self) -> None:
        """Wait for the transport's own callbacks after an abort, shielded from cancellation."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(self._closed)
        tls_task = self._tls_task
        if tls_task is not None and not tls_task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([tls_task], timeout=self._close_timeout)


#: The receive buffer every TLS connection of one event loop reads into:
#: asyncio's own size, so bulk reads are as large as without us.
_TLS_READ_BUFFER = 256 * 1024
#: A view of it per loop (views are shared too: a slice of one is a new view).
_shared_tls_buffers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


def _tls_protocol_without_own_buffer(transport: asyncio.BaseTransport) -> Callable[[], None]:
    """Have the ``SSLProtocol`` that ``loop.start_tls(transport, ...)`` is about
    to make read into the loop's shared buffer, without allocating its own.

    ``SSLProtocol.__init__`` allocates ``max_size`` (256 KiB) at once; freed
    again a moment later, such buffers still left the heap fragmented: 35 KB
    more RSS per connection when 50 clients logged in at a time. So the class
    attribute is lowered for the synchronous step in which start_tls()
    builds the protocol, and restored in the ``set_protocol()`` call that
    follows it (3.11-3.13), where the protocol gets the shared buffer; the
    returned function restores it in any case. A protocol another thread
    would build in that window gets a one-byte buffer, which its first read
    replaces with a full one. Nothing is changed where the attributes are not
    where those versions keep them.
    """
    protocol_class = getattr(sslproto, "SSLProtocol", None)
    original = getattr(protocol_class, "max_size", None)
    if (
        not isinstance(transport, selector_events._SelectorSocketTransport)
        or not isinstance(original, int)
        or "set_protocol" in vars(transport)
    ):
        return lambda: None
    set_protocol = transport.set_protocol

    def restore() -> None:
        protocol_class.max_size = original  # type: ignore[union-attr]
        vars(transport).pop("set_protocol", None)

    def set_protocol_then_share(protocol: asyncio.BaseProtocol) -> None:
        restore()
        set_protocol(protocol)
        _share_tls_read_buffer(transport, protocol)

    protocol_class.max_size = 1  # type: ignore[union-attr]
    transport.set_protocol = set_protocol_then_share  # type: ignore[method-assign]
    # Should start_tls() change and not call set_protocol(): the next turn.
    asyncio.get_running_loop().call_soon(restore)
    return restore


def _share_tls_read_buffer(
    transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol
) -> None:
    """Make asyncio's SSL protocol read into its loop's shared buffer instead of its own.

    Since Python 3.11 ``asyncio.sslproto.SSLProtocol`` keeps a 256 KiB
    ``bytearray`` per connection for the bytes read from the socket (a
    17 KiB one was still a quarter of an idle connection, docs/aio.md). On a
    selector loop the buffer only lives from ``get_buffer()`` through
    ``recv_into()`` to ``buffer_updated()``, one synchronous callback that
    copies the bytes into the protocol's ``MemoryBIO`` before anything else
    runs, so every connection of the loop can use the same one. Proactor
    loops keep a buffer across an overlapped read, and other TLS
    implementations (uvloop's) keep theirs elsewhere: those, and any
    ``SSLProtocol`` whose attributes are not where 3.11-3.13 keep them, are
    left as they are.
    """
    buffer = getattr(protocol, "_ssl_buffer", None)
    if (
        not isinstance(transport, selector_events._SelectorSocketTransport)
        or not isinstance(buffer, bytearray)
        or not isinstance(getattr(protocol, "_ssl_buffer_view", None), memoryview)
        or not isinstance(getattr(protocol, "max_size", None), int)
    ):
        return
    loop = asyncio.get_running_loop()
    view = _shared_tls_buffers.get(loop)
    if view is None:
        view = _shared_tls_buffers[loop] = memoryview(bytearray(_TLS_READ_BUFFER))
    # get_buffer() allocates only when its buffer is shorter than max_size.
    protocol.max_size = len(view)  # type: ignore[attr-defined]
    protocol._ssl_buffer = view.obj  # type: ignore[attr-defined]
    protocol._ssl_buffer_view = view  # type: ignore[attr-defined]


class _EventIterator:
    __slots__ = ("_stream",)

    def __init__(self, stream: XMPPStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _EventIterator:
        return self

    async def __anext__(self) -> Event:
        event = await self._stream._next_event()
        if event is None:
            raise StopAsyncIteration
        return event


class _Opening(Generic[_T]):
    """What :func:`connect` and :func:`serve` return: await it, or use ``async with``."""

    def __init__(self, opener: Callable[[], Awaitable[_T]]) -> None:
        self._opener = opener
        self._value: _T | None = None

    def __await__(self) -> Generator[Any, None, _T]:
        return self._opener().__await__()

    async def __aenter__(self) -> _T:
        self._value = await self._opener()
        return self._value

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._value is not None
        await self._value.__aexit__(exc_type, exc, tb)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ client


def default_ssl_context(cafile: str | None = None) -> ssl.SSLContext:
    """Certificate and host name verification on; ``cafile`` replaces the system CAs."""
    return ssl.create_default_context(cafile=cafile)


async def _open(stream: XMPPStream, host: str, port: int, timeout: float) -> XMPPStream:
    loop = asyncio.get_running_loop()

    async def establish() -> None:
        await loop.create_connection(lambda: stream, host, port)
        await stream.wait_ready()

    try:
        await asyncio.wait_for(establish(), timeout)
    except ConnectFailed as exc:
        # Refused (credentials, stream error...): the stream is closing by the
        # rules already; let the closing tags and close_notify finish.
        await stream.close()
        exc.stream = stream
        raise
    except BaseException as exc:
        stream.abort()
        await stream._settle()
        if isinstance(exc, asyncio.TimeoutError):
            raise ConnectFailed(f"no ready stream with {host}:{port} within {timeout} s") from None
        raise
    return stream


def connect(
    jid: str | JID,
    password: str,
    *,
    host: str | None = None,
    port: int = 5222,
    ssl_context: ssl.SSLContext | None = None,
    cafile: str | None = None,
    server_hostname: str | None = None,
    mechanisms: Iterable[str] = MECHANISMS,
    resource: str | None = None,
    tls: TLSPolicy = TLSPolicy.REQUIRED,
    allow_plain_without_tls: bool = False,
    close_timeout: float = 5.0,
    timeout: float = 30.0,
) -> _Opening[XMPPStream]:
    """Connect as a client: TCP, STARTTLS, SASL, bind; returns a ready :class:`XMPPStream`.

    ``host`` defaults to the JID's domain (no SRV lookup). The server's
    certificate is verified against ``server_hostname`` (default: the JID's
    domain) with ``ssl_context``, or the system CAs, or ``cafile``.
    ``timeout`` bounds everything up to the bound resource; ``close_timeout``
    how long :meth:`XMPPStream.close` waits for the server's closing tag.
    Raises :class:`ConnectFailed` (or a subclass) when no stream comes of it.
    """
    parsed = JID(str(jid))
    domain = parsed.domainpart
    context = ssl_context
    if context is None and tls is not TLSPolicy.DISABLED:
        context = default_ssl_context(cafile)
    mechanisms = tuple(mechanisms)

    async def opener() -> XMPPStream:
        session = StreamSession(
            Role.INITIATOR,
            StreamKind.C2S,
            jid=str(parsed),
            password=password,
            mechanisms=mechanisms,
            resource=resource,
            tls=tls,
            allow_plain_without_tls=allow_plain_without_tls,
            close_timeout=close_timeout,
        )
        stream = XMPPStream(
            session,
            ssl_context=context,
            server_hostname=server_hostname or domain,
            close_timeout=close_timeout,
        )
        return await _open(stream, host or domain, port, timeout)

    return _Opening(opener)


def connect_link_local(
    jid: str,
    peer: str,
    *,
    host: str,
    port: int,
    registry: LinkLocalRegistry | None = None,
    close_timeout: float = 5.0,
    timeout: float = 30.0,
) -> _Opening[XMPPStream]:
    """Open a XEP-0174 stream from ``jid`` to the contact ``peer`` at ``host:port``.

    With a ``registry`` (shared by all of ``jid``'s link-local streams) a second
    connection to the same contact is refused with ``LocalProtocolError`` until
    the previous one is over.
    """

    async def opener() -> XMPPStream:
        if registry is not None and not registry.may_connect(str(JID(jid)), str(JID(peer))):
            raise LocalProtocolError(f"a connection with {peer} exists or is still closing")
        session = StreamSession(
            Role.INITIATOR,
            StreamKind.LINK_LOCAL,
            jid=jid,
            peer=peer,
            registry=registry,
            close_timeout=close_timeout,
        )
        stream = XMPPStream(session, close_timeout=close_timeout)
        return await _open(stream, host, port, timeout)

    return _Opening(opener)


# ------------------------------------------------------------------ server


class XMPPServer:
    """A listening receiving entity; each ready stream is handed to the handler.

    When the handler returns, its stream is closed (politely). Use
    ``async with`` or call :meth:`aclose`.
    """

    def __init__(
        self,
        handler: Handler,
        factory: Callable[[str | None], XMPPStream],
        *,
        max_connections: int | None = None,
        max_negotiating: int | None = None,
    ) -> None:
        self._handler = handler
        self._factory = factory
        self._server: asyncio.AbstractServer | None = None
        self._streams: set[XMPPStream] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._max_connections = max_connections
        self._max_negotiating = max_negotiating
        self._connections = 0
        self._negotiating = 0
        #: How many connections were refused for being over a limit.
        self.refused = 0

    @property
    def sockets(self) -> tuple[Any, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    @property
    def port(self) -> int:
        """The port listened on (useful with ``port=0``)."""
        return int(self.sockets[0].getsockname()[1])

    @property
    def streams(self) -> frozenset[XMPPStream]:
        """Streams the server is not done with: the connection is there, or the
        handler has not returned yet."""
        return frozenset(self._streams)

    @property
    def connections(self) -> int:
        """Connections open now, refused ones not counted."""
        return self._connections

    @property
    def negotiating(self) -> int:
        """Connections whose stream is not ready yet, refused ones not counted."""
        return self._negotiating

    def _accept(self) -> XMPPStream:
        full = _at_limit(self._connections, self._max_connections) or _at_limit(
            self._negotiating, self._max_negotiating
        )
        # RFC 6120 §4.9.3.17: the server lacks the resources to serve the stream.
        refusal = "resource-constraint" if full else None
        stream = self._factory(refusal)
        if refusal is None:
            self._connections += 1
            self._negotiating += 1
            stream._ready.add_done_callback(self._negotiated)
            stream._closed.add_done_callback(self._disconnected)
        else:
            self.refused += 1
            log.warning("refusing a connection: over a server limit")
        self._streams.add(stream)
        task = asyncio.get_running_loop().create_task(self._run(stream))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return stream

    def _negotiated(self, _future: asyncio.Future[None]) -> None:
        self._negotiating -= 1

    def _disconnected(self, _future: asyncio.Future[None]) -> None:
        self._connections -= 1

    async def _run(self, stream: XMPPStream) -> None:
        try:
            try:
                await stream.wait_ready()
            except ConnectFailed:
                await stream.wait_closed()
                return
            try:
                await self._handler(stream)
            except asyncio.CancelledError:
                stream.abort()
                raise
            except Exception:
                log.exception("stream handler failed; closing the stream")
            await stream.close()
        finally:
            if not stream.closed:
                stream.abort()
                await stream._settle()
            self._streams.discard(stream)

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def aclose(self) -> None:
        """Stop listening, close every stream politely, wait for the handlers."""
        if self._server is not None:
            self._server.close()
        await asyncio.gather(*(s.close() for s in list(self._streams)), return_exceptions=True)
        if self._server is not None:
            # Since Python 3.12 this also waits for the connections to end.
            await self._server.wait_closed()
        tasks = list(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=1)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def __aenter__(self) -> XMPPServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _at_limit(count: int, limit: int | None) -> bool:
    return limit is not None and count >= limit


def serve(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 5222,
    *,
    domains: Iterable[str],
    authenticator: Authenticator,
    binder: ResourceBinder = default_binder,
    ssl_context: ssl.SSLContext | None = None,
    tls: TLSPolicy | None = None,
    allow_plain_without_tls: bool = False,
    close_timeout: float = 5.0,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    max_connections: int | None = 10_000,
    max_negotiating: int | None = 1_000,
    max_queued_events: int = 1000,
    max_queued_bytes: int = 1 << 20,
    max_bytes_per_second: float | None = None,
    burst_bytes: int | None = None,
) -> _Opening[XMPPServer]:
    """Listen for clients: STARTTLS with ``ssl_context``, SASL through
    ``authenticator`` (e.g. :class:`~xmppwire.session.PasswordTable`), binding
    through ``binder``; each ready stream goes to ``await handler(stream)``.

    TLS is required unless ``tls=TLSPolicy.DISABLED`` (then give no context).

    What a peer may cost (see docs/aio.md, "Exposing a server"):
    ``timeouts`` (negotiation deadline, 60 s by default, and an optional idle
    deadline); ``max_connections`` and ``max_negotiating``, over which a new
    connection gets ``<resource-constraint/>``; ``max_queued_events`` and
    ``max_queued_bytes``, over which reading pauses until the handler has
    consumed half; ``max_bytes_per_second`` (with ``burst_bytes``, default one
    second's worth), which delays reading, never drops.
    """
    served = list(domains)
    policy = tls or TLSPolicy.REQUIRED
    if policy is not TLSPolicy.DISABLED and ssl_context is None:
        raise ValueError("STARTTLS needs an ssl_context (or tls=TLSPolicy.DISABLED)")

    def make_stream(refuse_with: str | None) -> XMPPStream:
        session = StreamSession(
            Role.RECEIVER,
            StreamKind.C2S,
            domains=served,
            authenticator=authenticator,
            binder=binder,
            tls=policy,
            allow_plain_without_tls=allow_plain_without_tls,
            close_timeout=close_timeout,
            timeouts=timeouts,
        )
        return XMPPStream(
            session,
            ssl_context=ssl_context,
            close_timeout=close_timeout,
            max_queued_events=max_queued_events,
            max_queued_bytes=max_queued_bytes,
            max_bytes_per_second=max_bytes_per_second,
            burst_bytes=burst_bytes,
            refuse_with=refuse_with,
        )

    server = functools.partial(
        XMPPServer, max_connections=max_connections, max_negotiating=max_negotiating
    )
    return _Opening(lambda: _listen(server(handler, make_stream), host, port))


def serve_link_local(
    handler: Handler,
    jid: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    registry: LinkLocalRegistry | None = None,
    close_timeout: float = 5.0,
) -> _Opening[XMPPServer]:
    """Accept XEP-0174 streams for our link-local name ``jid``.

    With a ``registry`` shared with :func:`connect_link_local`, a second
    stream from a contact already connected gets ``<conflict/>``; stanzas we
    send wait until the contact has sent one (the session holds them).
    """

    def make_stream(refuse_with: str | None) -> XMPPStream:
        session = StreamSession(
            Role.RECEIVER,
            StreamKind.LINK_LOCAL,
            jid=jid,
            registry=registry,
            close_timeout=close_timeout,
        )
        return XMPPStream(session, close_timeout=close_timeout, refuse_with=refuse_with)

    return _Opening(lambda: _listen(XMPPServer(handler, make_stream), host, port))


async def _listen(server: XMPPServer, host: str, port: int) -> XMPPServer:
    # A deeper accept queue than asyncio's 100: bursts of connections (a
    # reconnect storm, a load test) are refused by limits we chose, not by the kernel.
    server._server = await asyncio.get_running_loop().create_server(
        server._accept, host, port, backlog=1024
    )
    return server
