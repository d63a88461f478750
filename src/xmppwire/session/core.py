"""What both ends of a stream share: its fields, and the few moves every part makes.

:class:`SessionCore` holds the state, the outbox, the addresses, TLS and the
close handshake's flags; :class:`~xmppwire.session.StreamSession` builds on it,
and the negotiation of each role (``initiating.py``, ``receiving.py``) works
on it through the :class:`Negotiation` interface. Every state change goes
through :meth:`SessionCore._fire`, that is through the tables in ``states.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import LocalProtocolError, RemoteProtocolError
from ..events import ElementReceived, StreamHeader
from . import sasl
from .deadlines import Deadline, DeadlineKeeper, Timeouts
from .events import Event, StreamReady
from .states import Role, SessionState, StreamKind, TLSPolicy, Trigger, next_state

if TYPE_CHECKING:
    from .linklocal import LinkLocalRegistry
    from .negotiation import StreamFeatures

__all__ = ["CLOSE_TAG", "AfterPause", "Deadline", "Negotiation", "SessionCore"]

CLOSE_TAG = b"</stream:stream>"
_STANZA_NAMES = frozenset({"message", "presence", "iq"})


class AfterPause(Enum):
    """What the receive loop does once the parser paused after a negotiation element."""

    CONTINUE = "continue"
    TLS = "tls"
    RESTART = "restart"


class Negotiation(Protocol):
    """One role's headers and negotiation, as the session drives them."""

    #: (namespace, name) of the elements after which the peer's next bytes are
    #: TLS or a new stream: the parser stops right after them.
    pause_after: frozenset[tuple[str, str]]

    @property
    def features(self) -> StreamFeatures | None: ...

    def send_header(self, *, error_header: bool = False) -> None:
        """Queue our stream header (``error_header``: it precedes a stream error)."""

    def on_header(self, header: StreamHeader, events: list[Event]) -> None:
        """The peer's header arrived while negotiating (or opening)."""

    def on_element(self, element: ElementReceived, events: list[Event]) -> None:
        """A first-level element arrived while NEGOTIATING."""

    def tls_started(self) -> None:
        """The TLS handshake is done and the parser reset: the stream restarts."""


class SessionCore:
    """The shared fields of one stream, and the moves both roles make on them."""

    _negotiation: Negotiation
    _parser: Any

    def __init__(
        self,
        role: Role,
        kind: StreamKind,
        *,
        mechanisms: Iterable[str],
        tls: TLSPolicy | None,
        tls_active: bool,
        channel_binding: tuple[str, bytes] | None,
        allow_plain_without_tls: bool,
        lang: str,
        close_timeout: float,
        registry: LinkLocalRegistry[Any] | None,
        timeouts: Timeouts,
    ) -> None:
        self._role = role
        self._kind = kind
        self._tls_policy = tls or (
            TLSPolicy.DISABLED if kind is StreamKind.LINK_LOCAL else TLSPolicy.REQUIRED
        )
        self._tls_active = tls_active
        check_channel_binding(channel_binding)
        self._channel_binding = channel_binding
        self._allow_plain = allow_plain_without_tls
        self._lang = lang
        self._close_timeout = close_timeout
        self._registry = registry
        self._mechanisms = tuple(mechanisms)
        for name in self._mechanisms:
            if name not in sasl.MECHANISMS:
                raise ValueError(f"unsupported SASL mechanism {name!r}")

        self._state = SessionState.IDLE
        self._outbox: list[bytes] = []
        #: Our address (as configured, or the domain the peer asked for) and
        #: the peer's (configured, or from its header).
        self._local: str = ""
        self._peer: str | None = None
        #: What binding settled: our full JID (client), the client's (server).
        self._bound: str | None = None
        self._peer_jid: str | None = None
        self._peer_header: StreamHeader | None = None
        self._stream_id: str | None = None
        self._authenticated: str | None = None
        self._after_pause = AfterPause.CONTINUE
        self._header_sent = False
        self._close_sent = False
        self._error_sent = False
        self._error_received = False
        self._deadlines = DeadlineKeeper(timeouts, close_timeout)
        if role is Role.RECEIVER:
            self._deadlines.negotiating()

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

    def _ready(self, events: list[Event], *, jid: str | None, peer: str | None) -> None:
        """Negotiation is over: stanzas may flow."""
        self._fire(Trigger.NEGOTIATED)
        events.append(StreamReady(jid=jid, peer=peer))

    # ------------------------------------------------------------- the outbox

    def _send_close_tag(self) -> None:
        self._outbox.append(CLOSE_TAG)
        self._close_sent = True

    def _write_error(self, error_bytes: bytes) -> None:
        if not self._header_sent:
            self._negotiation.send_header(error_header=True)
        self._outbox.append(error_bytes)
        self._send_close_tag()
        self._error_sent = True

    # ------------------------------------------------------------ negotiation

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

    def _unexpected(self, el: ElementReceived) -> None:
        if el.name in _STANZA_NAMES and el.namespace == self._kind.content_namespace:
            self._fire(Trigger.STANZA)
        raise RemoteProtocolError(
            f"unexpected <{el.name} xmlns='{el.namespace}'> during negotiation",
            condition="unsupported-stanza-type",
        )


def check_channel_binding(channel_binding: tuple[str, bytes] | None) -> None:
    if channel_binding is None:
        return
    kind, data = channel_binding
    if kind not in ("tls-unique", "tls-server-end-point") or not isinstance(data, bytes):
        raise LocalProtocolError(
            f"channel binding must be ('tls-unique' or 'tls-server-end-point', bytes), not {kind!r}"
        )
