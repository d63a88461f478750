"""The initiating side's negotiation: our header, then the peer's features in turn.

A client, an s2s initiator or a link-local initiator reads the response
header, then each ``<stream:features/>``: STARTTLS when offered (or required
by our policy), SASL until authenticated (client), resource binding
(client). Each step sends its request and waits in a :class:`Phase` for the
answer.
"""

from __future__ import annotations

import secrets
from enum import Enum

from ..errors import InvalidJID, RemoteProtocolError
from ..events import ElementReceived, StreamHeader
from ..jid import JID
from . import binding, sasl
from .core import AfterPause, SessionCore
from .events import (
    Authenticated,
    AuthenticationFailed,
    BindingFailed,
    Event,
    FeaturesReceived,
    TLSFailed,
)
from .negotiation import (
    SASL_NS,
    TLS_NS,
    StreamFeatures,
    build_header,
    is_features,
    parse_features,
)
from .states import StreamKind, TLSPolicy, Trigger

__all__ = ["InitiatorNegotiation", "Phase"]


class Phase(Enum):
    """Where the initiating side is inside NEGOTIATING."""

    FEATURES = "features"
    TLS = "tls"
    TLS_FAILED = "tls-failed"
    SASL = "sasl"
    SASL_FAILED = "sasl-failed"
    BIND = "bind"
    BIND_FAILED = "bind-failed"


