"""The deadlines a stream session holds, as values.

The session never reads a clock. It holds at most one :class:`Deadline` at a
time (``StreamSession.deadline``); whoever runs the session arms a timer for
``deadline.seconds`` whenever the deadline changes and reports it back with
``StreamSession.deadline_passed()``. What a passed deadline means is decided
here, from the session's state changes and whether the peer was heard from:

- ``negotiation``: armed on the receiving side from the start until the stream
  is ready; passing it means ``<connection-timeout/>`` (RFC 6120 §4.9.3.4).
- ``idle``: armed once the stream is ready, when an idle timeout is set. The
  session does not re-arm on every read (that would mean a timer per read);
  it notes that the peer spoke, and a passed ``idle`` deadline with the peer
  heard since is simply armed again. So silence is noticed after between
  one and two idle periods.
- ``keepalive``: after a silent idle period the session sent a keepalive;
  silence for this long too closes the stream the XEP-0190 way, no error.
- ``close``: our closing tag is out; the peer's is awaited this long.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum

from .serialize import escape_attribute

__all__ = ["Deadline", "DeadlineAction", "DeadlineKeeper", "Timeouts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadline:
    """A timeout the session wants: call ``deadline_passed(deadline)`` after ``seconds``.

    A deadline the session no longer holds (the peer answered in time) is
    ignored when reported, so a timer that can't be cancelled does no harm.
    """

    kind: str
    seconds: float
    serial: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts:
    """How long a stream may take or stay silent, in seconds (``None``: no limit).

    ``negotiation``: from the connection to the bound resource (receiving
    side only), unfinished tokens included. 60 s: long enough for a slow
    client, and a fifth of Prosody's ``c2s_timeout`` (300 s), which only
    runs until authentication.
    ``idle``: how long a ready stream may go without a byte from the peer
    before we send a keepalive (off by default, like Prosody).
    ``keepalive``: how long the peer then has to say anything before the
    stream is closed (default: ``idle``).
    ``keepalive_ping``: the keepalive is an XEP-0199 ping instead of a
    single space. A ping needs an answer, so a live client answers it; a
    space only proves that the TCP connection still takes bytes.
    """

    negotiation: float | None = 60.0
    idle: float | None = None
    keepalive: float | None = None
    keepalive_ping: bool = False

    def __post_init__(self) -> None:
        for name in ("negotiation", "idle", "keepalive"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds or None")


#: The defaults: a negotiation deadline, no idle deadline.
DEFAULT_TIMEOUTS = Timeouts()


class DeadlineAction(Enum):
    """What a passed deadline asks the session to do."""

    #: The peer's closing tag did not come: close TLS and TCP.
    CLOSE_TRANSPORT = "close-transport"
    #: ``<connection-timeout/>`` and our closing tag.
    NEGOTIATION_TIMEOUT = "negotiation-timeout"
    #: Send a keepalive; the ``keepalive`` deadline is armed.
    KEEPALIVE = "keepalive"
    #: Still silent after the keepalive: our closing tag, no error.
    IDLE_CLOSE = "idle-close"


_PING_IDS = itertools.count(1)


class DeadlineKeeper:
    """The one deadline a session holds, and what it means when it passes."""

    __slots__ = ("_close_timeout", "_current", "_heard", "_serial", "_timeouts")

    def __init__(self, timeouts: Timeouts, close_timeout: float) -> None:
        self._timeouts = timeouts
        self._close_timeout = close_timeout
        self._current: Deadline | None = None
        self._serial = 0
        self._heard = False

    @property
    def current(self) -> Deadline | None:
        return self._current

    def heard(self) -> None:
        """The peer sent bytes (cheap: called on every read)."""
        self._heard = True

    def negotiating(self) -> None:
        """A receiving side starts waiting for a negotiated stream."""
        self._arm("negotiation", self._timeouts.negotiation)

    def ready(self) -> None:
        self._heard = False
        self._arm("idle", self._timeouts.idle)

    def closing(self) -> None:
        self._arm("close", self._close_timeout)

    def closed(self) -> None:
        self._current = None

    def passed(self, deadline: Deadline) -> DeadlineAction | None:
        """The action ``deadline`` asks for; ``None`` if it is stale or was re-armed."""
        if deadline != self._current:
            return None
        kind = deadline.kind
        if kind == "close":
            return DeadlineAction.CLOSE_TRANSPORT
        if kind == "negotiation":
            return DeadlineAction.NEGOTIATION_TIMEOUT
        heard, self._heard = self._heard, False
        if heard:
            self._arm("idle", self._timeouts.idle)
            return None
        if kind == "idle":
            grace = self._timeouts.keepalive or self._timeouts.idle
            self._arm("keepalive", grace)
            return DeadlineAction.KEEPALIVE
        return DeadlineAction.IDLE_CLOSE

    def keepalive(self, ours: str | None, peer: str | None) -> bytes:
        """The keepalive to send: a space, or a ping from ``ours`` to ``peer``
        (a client leaves both out: its server answers)."""
        if not self._timeouts.keepalive_ping:
            return b" "
        addresses = ""
        if ours is not None and peer is not None:
            addresses = f" from='{escape_attribute(ours)}' to='{escape_attribute(peer)}'"
        return (
            f"<iq type='get' id='keepalive-{next(_PING_IDS)}'{addresses}>"
            "<ping xmlns='urn:xmpp:ping'/></iq>"
        ).encode()

    def _arm(self, kind: str, seconds: float | None) -> None:
        if seconds is None:
            self._current = None
            return
        self._serial += 1
        self._current = Deadline(kind=kind, seconds=seconds, serial=self._serial)
