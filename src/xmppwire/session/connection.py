"""The stream session: one XMPP stream between two entities, without any I/O.

Bytes from the peer go into :meth:`StreamSession.receive_data`, which returns
events; what we want to do goes through methods (``open``, ``send``,
``close``...) that return the bytes to write. Replies the session makes on its
own while receiving (features, SASL challenges, our closing tag answering the
peer's) wait in :meth:`StreamSession.data_to_send`. Timeouts are values: the
session asks for a :class:`Deadline` and the caller reports it back through
:meth:`StreamSession.deadline_passed`.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from ..errors import InvalidJID, LocalProtocolError, RemoteProtocolError
from ..events import (
    STREAMS_NS,
    ElementReceived,
    StreamClosed,
    StreamHeader,
    StreamOpened,
    TextReceived,
)
from ..jid import JID
from ..limits import DEFAULT_LIMITS, Limits
from . import binding, sasl
from .deadlines import DEFAULT_TIMEOUTS, Deadline, DeadlineAction, DeadlineKeeper, Timeouts
from .events import (
    Authenticated,
    AuthenticationFailed,
    BindingFailed,
    CloseTransport,
    Event,
    FeaturesReceived,
    HeaderReceived,
    PeerClosed,
    StanzaReceived,
    StartTLS,
    StreamErrorReceived,
    StreamErrorSent,
    StreamReady,
    TLSFailed,
)
from .linklocal import LinkLocalRegistry
from .negotiation import (
    SASL_NS,
    TLS_NS,
    StreamFeatures,
    build_features,
    build_header,
    is_features,
    new_stream_id,
    parse_features,
)
from .serialize import check_chars, check_utf8_xml, escape_text, serialize_element
from .states import Role, SessionState, StreamKind, TLSPolicy, Trigger, next_state
from .stream_errors import StreamError, build_stream_error, parse_stream_error

__all__ = ["Deadline", "StreamSession"]

_CLOSE_TAG = b"</stream:stream>"
_STANZA_NAMES = frozenset({"message", "presence", "iq"})


class _Phase(Enum):
    """Where the initiating side is inside NEGOTIATING."""

    FEATURES = "features"
    TLS = "tls"
    TLS_FAILED = "tls-failed"
    SASL = "sasl"
    SASL_FAILED = "sasl-failed"
    BIND = "bind"
    BIND_FAILED = "bind-failed"


class _AfterPause(Enum):
    CONTINUE = "continue"
    TLS = "tls"
    RESTART = "restart"


class StreamSession:
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
        registry: LinkLocalRegistry | None = None,
        parser_factory: Callable[..., Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
    ) -> None:
        self._role = role
        self._kind = kind
        self._tls_policy = tls or (
            TLSPolicy.DISABLED if kind is StreamKind.LINK_LOCAL else TLSPolicy.REQUIRED
        )
        self._tls_active = tls_active
        _check_channel_binding(channel_binding)
        self._channel_binding = channel_binding
        self._allow_plain = allow_plain_without_tls
        self._lang = lang
        self._close_timeout = close_timeout
        self._registry = registry
        self._mechanisms = tuple(mechanisms)
        for name in self._mechanisms:
            if name not in sasl.MECHANISMS:
                raise ValueError(f"unsupported SASL mechanism {name!r}")
        self._password = password
        self._scram_nonce = scram_nonce
        self._authenticator = authenticator
        self._binder = binder
        self._max_auth_failures = max_auth_failures
        served = list(domains)
        self._domains = {_domain_key(d) for d in served}
        self._username: str | None = None
        self._resource = resource

        if role is Role.INITIATOR:
            if jid is None:
                raise ValueError("the initiating side needs jid")
            if kind is StreamKind.C2S:
                parsed = JID(jid)
                if parsed.localpart is None:
                    raise ValueError("a client JID needs a localpart")
                self._username = parsed.localpart
                self._local = str(parsed.bare)
                self._resource = resource or parsed.resourcepart
                self._peer = peer or parsed.domainpart
                if password is None:
                    raise ValueError("a client needs a password")
            else:
                if peer is None:
                    raise ValueError("s2s and link-local initiators need peer")
                self._local = str(JID(jid))
                self._peer = str(JID(peer))
        else:
            if kind is StreamKind.C2S and authenticator is None:
                raise ValueError("a c2s receiving side needs an authenticator")
            if kind is StreamKind.LINK_LOCAL:
                if jid is None:
                    raise ValueError("a link-local recipient needs jid")
                self._local = str(JID(jid))
                if not self._domains:
                    self._domains = {_domain_key(self._local)}
            else:
                if not self._domains:
                    raise ValueError("the receiving side needs the domains it serves")
                self._local = served[0]
            self._peer = None

        factory = parser_factory
        if factory is None:
            from .. import StreamParser as factory
        if role is Role.INITIATOR:
            pause = {(TLS_NS, "proceed"), (SASL_NS, "success")}
        else:
            pause = {(TLS_NS, "starttls"), (SASL_NS, "auth"), (SASL_NS, "response")}
        self._parser = factory(limits=limits, pause_after=pause)

        self._state = SessionState.IDLE
        self._outbox: list[bytes] = []
        self._header_sent = False
        self._close_sent = False
        self._error_sent = False
        self._peer_header: StreamHeader | None = None
        self._stream_id: str | None = None
        self._first_to: str | None = None
        self._version_pending = False
        self._negotiated_version: tuple[int, int] | None = (1, 0)
        self._phase = _Phase.FEATURES
        self._after_pause = _AfterPause.CONTINUE
        self._features: StreamFeatures | None = None
        self._client_mech: sasl.ClientMechanism | None = None
        self._server_exchange: sasl.ServerExchange | None = None
        self._auth_failures = 0
        self._authenticated: str | None = None
        self._bind_id: str | None = None
        self._bound: str | None = None
        self._peer_jid: str | None = None
        self._peer_spoke = False
        self._held: list[bytes] = []
        self._deadlines = DeadlineKeeper(timeouts, close_timeout)
        if role is Role.RECEIVER:
            self._deadlines.negotiating()

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
        return self._features

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
            try:
                self._registry.claim_outgoing(self._local, self._peer, self)
            except LocalProtocolError:
                self._state = SessionState.IDLE
                raise
        self._send_header()
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
            self._send_header(error_header=True)
        self._outbox.append(_CLOSE_TAG)
        self._close_sent = True
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
        _check_channel_binding(channel_binding)
        self._fire(Trigger.TLS_STARTED)
        self._tls_active = True
        self._channel_binding = channel_binding
        self._parser.reset()
        self._header_sent = False
        if self._role is Role.INITIATOR:
            self._phase = _Phase.FEATURES
            self._send_header()
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
                action, self._after_pause = self._after_pause, _AfterPause.CONTINUE
                if action is _AfterPause.TLS:
                    events.append(StartTLS(pending=rest))
                elif action is _AfterPause.RESTART:
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

    def _write_error(self, error_bytes: bytes) -> None:
        if not self._header_sent:
            self._send_header(error_header=True)
        self._outbox.append(error_bytes)
        self._outbox.append(_CLOSE_TAG)
        self._close_sent = True
        self._error_sent = True

    # ------------------------------------------------------------ transitions

    def _fire(self, trigger: Trigger) -> None:
        new = next_state(self._role, self._state, trigger)
        old, self._state = self._state, new
        if new is old:
            return
        if new is SessionState.CLOSING:
            self._deadlines.closing()
        elif new is SessionState.READY:
            self._deadlines.ready()
        elif new is SessionState.CLOSED:
            self._deadlines.closed()
            if self._registry is not None:
                self._registry.release(self)

    # ---------------------------------------------------------------- headers

    def _send_header(self, *, error_header: bool = False) -> None:
        ns = self._kind.content_namespace
        if self._role is Role.INITIATOR:
            from_: str | None = self._local
            if self._kind is StreamKind.C2S and not self._tls_active:
                # RFC 6120 §4.7.1: a client names itself only once the stream is encrypted.
                from_ = None
            header = build_header(content_namespace=ns, to=self._peer, from_=from_, lang=self._lang)
        else:
            peer_header = self._peer_header
            to = peer_header.from_ if peer_header is not None else None
            if error_header:
                asked = peer_header.to if peer_header is not None else None
                from_ = asked or self._local
                version: tuple[int, int] | None = (1, 0)
            else:
                from_ = self._local
                version = self._negotiated_version
            lang = (peer_header.lang if peer_header is not None else None) or self._lang
            self._stream_id = new_stream_id()
            header = build_header(
                content_namespace=ns,
                to=to,
                from_=from_,
                id=self._stream_id,
                version=version,
                lang=lang,
            )
        self._outbox.append(header)
        self._header_sent = True

    def _on_header(self, header: StreamHeader, events: list[Event]) -> None:
        self._fire(Trigger.HEADER)
        self._peer_header = header
        events.append(HeaderReceived(header=header))
        if self._state is SessionState.CLOSING:
            return
        if self._role is Role.RECEIVER:
            self._answer_header(header, events)
        else:
            self._read_response_header(header, events)

    def _answer_header(self, header: StreamHeader, events: list[Event]) -> None:
        kind = self._kind
        if header.content_namespace != kind.content_namespace:
            raise RemoteProtocolError(
                f"content namespace {header.content_namespace!r}, expected "
                f"{kind.content_namespace!r}",
                condition="invalid-namespace",
            )
        legacy = header.version is None
        version = header.version or (0, 9)
        if version[0] != 1 and not (legacy and kind is StreamKind.LINK_LOCAL):
            raise RemoteProtocolError(
                f"XMPP version {version[0]}.{version[1]} is not supported",
                condition="unsupported-version",
            )
        self._negotiated_version = None if legacy else min(version, (1, 0))
        to = header.to
        if kind is not StreamKind.LINK_LOCAL and not to:
            raise RemoteProtocolError(
                "the stream header has no 'to'", condition="improper-addressing"
            )
        if to and _domain_key(to) not in self._domains:
            raise RemoteProtocolError(f"{to} is not served here", condition="host-unknown")
        if self._first_to is not None and to != self._first_to:
            raise RemoteProtocolError(
                "'to' changed across a stream restart", condition="not-authorized"
            )
        self._first_to = to
        if to and kind is not StreamKind.LINK_LOCAL:
            self._local = to
        if kind is StreamKind.S2S:
            if not header.from_:
                raise RemoteProtocolError(
                    "an s2s header needs 'from'", condition="improper-addressing"
                )
            self._peer = _domain_jid(header.from_)
        elif kind is StreamKind.LINK_LOCAL and header.from_:
            self._peer = _any_jid(header.from_)
            if self._registry is not None and not self._registry.accept_incoming(
                self._local, self._peer, self
            ):
                raise RemoteProtocolError(
                    f"a connection with {self._peer} already exists", condition="conflict"
                )
        self._send_header()
        if legacy:
            self._fire(Trigger.NEGOTIATED)
            events.append(StreamReady(jid=self._local, peer=self._peer))
            return
        self._send_features(events)

    def _read_response_header(self, header: StreamHeader, events: list[Event]) -> None:
        if header.content_namespace != self._kind.content_namespace:
            raise RemoteProtocolError(
                f"content namespace {header.content_namespace!r}", condition="invalid-namespace"
            )
        self._stream_id = header.id
        self._phase = _Phase.FEATURES
        if header.version is None and self._kind is StreamKind.LINK_LOCAL:
            # XEP-0174 peers from before version 1.0 send no features.
            self._fire(Trigger.NEGOTIATED)
            events.append(StreamReady(jid=self._local, peer=self._peer))
            return
        # A header without a version (or of another major version) may just
        # carry a stream error, as Prosody's does: judge it by what follows.
        self._version_pending = header.version is None or header.version[0] != 1

    # --------------------------------------------------------------- elements

    def _on_element(self, el: ElementReceived, events: list[Event]) -> None:
        if el.namespace == STREAMS_NS and el.name == "error":
            self._on_stream_error(el, events)
            return
        state = self._state
        if state is SessionState.CLOSING:
            self._fire(Trigger.STANZA)
            if not self._error_sent:
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
            if self._role is Role.INITIATOR:
                self._initiator_negotiate(el, events)
            else:
                self._receiver_negotiate(el, events)
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
        events.append(StreamErrorReceived(error=error))
        if not self._close_sent:
            self._outbox.append(_CLOSE_TAG)
            self._close_sent = True

    def _on_close_tag(self, events: list[Event]) -> None:
        self._fire(Trigger.CLOSE_TAG)
        events.append(PeerClosed())
        if not self._close_sent:
            # Answered after anything already queued, held stanzas excepted:
            # they may only follow a stanza of the initiator's, and none came.
            self._outbox.append(_CLOSE_TAG)
            self._close_sent = True
        events.append(CloseTransport(reason="closed"))

    def _unexpected(self, el: ElementReceived) -> None:
        if el.name in _STANZA_NAMES and el.namespace == self._kind.content_namespace:
            self._fire(Trigger.STANZA)
        raise RemoteProtocolError(
            f"unexpected <{el.name} xmlns='{el.namespace}'> during negotiation",
            condition="unsupported-stanza-type",
        )

    # ---------------------------------------------------- initiating side

    def _initiator_negotiate(self, el: ElementReceived, events: list[Event]) -> None:
        if self._version_pending:
            version = self._peer_header.version if self._peer_header else None
            shown = f"{version[0]}.{version[1]}" if version else "none (0.9)"
            raise RemoteProtocolError(
                f"the peer's XMPP version is {shown}", condition="unsupported-version"
            )
        phase = self._phase
        key = (el.namespace, el.name)
        if phase is _Phase.FEATURES:
            if not is_features(el):
                self._unexpected(el)
            features = parse_features(el)
            self._features = features
            self._fire(Trigger.NEGOTIATION)
            events.append(FeaturesReceived(features=features))
            self._next_step(features, events)
        elif phase is _Phase.TLS and key == (TLS_NS, "proceed"):
            self._fire(Trigger.PROCEED)
            self._after_pause = _AfterPause.TLS
        elif phase is _Phase.TLS and key == (TLS_NS, "failure"):
            self._fire(Trigger.NEGOTIATION)
            self._phase = _Phase.TLS_FAILED
            events.append(TLSFailed())
        elif phase is _Phase.SASL and el.namespace == SASL_NS:
            self._sasl_client_step(el, events)
        elif phase is _Phase.BIND and el.name == "iq" and el.id == self._bind_id:
            self._fire(Trigger.NEGOTIATION)
            result = binding.parse_bind_result(el)
            if result.jid is None:
                self._phase = _Phase.BIND_FAILED
                events.append(
                    BindingFailed(
                        condition=result.condition or "undefined-condition", text=result.text
                    )
                )
                return
            try:
                bound = JID(result.jid)
            except InvalidJID:
                raise RemoteProtocolError(
                    f"bound JID {result.jid!r} is invalid", condition="undefined-condition"
                ) from None
            self._bound = str(bound)
            self._fire(Trigger.NEGOTIATED)
            events.append(StreamReady(jid=self._bound, peer=self._peer))
        else:
            self._unexpected(el)

    def _next_step(self, features: StreamFeatures, events: list[Event]) -> None:
        if not self._tls_active:
            if features.starttls and self._tls_policy is not TLSPolicy.DISABLED:
                self._outbox.append(f"<starttls xmlns='{TLS_NS}'/>".encode())
                self._phase = _Phase.TLS
                return
            if features.starttls_required:
                raise RemoteProtocolError(
                    "STARTTLS is mandatory here but TLS is disabled on our side",
                    condition="unsupported-feature",
                )
            if self._tls_policy is TLSPolicy.REQUIRED:
                raise RemoteProtocolError(
                    "the peer doesn't offer TLS", condition="policy-violation"
                )
        if self._kind is StreamKind.C2S:
            if self._authenticated is None:
                self._start_sasl(features)
                return
            if not features.bind:
                raise RemoteProtocolError(
                    "no resource binding offered", condition="unsupported-feature"
                )
            self._bind_id = "bind-" + secrets.token_hex(6)
            self._outbox.append(binding.build_bind_request(self._bind_id, self._resource))
            self._phase = _Phase.BIND
            return
        self._fire(Trigger.NEGOTIATED)
        events.append(StreamReady(jid=self._local, peer=self._peer))

    def _start_sasl(self, features: StreamFeatures) -> None:
        usable = [
            m
            for m in self._with_plus(self._mechanisms)
            if m in features.mechanisms and (m != "PLAIN" or self._tls_active or self._allow_plain)
        ]
        if not usable:
            raise RemoteProtocolError(
                f"no acceptable SASL mechanism among {list(features.mechanisms)}",
                condition="policy-violation",
            )
        assert self._username is not None and self._password is not None
        mech = sasl.client_mechanism(
            usable[0],
            self._username,
            self._password,
            scram_nonce=self._scram_nonce,
            channel_binding=self._channel_binding,
        )
        self._client_mech = mech
        initial = sasl.b64encode(mech.initial_response())
        self._outbox.append(
            f"<auth xmlns='{SASL_NS}' mechanism='{mech.name}'>{initial}</auth>".encode()
            if initial
            else f"<auth xmlns='{SASL_NS}' mechanism='{mech.name}'/>".encode()
        )
        self._phase = _Phase.SASL

    def _sasl_client_step(self, el: ElementReceived, events: list[Event]) -> None:
        mech = self._client_mech
        assert mech is not None
        text = el.element().text
        try:
            data = sasl.b64decode(text)
        except sasl.SASLFailure:
            raise RemoteProtocolError("SASL data is not base64", condition="bad-format") from None
        if el.name == "challenge":
            self._fire(Trigger.NEGOTIATION)
            response = sasl.b64encode(mech.respond(data or b""))
            self._outbox.append(f"<response xmlns='{SASL_NS}'>{response}</response>".encode())
        elif el.name == "success":
            mech.verify_success(data)
            self._authenticated = self._username
            self._fire(Trigger.RESTART)
            events.append(Authenticated(mechanism=mech.name, username=self._username or ""))
            self._after_pause = _AfterPause.RESTART
            self._phase = _Phase.FEATURES
            self._send_header()
        elif el.name == "failure":
            self._fire(Trigger.NEGOTIATION)
            condition, failure_text = _failure_condition(el)
            self._phase = _Phase.SASL_FAILED
            events.append(
                AuthenticationFailed(condition=condition, text=failure_text, mechanism=mech.name)
            )
        else:
            self._unexpected(el)

    # ----------------------------------------------------- receiving side

    def _with_plus(self, mechanisms: tuple[str, ...]) -> tuple[str, ...]:
        """The mechanisms, each SCRAM preceded by its -PLUS twin when channel binding is known."""
        if self._channel_binding is None:
            return mechanisms
        out: list[str] = []
        for m in mechanisms:
            if m in sasl.PLUS:
                out.append(sasl.PLUS[m])
            out.append(m)
        return tuple(out)

    def _send_features(self, events: list[Event]) -> None:
        starttls = not self._tls_active and self._tls_policy is not TLSPolicy.DISABLED
        required = starttls and self._tls_policy is TLSPolicy.REQUIRED
        mechanisms: tuple[str, ...] = ()
        if self._authenticated is None and self._authenticator is not None and not required:
            mechanisms = tuple(
                m
                for m in self._with_plus(self._mechanisms)
                if m != "PLAIN" or self._tls_active or self._allow_plain
            )
        bind = self._authenticated is not None and self._kind is StreamKind.C2S
        self._outbox.append(
            build_features(
                starttls=starttls, starttls_required=required, mechanisms=mechanisms, bind=bind
            )
        )
        if not (starttls or mechanisms or bind) and self._kind is not StreamKind.C2S:
            self._fire(Trigger.NEGOTIATED)
            events.append(StreamReady(jid=self._local, peer=self._peer))

    def _receiver_negotiate(self, el: ElementReceived, events: list[Event]) -> None:
        key = (el.namespace, el.name)
        if key == (TLS_NS, "starttls"):
            if self._tls_active or self._tls_policy is TLSPolicy.DISABLED:
                # RFC 6120 §5.4.2.2: refuse, then close the stream.
                self._fire(Trigger.NEGOTIATION)
                self._outbox.append(f"<failure xmlns='{TLS_NS}'/>".encode())
                self._fire(Trigger.CLOSE)
                self._outbox.append(_CLOSE_TAG)
                self._close_sent = True
                return
            self._fire(Trigger.PROCEED)
            self._outbox.append(f"<proceed xmlns='{TLS_NS}'/>".encode())
            self._after_pause = _AfterPause.TLS
            return
        if el.namespace == SASL_NS and el.name in ("auth", "response", "abort"):
            if self._authenticated is not None:
                raise RemoteProtocolError("already authenticated", condition="policy-violation")
            self._fire(Trigger.NEGOTIATION)
            self._sasl_server_step(el, events)
            return
        if self._kind is StreamKind.C2S and self._authenticated is not None and el.name == "iq":
            request = binding.parse_bind_request(el)
            if request is not None:
                self._fire(Trigger.NEGOTIATION)
                self._bind(request, events)
                return
        self._unexpected(el)

    def _sasl_server_step(self, el: ElementReceived, events: list[Event]) -> None:
        try:
            if el.name == "abort":
                self._server_exchange = None
                raise sasl.SASLFailure("aborted")
            if el.name == "auth":
                mechanism = el.get("mechanism") or ""
                self._server_exchange = None
                if mechanism not in self._with_plus(self._mechanisms):
                    raise sasl.SASLFailure("invalid-mechanism")
                if not self._tls_active and (
                    self._tls_policy is TLSPolicy.REQUIRED
                    or (mechanism == "PLAIN" and not self._allow_plain)
                ):
                    raise sasl.SASLFailure("encryption-required")
                assert self._authenticator is not None
                self._server_exchange = sasl.ServerExchange(
                    mechanism, self._authenticator, self._channel_binding
                )
            elif self._server_exchange is None:
                raise sasl.SASLFailure("malformed-request", "no exchange under way")
            exchange = self._server_exchange
            outcome, data = exchange.step(sasl.b64decode(el.element().text))
        except sasl.SASLFailure as failure:
            self._server_exchange = None
            self._outbox.append(_build_failure(failure.condition, failure.text))
            self._auth_failures += 1
            events.append(
                AuthenticationFailed(
                    condition=failure.condition, text=failure.text, mechanism=el.get("mechanism")
                )
            )
            if self._auth_failures >= self._max_auth_failures:
                raise RemoteProtocolError(
                    "too many failed authentications", condition="policy-violation"
                ) from None
            return
        if outcome == "challenge":
            self._outbox.append(
                f"<challenge xmlns='{SASL_NS}'>{sasl.b64encode(data)}</challenge>".encode()
            )
            return
        self._server_exchange = None
        self._authenticated = exchange.username
        additional = sasl.b64encode(data) if data is not None else ""
        self._outbox.append(
            f"<success xmlns='{SASL_NS}'>{additional}</success>".encode()
            if additional
            else f"<success xmlns='{SASL_NS}'/>".encode()
        )
        self._fire(Trigger.RESTART)
        self._after_pause = _AfterPause.RESTART
        self._header_sent = False
        events.append(Authenticated(mechanism=exchange.mechanism, username=exchange.username or ""))

    def _bind(self, request: binding.BindRequest, events: list[Event]) -> None:
        username = self._authenticated or ""
        try:
            bare = JID(f"{username}@{self._local}").bare
        except InvalidJID:
            bare = None
        if bare is None or "@" in username or "/" in username:
            # A SASL username that isn't a localpart must not become another
            # address (``evil@elsewhere/x`` + ``@example.com``).
            text = f"{username!r} can't be a localpart"
            self._outbox.append(binding.build_bind_error(request.iq_id, "not-allowed", text))
            events.append(BindingFailed(condition="not-allowed", text=text))
            return
        if request.resource is not None:
            try:
                bare.with_resource(request.resource)
            except InvalidJID as exc:
                self._outbox.append(
                    binding.build_bind_error(request.iq_id, "bad-request", str(exc))
                )
                events.append(BindingFailed(condition="bad-request", text=str(exc)))
                return
        try:
            resource = self._binder(str(bare), request.resource)
        except binding.ResourceConflict:
            self._outbox.append(binding.build_bind_error(request.iq_id, "conflict"))
            events.append(BindingFailed(condition="conflict"))
            return
        try:
            full = bare.with_resource(resource)
        except InvalidJID as exc:
            raise LocalProtocolError(f"the binder chose an invalid resource: {exc}") from None
        self._peer_jid = str(full)
        self._outbox.append(binding.build_bind_result(request.iq_id, self._peer_jid))
        self._fire(Trigger.NEGOTIATED)
        events.append(StreamReady(jid=self._local, peer=self._peer_jid))


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


def _check_channel_binding(channel_binding: tuple[str, bytes] | None) -> None:
    if channel_binding is None:
        return
    kind, data = channel_binding
    if kind not in ("tls-unique", "tls-server-end-point") or not isinstance(data, bytes):
        raise LocalProtocolError(
            f"channel binding must be ('tls-unique' or 'tls-server-end-point', bytes), not {kind!r}"
        )


def _build_failure(condition: str, text: str | None) -> bytes:
    text_el = f"<text xml:lang='en'>{escape_text(text)}</text>" if text else ""
    return f"<failure xmlns='{SASL_NS}'><{condition}/>{text_el}</failure>".encode()


def _failure_condition(el: ElementReceived) -> tuple[str, str | None]:
    condition = "not-authorized"
    text = None
    for child in el.element():
        local = child.tag.partition("}")[2]
        if local == "text":
            text = child.text
        elif local in sasl.FAILURE_CONDITIONS:
            condition = local
    return condition, text


def _domain_key(domain: str) -> str:
    try:
        return str(JID(domain))
    except InvalidJID:
        return domain


def _domain_jid(value: str) -> str:
    try:
        jid = JID(value)
    except InvalidJID:
        jid = None
    if jid is None or jid.localpart is not None or jid.resourcepart is not None:
        raise RemoteProtocolError(f"'from' is not a domain: {value!r}", condition="invalid-from")
    return str(jid)


def _any_jid(value: str) -> str:
    try:
        return str(JID(value))
    except InvalidJID:
        raise RemoteProtocolError(
            f"'from' is not a JID: {value!r}", condition="invalid-from"
        ) from None
