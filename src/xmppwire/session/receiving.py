"""The receiving side's negotiation: judge the peer's header, offer features, answer.

A server or a link-local recipient checks the initiator's header (namespace,
version, addresses), answers with its own and with ``<stream:features/>``,
then answers ``<starttls/>``, the SASL exchange (through the
``authenticator``) and the binding request (through the ``binder``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from ..errors import InvalidJID, LocalProtocolError, RemoteProtocolError
from ..events import ElementReceived, StreamHeader
from ..jid import JID
from . import binding, sasl
from .core import AfterPause, SessionCore
from .events import Authenticated, AuthenticationFailed, BindingFailed, Event
from .negotiation import (
    SASL_NS,
    TLS_NS,
    StreamFeatures,
    build_features,
    build_header,
    new_stream_id,
)
from .serialize import escape_text
from .states import StreamKind, TLSPolicy, Trigger

__all__ = ["ReceiverNegotiation"]


class ReceiverNegotiation:
    pause_after = frozenset({(TLS_NS, "starttls"), (SASL_NS, "auth"), (SASL_NS, "response")})

    def __init__(
        self,
        session: SessionCore,
        *,
        jid: str | None,
        domains: Iterable[str],
        authenticator: sasl.Authenticator | None,
        binder: binding.ResourceBinder,
        max_auth_failures: int,
    ) -> None:
        self._session = session
        self._authenticator = authenticator
        self._binder = binder
        self._max_auth_failures = max_auth_failures
        served = list(domains)
        self._domains = _domain_keys(tuple(served))
        kind = session._kind
        if kind is StreamKind.C2S and authenticator is None:
            raise ValueError("a c2s receiving side needs an authenticator")
        if kind is StreamKind.LINK_LOCAL:
            if jid is None:
                raise ValueError("a link-local recipient needs jid")
            session._local = str(JID(jid))
            if not self._domains:
                self._domains = _domain_keys((session._local,))
        else:
            if not self._domains:
                raise ValueError("the receiving side needs the domains it serves")
            # Our authoritative hostname until the peer asks for one of the others.
            session._local = served[0]
        self._first_to: str | None = None
        self._negotiated_version: tuple[int, int] | None = (1, 0)
        self._server_exchange: sasl.ServerExchange | None = None
        self._auth_failures = 0

    @property
    def features(self) -> StreamFeatures | None:
        return None

    # ---------------------------------------------------------------- headers

    def send_header(self, *, error_header: bool = False) -> None:
        s = self._session
        peer_header = s._peer_header
        to = peer_header.from_ if peer_header is not None else None
        if error_header:
            # RFC 6120 §4.9.1.3: the header before an error names our
            # authoritative hostname, never a host we don't serve.
            asked = peer_header.to if peer_header is not None else None
            ours = asked is not None and _domain_key(asked) in self._domains
            from_ = asked if ours else s._local
            version: tuple[int, int] | None = (1, 0)
        else:
            from_ = s._local
            version = self._negotiated_version
        lang = (peer_header.lang if peer_header is not None else None) or s._lang
        s._stream_id = new_stream_id()
        s._outbox.append(
            build_header(
                content_namespace=s._kind.content_namespace,
                to=to,
                from_=from_,
                id=s._stream_id,
                version=version,
                lang=lang,
            )
        )
        s._header_sent = True

    def tls_started(self) -> None:
        # The initiator speaks first on the new stream.
        pass

    def on_header(self, header: StreamHeader, events: list[Event]) -> None:
        s = self._session
        kind = s._kind
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
            s._local = to
        if kind is StreamKind.S2S:
            if not header.from_:
                raise RemoteProtocolError(
                    "an s2s header needs 'from'", condition="improper-addressing"
                )
            s._peer = _domain_jid(header.from_)
        elif kind is StreamKind.LINK_LOCAL and header.from_:
            s._peer = _any_jid(header.from_)
            if s._registry is not None and not s._registry.accept_incoming(s._local, s._peer, s):
                raise RemoteProtocolError(
                    f"a connection with {s._peer} already exists", condition="conflict"
                )
        self.send_header()
        if legacy:
            s._ready(events, jid=s._local, peer=s._peer)
            return
        self._send_features(events)

    def _send_features(self, events: list[Event]) -> None:
        s = self._session
        starttls = not s._tls_active and s._tls_policy is not TLSPolicy.DISABLED
        required = starttls and s._tls_policy is TLSPolicy.REQUIRED
        mechanisms: tuple[str, ...] = ()
        if s._authenticated is None and self._authenticator is not None and not required:
            mechanisms = tuple(
                m
                for m in s._with_plus(s._mechanisms)
                if m != "PLAIN" or s._tls_active or s._allow_plain
            )
        bind = s._authenticated is not None and s._kind is StreamKind.C2S
        s._outbox.append(
            build_features(
                starttls=starttls, starttls_required=required, mechanisms=mechanisms, bind=bind
            )
        )
        if not (starttls or mechanisms or bind) and s._kind is not StreamKind.C2S:
            s._ready(events, jid=s._local, peer=s._peer)

    # --------------------------------------------------------------- elements

    def on_element(self, el: ElementReceived, events: list[Event]) -> None:
        s = self._session
        key = (el.namespace, el.name)
        if key == (TLS_NS, "starttls"):
            if s._tls_active or s._tls_policy is TLSPolicy.DISABLED:
                # RFC 6120 §5.4.2.2: refuse, then close the stream.
                s._fire(Trigger.NEGOTIATION)
                s._outbox.append(f"<failure xmlns='{TLS_NS}'/>".encode())
                s._fire(Trigger.CLOSE)
                s._send_close_tag()
                return
            s._fire(Trigger.PROCEED)
            s._outbox.append(f"<proceed xmlns='{TLS_NS}'/>".encode())
            s._after_pause = AfterPause.TLS
            return
        if el.namespace == SASL_NS and el.name in ("auth", "response", "abort"):
            if s._authenticated is not None:
                raise RemoteProtocolError("already authenticated", condition="policy-violation")
            s._fire(Trigger.NEGOTIATION)
            self._sasl_step(el, events)
            return
        if s._kind is StreamKind.C2S and s._authenticated is not None and el.name == "iq":
            request = binding.parse_bind_request(el)
            if request is not None:
                s._fire(Trigger.NEGOTIATION)
                self._bind(request, events)
                return
        s._unexpected(el)

    # ------------------------------------------------------------------- SASL

    def _sasl_step(self, el: ElementReceived, events: list[Event]) -> None:
        s = self._session
        try:
            if el.name == "abort":
                self._server_exchange = None
                raise sasl.SASLFailure("aborted")
            if el.name == "auth":
                mechanism = el.get("mechanism") or ""
                self._server_exchange = None
                if mechanism not in s._with_plus(s._mechanisms):
                    raise sasl.SASLFailure("invalid-mechanism")
                if not s._tls_active and (
                    s._tls_policy is TLSPolicy.REQUIRED
                    or (mechanism == "PLAIN" and not s._allow_plain)
                ):
                    raise sasl.SASLFailure("encryption-required")
                assert self._authenticator is not None
                self._server_exchange = sasl.ServerExchange(
                    mechanism, self._authenticator, s._channel_binding
                )
            elif self._server_exchange is None:
                raise sasl.SASLFailure("malformed-request", "no exchange under way")
            exchange = self._server_exchange
            outcome, data = exchange.step(sasl.b64decode(el.element().text))
        except sasl.SASLFailure as failure:
            self._server_exchange = None
            s._outbox.append(_build_failure(failure.condition, failure.text))
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
            s._outbox.append(
                f"<challenge xmlns='{SASL_NS}'>{sasl.b64encode(data)}</challenge>".encode()
            )
            return
        self._server_exchange = None
        s._authenticated = exchange.username
        additional = sasl.b64encode(data) if data is not None else ""
        s._outbox.append(
            f"<success xmlns='{SASL_NS}'>{additional}</success>".encode()
            if additional
            else f"<success xmlns='{SASL_NS}'/>".encode()
        )
        s._fire(Trigger.RESTART)
        s._after_pause = AfterPause.RESTART
        s._header_sent = False
        events.append(Authenticated(mechanism=exchange.mechanism, username=exchange.username or ""))

    # ---------------------------------------------------------------- binding

    def _bind(self, request: binding.BindRequest, events: list[Event]) -> None:
        s = self._session
        username = s._authenticated or ""
        try:
            bare = JID(f"{username}@{s._local}").bare
        except InvalidJID:
            bare = None
        if bare is None or "@" in username or "/" in username:
            # A SASL username that isn't a localpart must not become another
            # address (``evil@elsewhere/x`` + ``@example.com``).
            text = f"{username!r} can't be a localpart"
            s._outbox.append(binding.build_bind_error(request.iq_id, "not-allowed", text))
            events.append(BindingFailed(condition="not-allowed", text=text))
            return
        if request.resource is not None:
            try:
                bare.with_resource(request.resource)
            except InvalidJID as exc:
                s._outbox.append(binding.build_bind_error(request.iq_id, "bad-request", str(exc)))
                events.append(BindingFailed(condition="bad-request", text=str(exc)))
                return
        try:
            resource = self._binder(str(bare), request.resource)
        except binding.ResourceConflict:
            s._outbox.append(binding.build_bind_error(request.iq_id, "conflict"))
            events.append(BindingFailed(condition="conflict"))
            return
        try:
            full = bare.with_resource(resource)
        except InvalidJID as exc:
            raise LocalProtocolError(f"the binder chose an invalid resource: {exc}") from None
        s._peer_jid = str(full)
        s._outbox.append(binding.build_bind_result(request.iq_id, s._peer_jid))
        s._ready(events, jid=s._local, peer=s._peer_jid)


def _build_failure(condition: str, text: str | None) -> bytes:
    text_el = f"<text xml:lang='en'>{escape_text(text)}</text>" if text else ""
    return f"<failure xmlns='{SASL_NS}'><{condition}/>{text_el}</failure>".encode()


@functools.lru_cache(maxsize=64)
def _domain_keys(domains: tuple[str, ...]) -> frozenset[str]:
    # One set for all the streams of a server (it is made per connection).
    return frozenset(_domain_key(d) for d in domains)


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
