"""Two stream sessions wired to each other in memory, for the session tests.

No sockets and no TLS: when both sides have said "start TLS now" the pair
calls ``tls_started()`` on both, which is what a transport does once the
handshake is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xmppwire.session import (
    PasswordTable,
    Role,
    SessionState,
    StartTLS,
    StreamKind,
    StreamSession,
    TLSPolicy,
)

USERS = {"juliet": "r0m30", "romeo": "juliet!"}


def client(parser: type, **kwargs: Any) -> StreamSession:
    options: dict[str, Any] = {"jid": "juliet@example.com/balcony", "password": "r0m30"}
    options.update(kwargs)
    return StreamSession(
        Role.INITIATOR, options.pop("kind", StreamKind.C2S), parser_factory=parser, **options
    )


def server(parser: type, **kwargs: Any) -> StreamSession:
    options: dict[str, Any] = {"domains": ["example.com"], "authenticator": PasswordTable(USERS)}
    options.update(kwargs)
    return StreamSession(
        Role.RECEIVER, options.pop("kind", StreamKind.C2S), parser_factory=parser, **options
    )


@dataclass
class Pair:
    """``a`` is the initiating session, ``b`` the receiving one."""

    a: StreamSession
    b: StreamSession
    a_events: list[Any] = field(default_factory=list)
    b_events: list[Any] = field(default_factory=list)
    #: Every chunk that crossed the wire, as ("a>b" | "b>a", bytes).
    wire: list[tuple[str, bytes]] = field(default_factory=list)
    auto_tls: bool = True
    #: What the pretend TLS layer reports to ``tls_started()`` on both sides.
    channel_binding: tuple[str, bytes] | None = None

    def to_b(self, data: bytes) -> list[Any]:
        if not data:
            return []
        self.wire.append(("a>b", data))
        events = self.b.receive_data(data)
        self.b_events.extend(events)
        return events

    def to_a(self, data: bytes) -> list[Any]:
        if not data:
            return []
        self.wire.append(("b>a", data))
        events = self.a.receive_data(data)
        self.a_events.extend(events)
        return events

    def pump(self) -> None:
        """Move bytes both ways until neither side has anything to say."""
        while True:
            moved = False
            for data, deliver in (
                (self.a.data_to_send(), self.to_b),
                (self.b.data_to_send(), self.to_a),
            ):
                if data and self._alive(deliver):
                    deliver(data)
                    moved = True
            if (
                self.auto_tls
                and self.a.state is SessionState.STARTING_TLS
                and self.b.state is SessionState.STARTING_TLS
            ):
                self.b.tls_started(channel_binding=self.channel_binding)
                self.to_b(self.a.tls_started(channel_binding=self.channel_binding))
                moved = True
            if not moved:
                return

    def until_a_sends(self, marker: bytes) -> bytes:
        """Run the exchange until the initiating side's next bytes hold ``marker``; return them
        undelivered."""
        while True:
            data = self.a.data_to_send()
            if marker in data:
                return data
            if not data and not self.b._outbox:
                if self.a.state is SessionState.STARTING_TLS:
                    self.b.tls_started()
                    data = self.a.tls_started()
                    if marker in data:
                        return data
                else:
                    raise AssertionError(f"{marker!r} never sent; a: {self.a_events}")
            self.to_b(data)
            self.to_a(self.b.data_to_send())

    def _alive(self, deliver: Any) -> bool:
        target = self.b if deliver == self.to_b else self.a
        return target.state is not SessionState.CLOSED

    def start(self) -> Pair:
        self.to_b(self.a.open())
        self.pump()
        return self

    def of(self, kind: type, side: str = "a") -> list[Any]:
        events = self.a_events if side == "a" else self.b_events
        return [e for e in events if type(e) is kind]


def negotiated(
    parser: type, server_options: dict[str, Any] | None = None, **client_kwargs: Any
) -> Pair:
    """A c2s pair taken through STARTTLS, SASL and binding to READY."""
    pair = Pair(client(parser, **client_kwargs), server(parser, **(server_options or {}))).start()
    assert pair.a.state is SessionState.READY, pair.a_events
    assert pair.b.state is SessionState.READY, pair.b_events
    pair.a_events.clear()
    pair.b_events.clear()
    return pair


def plain_pair(parser: type, **kwargs: Any) -> Pair:
    """A c2s pair without TLS, PLAIN allowed: for byte-level assertions."""
    return Pair(
        client(parser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True, **kwargs),
        server(parser, tls=TLSPolicy.DISABLED, allow_plain_without_tls=True),
    )


__all__ = ["USERS", "Pair", "StartTLS", "client", "negotiated", "plain_pair", "server"]
