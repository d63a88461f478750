"""The stream session: one XMPP stream between two entities, without any I/O.

Bytes from the peer go into :meth:`StreamSession.receive_data`, which returns
events; what we want to do goes through methods (``open``, ``send``,
``close``...) that return the bytes to write. Replies the session makes on its
own while receiving (features, SASL challenges, our closing tag answering the
peer's) wait in :meth:`StreamSession.data_to_send`. Timeouts are values: the
session asks for a :class:`Deadline` and the caller reports it back through
:meth:`StreamSession.deadline_passed`.

This module is what both roles do alike: the receive loop, sending, stream
errors and the close handshake. Each role's headers and negotiation live in
``initiating.py`` and ``receiving.py``, the fields they share in ``core.py``,
and every state change in the tables of ``states.py``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import LocalProtocolError, RemoteProtocolError
from ..events import (
    STREAMS_NS,
    ElementReceived,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
)
from ..limits import DEFAULT_LIMITS, Limits
from . import binding, sasl
from .core import AfterPause, SessionCore, check_channel_binding
from .deadlines import DEFAULT_TIMEOUTS, Deadline, DeadlineAction, Timeouts
from .events import (
    CloseTransport,
    Event,
    HeaderReceived,
    PeerClosed,
    StanzaReceived,
    StartTLS,
    StreamErrorReceived,
    StreamErrorSent,
)
from .initiating import InitiatorNegotiation
from .linklocal import LinkLocalRegistry
from .negotiation import StreamFeatures
from .receiving import ReceiverNegotiation
from .serialize import check_chars, check_utf8_xml, serialize_element
from .states import Role, SessionState, StreamKind, TLSPolicy, Trigger
from .stream_errors import StreamError, build_stream_error, parse_stream_error

__all__ = ["Deadline", "StreamSession"]


class StreamSession(SessionCore):
    """One XMPP stream, from either end, as a state machine.

    ``role`` and ``kind`` say which end and which sort of stream. The other
    arguments depend on them:

    Initiating side:
      ``jid``: a client's JID (``user@domain``, optionally ``/resource``), an
      s2s initiator's domain, or our link-local name (``user@machine``).
      ``peer``: the domain or contact to connect to (a client defaults to its
      JID's domain). ``password``, ``mechanisms`` (preference order),
      ``resource`` (else the JID's, else the server picks), ``scram_nonce``
      (tests only: a fixed client nonce).

    Receiving side:
      ``domains``: the domains served (``host-unknown`` for others); for
      link-local, ``jid`` is our name. ``authenticator`` checks credentials
      (required for c2s). ``binder`` picks the resource (may override the
      client's, raises ``binding.ResourceConflict`` to refuse).

    Both: ``tls`` (default ``REQUIRED`` for c2s and s2s, ``DISABLED`` for
    link-local), ``tls_active`` (TLS from the first byte, XEP-0368) with its
    ``channel_binding``, ``allow_plain_without_tls``, ``lang``,
    ``close_timeout`` (seconds), ``registry`` (link-local), ``parser_factory``
    (a ``StreamParser`` class; the active implementation by default),
    ``limits`` and ``timeouts`` (negotiation and idle deadlines, see
    :mod:`xmppwire.session.deadlines`).
    """

    def __init__(
        self,
        role: Role,
        kind: StreamKind = StreamKind.C2S,
        *,
        jid: str | None = None,
        peer: str | None = None,
        password: str | None = None,
        mechanisms: Iterable[str] = sasl.MECHANISMS,
        resource: str | None = None,
        scram_nonce: str | None = None,
        domains: Iterable[str] = (),
        authenticator: sasl.Authenticator | None = None,
        binder: binding.ResourceBinder = binding.default_binder,
        max_auth_failures: int = 5,
        tls: TLSPolicy | None = None,
        tls_active: bool = False,
        channel_binding: tuple[str, bytes] | None = None,
        allow_plain_without_tls: bool = False,
        lang: str = "en",
        close_timeout: float = 5.0,
        registry: LinkLocalRegistry[StreamSession] | None = None,
        parser_factory: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        super().__init__(
            role,
            kind,
            mechanisms=mechanisms,
            tls=tls,
            tls_active=tls_active,
            channel_binding=channel_binding,
            allow_plain_without_tls=allow_plain_without_tls,
            lang=lang,
            close_timeout=close_timeout,
            registry=registry,
            timeouts=timeouts,
        )
        if role is Role.INITIATOR:
            self._negotiation = InitiatorNegotiation(
                self,
                jid=jid,
                peer=peer,
                password=password,
                resource=resource,
                scram_nonce=scram_nonce,
            )
        else:
            self._negotiation = ReceiverNegotiation(
                self,
                jid=jid,
                domains=domains,
                authenticator=authenticator,
                binder=binder,
                max_auth_failures=max_auth_failures,
            )
        factory = parser_factory
        if factory is None:
            from .. import StreamParser as factory
        self._parser = factory(limits=limits, pause_after=set(self._negotiation.pause_after))
        self._peer_spoke = False
        self._held: list[bytes] = []

    # ------------------------------------------------------------------ state

    @property
    def role(self) -> Role:
        return self._role

    @property
    def kind(self) -> StreamKind:
        return self._kind

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def authenticated(self) -> str | None:
        """The SASL username once authentication succeeded."""
        return self._authenticated

    @property
    def jid(self) -> str | None:
        """Our address: the bound full JID once bound (client), else the configured one."""
        return self._bound or self._local

    @property
    def peer(self) -> str | None:
        """The peer's address: a client's bound JID on a server, else from the header or config."""
        return self._peer_jid or self._peer

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    @property
    def peer_header(self) -> StreamHeader | None:
        return self._peer_header

    @property
    def features(self) -> StreamFeatures | None:
        """The last ``<stream:features/>`` received (initiating side)."""
        return self._negotiation.features

    @property
    def deadline(self) -> Deadline | None:
        """The deadline the session currently wants, or ``None``."""
        return self._deadlines.current

    @property
    def close_sent(self) -> bool:
        """Our ``</stream:stream>`` is written: from here a TCP half-close is allowed
        (plain TCP only; some servers then drop their own closing tag, so waiting
        for it first is kinder)."""
        return self._close_sent

    @property
    def held(self) -> tuple[bytes, ...]:
        """Link-local recipient: stanzas waiting for the initiator's first stanza."""
        return tuple(self._held)

    # --------------------------------------------------------------- our side

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, in order; empties the queue."""
        if not self._outbox:
            return b""
        data = b"".join(self._outbox)
        self._outbox.clear()
        return data

    def open(self) -> bytes:
        """Initiating side: send our stream header."""
        if self._role is not Role.INITIATOR:
            raise LocalProtocolError(
                "the receiving side answers the peer's header; it doesn't open"
            )
        self._fire(Trigger.OPEN)
        if self._kind is StreamKind.LINK_LOCAL and self._registry is not None:
            assert self._peer is not None
            try:
                self._registry.claim_outgoing(self._local, self._peer, self)
            except LocalProtocolError:
                self._state = SessionState.IDLE
                raise
        self._negotiation.send_header()
        return self.data_to_send()

    def send(self, stanza: bytes | bytearray | memoryview | str | ET.Element) -> bytes:
        """Send one stanza (or other first-level element) on a ready stream.

        Bytes and strings are sent as given after a UTF-8 and character check
        (they must be one well-formed element); an ElementTree element is
        serialized, the stream's content namespace being the default.
        A link-local recipient holds stanzas until the initiator has sent one
        (they then leave in order through ``data_to_send()``).
        """
        self._fire(Trigger.SEND)
        if isinstance(stanza, ET.Element):
            data = serialize_element(stanza, self._kind.content_namespace)
        elif isinstance(stanza, str):
            data = check_chars(stanza).encode("utf-8")
        elif isinstance(stanza, (bytes, bytearray, memoryview)):
            data = check_utf8_xml(bytes(stanza))
        else:
            raise TypeError(f"can't send {type(stanza).__name__}")
        if self._must_hold():
            self._held.append(data)
        else:
            self._outbox.append(data)
        return self.data_to_send()

    def close(self) -> bytes:
        """Send ``</stream:stream>`` (XEP-0190): nothing more may be written after it.

        The peer's data keeps being delivered until its closing tag; then
        ``CloseTransport`` says to close TLS and TCP. ``deadline`` holds the
        close timeout to report with ``deadline_passed()``.
        """
        self._fire(Trigger.CLOSE)
        if not self._header_sent:
            self._negotiation.send_header(error_header=True)
        self._send_close_tag()
        return self.data_to_send()

    def send_stream_error(
        self,
        condition: str,
        *,
        text: str | None = None,
        lang: str | None = None,
        condition_text: str | None = None,
        application_condition: bytes | str | None = None,
    ) -> bytes:
        """Send ``<stream:error/>`` and our closing tag (RFC 6120 §4.9.1.1).

        If no header was sent yet, one goes first, with ``version='1.0'``.
        """
        error_bytes = build_stream_error(
            condition,
            text=text,
            lang=lang,
            condition_text=condition_text,
            application_condition=application_condition,
        )
        self._fire(Trigger.SEND_ERROR)
        self._write_error(error_bytes)
        return self.data_to_send()

    def tls_started(self, *, channel_binding: tuple[str, bytes] | None = None) -> bytes:
        """The caller finished the TLS handshake: the stream restarts over TLS.

        ``channel_binding`` is ``(type, data)`` from the TLS layer: with it
        SCRAM's ``-PLUS`` variants are offered and used. Types: ``tls-unique``
        (TLS 1.2: ``ssl_object.get_channel_binding()``) and
        ``tls-server-end-point`` (RFC 5929: the hash of the server's
        certificate), the ones scramp implements.
        """
        check_channel_binding(channel_binding)
        self._fire(Trigger.TLS_STARTED)
        self._tls_active = True
        self._channel_binding = channel_binding
        self._parser.reset()
        self._header_sent = False
        self._negotiation.tls_started()
        return self.data_to_send()

    def deadline_passed(self, deadline: Deadline) -> list[Event]:
        """Report that ``deadline`` passed. A stale one is ignored."""
        action = self._deadlines.passed(deadline)
        if action is None:
            return []
        return _on_deadline(self, action)

    def connection_lost(self) -> list[Event]:
        """The transport is gone (reset, closed): the stream is over."""
        events: list[Event] = []
        if self._state is not SessionState.CLOSED:
            self._fire(Trigger.EOF)
            events.append(CloseTransport(reason="eof"))
        return events

    # ------------------------------------------------------------ their side

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Bytes from the peer (decrypted, once TLS is up). ``b""`` means end of input."""
        if not data:
            return self.connection_lost()
        self._deadlines.heard()
        if self._state is SessionState.STARTING_TLS:
            raise LocalProtocolError("TLS must be started first: these bytes belong to TLS")
        events: list[Event] = []
        pending: bytes | bytearray | memoryview | None = data
        while pending and self._state is not SessionState.CLOSED:
            chunk, pending = pending, None
            try:
                parsed = self._parser.feed(chunk)
            except RemoteProtocolError as exc:
                self._handle_events(exc.events, events)
                self._parse_failed(exc, events)
                return events
            self._handle_events(parsed, events)
            if self._parser.paused:
                rest = self._parser.take_unparsed()
                action, self._after_pause = self._after_pause, AfterPause.CONTINUE
                if action is AfterPause.TLS:
                    events.append(StartTLS(pending=rest))
                elif action is AfterPause.RESTART:
                    self._parser.reset()
                    pending = rest
                else:
                    # The element turned out not to end the stream: go on
                    # parsing the rest in the same stream, on a parser that
                    # has seen the same header again.
                    header = self._parser.header
                    self._parser.reset()
                    self._parser.feed(header.raw)
                    pending = rest
        return events

    def _handle_events(self, parsed: Iterable[object], events: list[Event]) -> None:
        for ev in parsed:
            if self._state is SessionState.CLOSED:
                return
            try:
                if type(ev) is ElementReceived:
                    self._on_element(ev, events)
                elif type(ev) is StreamOpened:
                    self._on_header(ev.header, events)
                elif type(ev) is StreamClosed:
                    self._on_close_tag(events)
                elif type(ev) is TextReceived and self._state is not SessionState.CLOSING:
                    raise RemoteProtocolError(
                        "character data between top-level elements", condition="bad-format"
                    )
                # WhitespaceReceived: keepalives, nothing to do.
            except RemoteProtocolError as exc:
                self._protocol_failed(exc, events)

    # -------------------------------------------------------------- failures

    def _protocol_failed(self, exc: RemoteProtocolError, events: list[Event]) -> None:
        """The peer broke a session rule: our stream error, then our closing tag."""
        if self._close_sent or self._state in (SessionState.CLOSED, SessionState.STARTING_TLS):
            return
        error = StreamError(condition=exc.condition, text=exc.message)
        self._state_after_error()
        self._write_error(build_stream_error(exc.condition, text=exc.message))
        events.append(StreamErrorSent(error=error, offset=exc.offset, message=exc.message))

    def _parse_failed(self, exc: RemoteProtocolError, events: list[Event]) -> None:
        """The peer's bytes can't be parsed: say why if we still may, then end."""
        if self._state is SessionState.CLOSED:
            return
        if not self._close_sent:
            error = StreamError(condition=exc.condition, text=exc.message)
            self._write_error(build_stream_error(exc.condition, text=exc.message))
            events.append(StreamErrorSent(error=error, offset=exc.offset, message=exc.message))
        self._fire(Trigger.UNPARSEABLE)
        events.append(CloseTransport(reason="error"))

    def _state_after_error(self) -> None:
        # Our error is a local decision taken on the receive path: same
        # transition as send_stream_error().
        self._fire(Trigger.SEND_ERROR)

    # ---------------------------------------------------------------- headers

    def _on_header(self, header: StreamHeader, events: list[Event]) -> None:
        self._fire(Trigger.HEADER)
        self._peer_header = header
        events.append(HeaderReceived(header=header))
        if self._state is SessionState.CLOSING:
            return
        self._negotiation.on_header(header, events)

    # --------------------------------------------------------------- elements

    def _on_element(self, el: ElementReceived, events: list[Event]) -> None:
        if el.namespace == STREAMS_NS and el.name == "error":
            self._on_stream_error(el, events)
            return
        state = self._state
        if state is SessionState.CLOSING:
            self._fire(Trigger.STANZA)
            # After either side's stream error the stream is over (RFC 6120
            # §4.9.1.1): only the closing tag or EOF is still awaited.
            if not (self._error_sent or self._error_received):
                events.append(StanzaReceived(element=el))
            return
        if state is SessionState.READY:
            self._fire(Trigger.STANZA)
            if not self._peer_spoke:
                self._peer_spoke = True
                if self._held:
                    self._outbox.extend(self._held)
                    self._held.clear()
            events.append(StanzaReceived(element=el))
            return
        if state is SessionState.NEGOTIATING:
            self._negotiation.on_element(el, events)
            return
        self._fire(Trigger.STANZA)  # refused: the table says how

    def _must_hold(self) -> bool:
        return (
            self._kind is StreamKind.LINK_LOCAL
            and self._role is Role.RECEIVER
            and not self._peer_spoke
        )

    def _on_stream_error(self, el: ElementReceived, events: list[Event]) -> None:
        error = parse_stream_error(el)
        self._fire(Trigger.STREAM_ERROR)
        self._error_received = True
        events.append(StreamErrorReceived(error=error))
        if not self._close_sent:
            self._send_close_tag()

    def _on_close_tag(self, events: list[Event]) -> None:
        self._fire(Trigger.CLOSE_TAG)
        events.append(PeerClosed())
        if not self._close_sent:
            # Answered after anything already queued, held stanzas excepted:
            # they may only follow a stanza of the initiator's, and none came.
            self._send_close_tag()
        events.append(CloseTransport(reason="closed"))


def _on_deadline(session: StreamSession, action: DeadlineAction) -> list[Event]:
    """Carry out what a passed deadline asks for."""
    if action is DeadlineAction.CLOSE_TRANSPORT:
        session._fire(Trigger.CLOSE_TIMEOUT)
        return [CloseTransport(reason="timeout")]
    if action is DeadlineAction.NEGOTIATION_TIMEOUT:
        message = "the stream was not negotiated in time"
        if session._state is SessionState.STARTING_TLS:
            # Mid-handshake nothing can be written in the clear any more.
            session._fire(Trigger.EOF)
            return [CloseTransport(reason="timeout")]
        session._fire(Trigger.SEND_ERROR)
        session._write_error(build_stream_error("connection-timeout", text=message))
        error = StreamError(condition="connection-timeout", text=message)
        return [StreamErrorSent(error=error, message=message)]
    if action is DeadlineAction.KEEPALIVE:
        receiver = session.role is Role.RECEIVER
        session._outbox.append(
            session._deadlines.keepalive(session._local if receiver else None, session.peer)
        )
        return []
    # Idle: XEP-0190's close, no error, so nothing in flight is lost.
    # close() hands its bytes back; they wait in the outbox like the rest.
    session._outbox.append(session.close())
    return []
