"""SASL (RFC 6120 §6): PLAIN by hand, SCRAM-SHA-1 and SCRAM-SHA-256 through scramp.

The initiating side gets a :class:`ClientMechanism`; the receiving side a
:class:`ServerExchange` that asks the caller's :class:`Authenticator` about
credentials.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import scramp

from ..errors import RemoteProtocolError

__all__ = [
    "MECHANISMS",
    "Authenticator",
    "ClientMechanism",
    "PasswordTable",
    "SASLFailure",
    "ScramCredentials",
    "ServerExchange",
    "b64decode",
    "b64encode",
    "client_mechanism",
]

#: Mechanisms both sides support, strongest first.
MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")
#: SCRAM with channel binding: used when the caller gives the TLS channel
#: binding data (``tls_started(channel_binding=...)``) and the peer offers them.
PLUS = {"SCRAM-SHA-256": "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1": "SCRAM-SHA-1-PLUS"}

#: RFC 6120 §6.5's failure conditions.
FAILURE_CONDITIONS = frozenset(
    {
        "aborted",
        "account-disabled",
        "credentials-expired",
        "encryption-required",
        "incorrect-encoding",
        "invalid-authzid",
        "invalid-mechanism",
        "malformed-request",
        "mechanism-too-weak",
        "not-authorized",
        "temporary-auth-failure",
    }
)

_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def b64encode(data: bytes | None) -> str:
    """SASL data as element text: ``=`` for an empty response (RFC 6120 §6.4.2)."""
    if data is None:
        return ""
    return base64.b64encode(data).decode("ascii") if data else "="


def b64decode(text: str | None) -> bytes | None:
    """Element text to SASL data; ``None`` for no data; ``SASLFailure`` if not base64."""
    text = (text or "").strip()
    if not text:
        return None
    if text == "=":
        return b""
    raw = text.encode("ascii", "replace")
    if len(raw) % 4 or not _BASE64.fullmatch(raw):
        raise SASLFailure("incorrect-encoding", "not base64")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise SASLFailure("incorrect-encoding", "not base64") from None


class SASLFailure(Exception):
    """A SASL exchange ends in ``<failure><condition/></failure>``."""

    def __init__(self, condition: str, text: str | None = None) -> None:
        super().__init__(text or condition)
        self.condition = condition
        self.text = text


# ---------------------------------------------------------------- initiating side


class ClientMechanism:
    name: str

    def initial_response(self) -> bytes | None:
        raise NotImplementedError

    def respond(self, challenge: bytes) -> bytes:
        raise NotImplementedError

    def verify_success(self, data: bytes | None) -> None:
        """Check the data that came with ``<success/>``; ``RemoteProtocolError`` if wrong."""


class _PlainClient(ClientMechanism):
    name = "PLAIN"

    def __init__(self, username: str, password: str, authzid: str = "") -> None:
        self._message = f"{authzid}\0{username}\0{password}".encode()

    def initial_response(self) -> bytes:
        return self._message

    def respond(self, challenge: bytes) -> bytes:
        raise RemoteProtocolError("PLAIN takes no challenge", condition="not-authorized")


class _ScramClient(ClientMechanism):
    def __init__(
        self,
        name: str,
        username: str,
        password: str,
        nonce: str | None,
        channel_binding: tuple[str, bytes] | None,
    ) -> None:
        self.name = name
        # With channel binding data but a mechanism without -PLUS, scramp sends
        # the "y" flag: we could bind, the server didn't offer it (RFC 5802 §6).
        self._client = scramp.ScramClient(
            [name], username, password, channel_binding=channel_binding, c_nonce=nonce
        )
        self._step = 0

    def initial_response(self) -> bytes:
        return self._client.get_client_first().encode()

    def respond(self, challenge: bytes) -> bytes:
        if self._step != 0:
            raise RemoteProtocolError("unexpected SCRAM challenge", condition="not-authorized")
        self._step = 1
        try:
            self._client.set_server_first(challenge.decode("utf-8"))
            return self._client.get_client_final().encode()
        except (scramp.ScramException, UnicodeDecodeError) as exc:
            raise RemoteProtocolError(
                f"bad SCRAM challenge: {exc}", condition="not-authorized"
            ) from None

    def verify_success(self, data: bytes | None) -> None:
        # Without the server's signature the server never proved it knows the
        # password: RFC 5802 §5 makes that a failed authentication.
        if self._step != 1 or data is None:
            raise RemoteProtocolError(
                "SCRAM success without server signature", condition="not-authorized"
            )
        try:
            self._client.set_server_final(data.decode("utf-8"))
        except (scramp.ScramException, UnicodeDecodeError) as exc:
            raise RemoteProtocolError(
                f"the server's SCRAM signature is wrong: {exc}", condition="not-authorized"
            ) from None


def client_mechanism(
    name: str,
    username: str,
    password: str,
    *,
    scram_nonce: str | None = None,
    channel_binding: tuple[str, bytes] | None = None,
) -> ClientMechanism:
    if name == "PLAIN":
        return _PlainClient(username, password)
    if name in PLUS or name in PLUS.values():
        return _ScramClient(name, username, password, scram_nonce, channel_binding)
    raise ValueError(f"unsupported SASL mechanism {name!r}")


# ---------------------------------------------------------------- receiving side


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """What a server stores for SCRAM instead of the password (RFC 5802 §3)."""

    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    @classmethod
    def from_password(
        cls, mechanism: str, password: str, iterations: int = 4096
    ) -> ScramCredentials:
        return cls(*scramp.ScramMechanism(mechanism).make_auth_info(password, iterations))


class Authenticator(Protocol):
    """The caller's credential checks, for the receiving side."""

    def check_plain(self, username: str, password: str, authzid: str) -> bool:
        """True when PLAIN's username and password are right (and authzid, if given, is allowed)."""

    def scram_credentials(self, mechanism: str, username: str) -> ScramCredentials | None:
        """The stored SCRAM credentials of ``username``, ``None`` when there is no such user."""