class InitiatorNegotiation:
    pause_after = frozenset({(TLS_NS, "proceed"), (SASL_NS, "success")})

    def __init__(
        self,
        session: SessionCore,
        *,
        jid: str | None,
        peer: str | None,
        password: str | None,
        resource: str | None,
        scram_nonce: str | None,
    ) -> None:
        self._session = session
        self._password = password
        self._scram_nonce = scram_nonce
        self._username: str | None = None
        self._resource = resource
        if jid is None:
            raise ValueError("the initiating side needs jid")
        if session._kind is StreamKind.C2S:
            parsed = JID(jid)
            if parsed.localpart is None:
                raise ValueError("a client JID needs a localpart")
            self._username = parsed.localpart
            session._local = str(parsed.bare)
            self._resource = resource or parsed.resourcepart
            session._peer = peer or parsed.domainpart
            if password is None:
                raise ValueError("a client needs a password")
        else:
            if peer is None:
                raise ValueError("s2s and link-local initiators need peer")
            session._local = str(JID(jid))
            session._peer = str(JID(peer))
        self._phase = Phase.FEATURES
        self._features: StreamFeatures | None = None
        self._version_pending = False
        self._client_mech: sasl.ClientMechanism | None = None
        self._bind_id: str | None = None

    @property
    def features(self) -> StreamFeatures | None:
        return self._features

    # ---------------------------------------------------------------- headers

    def send_header(self, *, error_header: bool = False) -> None:
        s = self._session
        from_: str | None = s._local
        if s._kind is StreamKind.C2S and not s._tls_active:
            # RFC 6120 §4.7.1: a client names itself only once the stream is encrypted.
            from_ = None
        s._outbox.append(
            build_header(
                content_namespace=s._kind.content_namespace, to=s._peer, from_=from_, lang=s._lang
            )
        )
        s._header_sent = True

    def tls_started(self) -> None:
        self._phase = Phase.FEATURES
        self.send_header()

    def on_header(self, header: StreamHeader, events: list[Event]) -> None:
        s = self._session
        if header.content_namespace != s._kind.content_namespace:
            raise RemoteProtocolError(
                f"content namespace {header.content_namespace!r}", condition="invalid-namespace"
            )
        s._stream_id = header.id
        self._phase = Phase.FEATURES
        if header.version is None and s._kind is StreamKind.LINK_LOCAL:
            # XEP-0174 peers from before version 1.0 send no features.
            s._ready(events, jid=s._local, peer=s._peer)
            return
        # A header without a version (or of another major version) may just
        # carry a stream error, as Prosody's does: judge it by what follows.
        self._version_pending = header.version is None or header.version[0] != 1

    # --------------------------------------------------------------- elements

    def on_element(self, el: ElementReceived, events: list[Event]) -> None:
        s = self._session
        if self._version_pending:
            version = s._peer_header.version if s._peer_header else None
            shown = f"{version[0]}.{version[1]}" if version else "none (0.9)"
            raise RemoteProtocolError(
                f"the peer's XMPP version is {shown}", condition="unsupported-version"
            )
        phase = self._phase
        key = (el.namespace, el.name)
        if phase is Phase.FEATURES:
            if not is_features(el):
                s._unexpected(el)
            features = parse_features(el)
            self._features = features
            s._fire(Trigger.NEGOTIATION)
            events.append(FeaturesReceived(features=features))
            self._next_step(features, events)
        elif phase is Phase.TLS and key == (TLS_NS, "proceed"):
            s._fire(Trigger.PROCEED)
            s._after_pause = AfterPause.TLS
        elif phase is Phase.TLS and key == (TLS_NS, "failure"):
            s._fire(Trigger.NEGOTIATION)
            self._phase = Phase.TLS_FAILED
            events.append(TLSFailed())
        elif phase is Phase.SASL and el.namespace == SASL_NS:
            self._sasl_step(el, events)
        elif phase is Phase.BIND and el.name == "iq" and el.id == self._bind_id:
            self._bind_result(el, events)
        else:
            s._unexpected(el)

    def _next_step(self, features: StreamFeatures, events: list[Event]) -> None:
        s = self._session
        if not s._tls_active:
            if features.starttls and s._tls_policy is not TLSPolicy.DISABLED:
                s._outbox.append(f"<starttls xmlns='{TLS_NS}'/>".encode())
                self._phase = Phase.TLS
                return
            if features.starttls_required:
                raise RemoteProtocolError(
                    "STARTTLS is mandatory here but TLS is disabled on our side",
                    condition="unsupported-feature",
                )
            if s._tls_policy is TLSPolicy.REQUIRED:
                raise RemoteProtocolError(
                    "the peer doesn't offer TLS", condition="policy-violation"
                )
        if s._kind is StreamKind.C2S:
            if s._authenticated is None:
                self._start_sasl(features)
                return
            if not features.bind:
                raise RemoteProtocolError(
                    "no resource binding offered", condition="unsupported-feature"
                )
            self._bind_id = "bind-" + secrets.token_hex(6)
            s._outbox.append(binding.build_bind_request(self._bind_id, self._resource))
            self._phase = Phase.BIND
            return
        s._ready(events, jid=s._local, peer=s._peer)

    # ------------------------------------------------------------------- SASL

    def _start_sasl(self, features: StreamFeatures) -> None:
        s = self._session
        usable = [
            m
            for m in s._with_plus(s._mechanisms)
            if m in features.mechanisms and (m != "PLAIN" or s._tls_active or s._allow_plain)
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
            channel_binding=s._channel_binding,
        )
        self._client_mech = mech
        initial = sasl.b64encode(mech.initial_response())
        s._outbox.append(
            f"<auth xmlns='{SASL_NS}' mechanism='{mech.name}'>{initial}</auth>".encode()
            if initial
            else f"<auth xmlns='{SASL_NS}' mechanism='{mech.name}'/>".encode()
        )
        self._phase = Phase.SASL

    def _sasl_step(self, el: ElementReceived, events: list[Event]) -> None:
        s = self._session
        mech = self._client_mech
        assert mech is not None
        text = el.element().text
        try:
            data = sasl.b64decode(text)
        except sasl.SASLFailure:
            raise RemoteProtocolError("SASL data is not base64", condition="bad-format") from None
        if el.name == "challenge":
            s._fire(Trigger.NEGOTIATION)
            response = sasl.b64encode(mech.respond(data or b""))
            s._outbox.append(f"<response xmlns='{SASL_NS}'>{response}</response>".encode())
        elif el.name == "success":
            mech.verify_success(data)
            s._authenticated = self._username
            s._fire(Trigger.RESTART)
            events.append(Authenticated(mechanism=mech.name, username=self._username or ""))
            s._after_pause = AfterPause.RESTART
            self._phase = Phase.FEATURES
            self.send_header()
        elif el.name == "failure":
            s._fire(Trigger.NEGOTIATION)
            condition, failure_text = _failure_condition(el)
            self._phase = Phase.SASL_FAILED
            events.append(
                AuthenticationFailed(condition=condition, text=failure_text, mechanism=mech.name)
            )
        else:
            s._unexpected(el)

    # ---------------------------------------------------------------- binding

    def _bind_result(self, el: ElementReceived, events: list[Event]) -> None:
        s = self._session
        s._fire(Trigger.NEGOTIATION)
        result = binding.parse_bind_result(el)
        if result.jid is None:
            self._phase = Phase.BIND_FAILED
            events.append(
                BindingFailed(condition=result.condition or "undefined-condition", text=result.text)
            )
            return
        try:
            bound = JID(result.jid)
        except InvalidJID:
            raise RemoteProtocolError(
                f"bound JID {result.jid!r} is invalid", condition="undefined-condition"
            ) from None
        s._bound = str(bound)
        s._ready(events, jid=s._bound, peer=s._peer)


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
