"""XEP-0174 serverless messaging: one connection per pair of contacts.

A :class:`LinkLocalRegistry` is shared by every link-local
:class:`~xmppwire.session.StreamSession` of one local user. It enforces:

- one TCP connection between two contacts: a second incoming stream gets
  ``<conflict/>`` instead of features;
- simultaneous connects (each side's outgoing stream still negotiating when
  the other's arrives): only the connection whose initiator's JID is
  lexicographically smaller gets the error, so both sides keep the same one;
- no new connection to a contact until the previous one is over (both
  closing tags sent, or the transport gone): :meth:`may_connect`.

The rule that the recipient holds its stanzas until the initiator has sent
one lives in the session itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from ..errors import LocalProtocolError
from .states import SessionState

__all__ = ["LinkLocalRegistry", "LinkedSession"]


class LinkedSession(Protocol):
    """What the registry needs of a session: its state (a ``StreamSession`` has it)."""

    @property
    def state(self) -> SessionState: ...


_Session = TypeVar("_Session", bound=LinkedSession)


@dataclass(slots=True)
class _Link(Generic[_Session]):
    session: _Session
    outgoing: bool


class LinkLocalRegistry(Generic[_Session]):
    """The link-local sessions of one local user (``StreamSession`` objects), by contact."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, str], _Link[_Session]] = {}

    def may_connect(self, local: str, remote: str) -> bool:
        """Whether a new connection to ``remote`` may be opened now."""
        return (local, remote) not in self._links

    def session_for(self, local: str, remote: str) -> _Session | None:
        """The live session with ``remote``, if any (the one to send stanzas on)."""
        link = self._links.get((local, remote))
        return link.session if link else None

    def claim_outgoing(self, local: str, remote: str, session: _Session) -> None:
        """Register an outgoing connection; ``LocalProtocolError`` if one exists or is closing."""
        link = self._links.get((local, remote))
        if link is not None:
            raise LocalProtocolError(
                f"a connection between {local} and {remote} exists or is still closing; "
                "use it or wait until it is over"
            )
        self._links[(local, remote)] = _Link(session, outgoing=True)

    def accept_incoming(self, local: str, remote: str, session: _Session) -> bool:
        """Register an incoming connection, or return False: it gets ``conflict``."""
        key = (local, remote)
        link = self._links.get(key)
        if link is None:
            self._links[key] = _Link(session, outgoing=False)
            return True
        simultaneous = link.outgoing and link.session.state in (
            SessionState.IDLE,
            SessionState.OPENING,
            SessionState.NEGOTIATING,
            SessionState.STARTING_TLS,
        )
        if simultaneous and local < remote:
            # Our own outgoing connection has the smaller initiator: the peer
            # refuses it, so this one is the connection both sides keep.
            self._links[key] = _Link(session, outgoing=False)
            return True
        return False

    def release(self, session: _Session) -> None:
        """Forget ``session``: it is over. Called by the session when it reaches CLOSED."""
        for key, link in list(self._links.items()):
            if link.session is session:
                del self._links[key]
