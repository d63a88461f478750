"""slixmpp, with and without xmppwire's parser, against a real Prosody.

Each client does what a user's bot does: STARTTLS with certificate
verification, SASL (SCRAM-SHA-1 or PLAIN), bind, presence, messages, and a
clean close where Prosody's ``</stream:stream>`` is what ends the connection.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import xmppwire

from . import require_module
from .prosody import ProsodyInstance

ClientXMPP = require_module("slixmpp").ClientXMPP

from xmppwire.integrations import slixmpp as accelerator  # noqa: E402

TIMEOUT = 15


@pytest.fixture(params=[pytest.param(True, id="xmppwire"), pytest.param(False, id="slixmpp")])
def accelerated(request: pytest.FixtureRequest) -> Iterator[bool]:
    if request.param:
        accelerator.install()
    try:
        yield request.param
    finally:
        accelerator.uninstall()


class Client:
    """A slixmpp client, logged in, with what it received and how it ended."""

    def __init__(self, prosody: ProsodyInstance, user: str, mechanism: str) -> None:
        self.xmpp = ClientXMPP(
            f"{prosody.jid(user)}/interop", prosody.users[user], sasl_mech=mechanism
        )
        self.xmpp.ca_certs = prosody.ca_file
        # Prosody listens for STARTTLS only: skip slixmpp's direct-TLS attempt.
        self.xmpp.enable_direct_tls = False
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.session_started = asyncio.Event()
        self.disconnected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.xmpp.add_event_handler("session_start", self._on_session_start)
        self.xmpp.add_event_handler("message", self.messages.put_nowait)
        self.xmpp.add_event_handler("failed_all_auth", self._on_failure)
        self.xmpp.add_event_handler("ssl_invalid_chain", self._on_failure)
        self.xmpp.add_event_handler("disconnected", self._on_disconnected)

    def _on_session_start(self, _event: Any) -> None:
        self.xmpp.send_presence()
        self.session_started.set()

    def _on_failure(self, event: Any) -> None:
        if not self.disconnected.done():
            self.disconnected.set_exception(AssertionError(f"login failed: {event!r}"))

    def _on_disconnected(self, reason: Any) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(reason)

    async def login(self, prosody: ProsodyInstance) -> None:
        self.xmpp.connect(prosody.host, prosody.port)
        started = asyncio.ensure_future(self.session_started.wait())
        done, _ = await asyncio.wait(
            [started, self.disconnected], timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if started not in done:
            started.cancel()
            if self.disconnected.done():
                raise AssertionError(
                    f"disconnected before the session started: {self.disconnected.result()!r}"
                )
            raise AssertionError("no session within the timeout")

    @property
    def mechanism(self) -> str:
        return str(self.xmpp.plugin["feature_mechanisms"].mech.name)

    async def close(self) -> Any:
        """Close our stream; returns the reason slixmpp gives for the disconnection."""
        await self.xmpp.disconnect(wait=TIMEOUT)
        return await asyncio.wait_for(self.disconnected, TIMEOUT)


@pytest_asyncio.fixture
async def clients(prosody: ProsodyInstance) -> AsyncIterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        if client.xmpp.transport is not None:
            client.xmpp.abort()


def _assert_parser(client: Client, accelerated: bool) -> None:
    expected = xmppwire.StreamParser if accelerated else ET.XMLPullParser
    assert isinstance(client.xmpp.parser, expected)


@pytest.mark.asyncio
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN"])
async def test_login_over_starttls_and_clean_close(
    prosody: ProsodyInstance, clients: list[Client], accelerated: bool, mechanism: str
) -> None:
    alice = Client(prosody, "alice", mechanism)
    clients.append(alice)
    await alice.login(prosody)

    assert alice.mechanism == mechanism
    assert alice.xmpp.authenticated
    assert alice.xmpp.boundjid.bare == prosody.jid("alice")
    assert alice.xmpp.transport.get_extra_info("ssl_object") is not None
    # Two stream restarts happened (after STARTTLS, after SASL): the header of
    # the last stream reached slixmpp, with its version and id.
    assert alice.xmpp.stream_version == "1.0"
    assert alice.xmpp.stream_id
    _assert_parser(alice, accelerated)

    # "End of stream" is set only when Prosody's </stream:stream> was parsed.
    assert await alice.close() == "End of stream"


@pytest.mark.asyncio
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN"])
async def test_two_clients_exchange_messages(
    prosody: ProsodyInstance, clients: list[Client], accelerated: bool, mechanism: str
) -> None:
    alice = Client(prosody, "alice", mechanism)
    bob = Client(prosody, "bob", mechanism)
    clients.extend([alice, bob])
    await asyncio.gather(alice.login(prosody), bob.login(prosody))
    _assert_parser(alice, accelerated)
    _assert_parser(bob, accelerated)

    body = "Wherefore art thou? <&> \u2018quotes\u2019 été 🌹"
    alice.xmpp.send_message(mto=bob.xmpp.boundjid.full, mbody=body, mtype="chat")
    received = await asyncio.wait_for(bob.messages.get(), TIMEOUT)
    assert received["body"] == body
    assert received["from"] == alice.xmpp.boundjid
    assert received["type"] == "chat"

    # A burst the other way: many stanzas may arrive in one read.
    for n in range(50):
        bob.xmpp.send_message(mto=alice.xmpp.boundjid.full, mbody=f"reply {n}", mtype="chat")
    replies = [await asyncio.wait_for(alice.messages.get(), TIMEOUT) for _ in range(50)]
    assert [reply["body"] for reply in replies] == [f"reply {n}" for n in range(50)]
    assert {reply["from"] for reply in replies} == {bob.xmpp.boundjid}

    assert await alice.close() == "End of stream"
    assert await bob.close() == "End of stream"