class PasswordTable:
    """An :class:`Authenticator` over a ``{username: password}`` mapping (tests, small servers)."""

    def __init__(self, passwords: Mapping[str, str], *, iterations: int = 4096) -> None:
        self._passwords = dict(passwords)
        self._iterations = iterations
        self._scram: dict[tuple[str, str], ScramCredentials] = {}

    def check_plain(self, username: str, password: str, authzid: str) -> bool:
        if authzid and authzid != username:
            return False
        expected = self._passwords.get(username)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def scram_credentials(self, mechanism: str, username: str) -> ScramCredentials | None:
        password = self._passwords.get(username)
        if password is None:
            return None
        key = (mechanism, username)
        if key not in self._scram:
            self._scram[key] = ScramCredentials.from_password(mechanism, password, self._iterations)
        return self._scram[key]


class ServerExchange:
    """One SASL exchange on the receiving side.

    ``step()`` takes the client's data and returns ``("challenge", data)`` or
    ``("success", data_or_None)``; it raises :class:`SASLFailure`.
    """

    def __init__(
        self,
        mechanism: str,
        authenticator: Authenticator,
        channel_binding: tuple[str, bytes] | None = None,
    ) -> None:
        self.mechanism = mechanism
        self._channel_binding = channel_binding
        self.username: str | None = None
        self._auth = authenticator
        self._scram: scramp.core.ScramServer | None = None
        self._step = 0
        self._unknown_user = False

    def step(self, data: bytes | None) -> tuple[str, bytes | None]:
        if self.mechanism == "PLAIN":
            return self._plain(data)
        return self._scram_step(data)

    def _plain(self, data: bytes | None) -> tuple[str, bytes | None]:
        if data is None:
            if self._step == 0:
                self._step = 1
                return ("challenge", b"")
            raise SASLFailure("malformed-request")
        parts = data.split(b"\0")
        if len(parts) != 3:
            raise SASLFailure("malformed-request")
        try:
            authzid, username, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            raise SASLFailure("malformed-request") from None
        if not username or not self._auth.check_plain(username, password, authzid):
            raise SASLFailure("not-authorized")
        self.username = username
        return ("success", None)

    def _scram_step(self, data: bytes | None) -> tuple[str, bytes | None]:
        if data is None:
            if self._step == 0 and self._scram is None:
                self._step = -1
                return ("challenge", b"")
            raise SASLFailure("malformed-request")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SASLFailure("malformed-request") from None
        try:
            if self._scram is None:
                self._scram = scramp.ScramMechanism(self.mechanism).make_server(
                    self._lookup, channel_binding=self._channel_binding
                )
                self._scram.set_client_first(text)
                return ("challenge", self._scram.get_server_first().encode())
            self._scram.set_client_final(text)
            final = self._scram.get_server_final()
        except scramp.ScramException as exc:
            if self._scram is not None and getattr(self._scram, "error", None) is not None:
                raise SASLFailure("not-authorized", str(exc)) from None
            raise SASLFailure("malformed-request", str(exc)) from None
        if self._unknown_user:
            raise SASLFailure("not-authorized")
        return ("success", final.encode())

    def _lookup(self, username: str) -> tuple[bytes, bytes, bytes, int]:
        self.username = username
        creds = self._auth.scram_credentials(self.mechanism.removesuffix("-PLUS"), username)
        if creds is None:
            # Go through with random keys so that an unknown user fails exactly
            # like a wrong password, at the end, and usernames can't be probed.
            self._unknown_user = True
            creds = ScramCredentials(os.urandom(16), os.urandom(32), os.urandom(32), 4096)
        return (creds.salt, creds.stored_key, creds.server_key, creds.iterations)
