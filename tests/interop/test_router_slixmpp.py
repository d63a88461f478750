"""Two slixmpp clients, which nobody here wrote, talk through xmppwire.router."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from xmppwire import aio
from xmppwire.router import Router
from xmppwire.session import PasswordTable

from . import require_module

ClientXMPP = require_module("slixmpp").ClientXMPP

pytestmark = pytest.mark.interop

DOMAIN = "example.com"
USERS = {"juliet": "r0m30", "romeo": "juliet!"}
TIMEOUT = 20


class Client:
    def __init__(self, user: str, ca_file: Path) -> None:
        self.xmpp = ClientXMPP(f"{user}@{DOMAIN}/slix", USERS[user])
        self.xmpp.ca_certs = ca_file
        self.xmpp.enable_direct_tls = False
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.disconnected: asyncio.Future[Any] = loop.create_future()
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.xmpp.add_event_handler("session_start", self._started)
        self.xmpp.add_event_handler("message", self.messages.put_nowait)
        self.xmpp.add_event_handler("message_error", self.messages.put_nowait)
        self.xmpp.add_event_handler("disconnected", self._disconnected)

    def _started(self, _event: Any) -> None:
        if not self.started.done():
            self.started.set_result(None)

    def _disconnected(self, reason: Any) -> None:
        if not self.started.done():
            self.started.set_exception(AssertionError(f"disconnected early: {reason!r}"))
        if not self.disconnected.done():
            self.disconnected.set_result(reason)

    async def login(self, port: int) -> None:
        self.xmpp.connect("127.0.0.1", port)
        await asyncio.wait_for(self.started, TIMEOUT)

    async def next_message(self) -> Any:
        return await asyncio.wait_for(self.messages.get(), TIMEOUT)


@pytest.mark.asyncio
async def test_two_slixmpp_clients_exchange_messages_through_the_router(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(DOMAIN).configure_cert(context)
    routing = Router(DOMAIN, USERS)
    async with aio.serve(
        routing.handle,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=context,
    ) as server:
        juliet, romeo = Client("juliet", ca_file), Client("romeo", ca_file)
        await juliet.login(server.port)
        await romeo.login(server.port)
        juliet.xmpp.send_message(mto=f"romeo@{DOMAIN}/slix", mbody="wherefore", mtype="chat")
        got = await romeo.next_message()
        assert (str(got["from"]), got["body"]) == (f"juliet@{DOMAIN}/slix", "wherefore")
        romeo.xmpp.send_message(mto=f"juliet@{DOMAIN}", mbody="here", mtype="chat")
        got = await juliet.next_message()
        assert (str(got["from"]), got["body"]) == (f"romeo@{DOMAIN}/slix", "here")
        # An offline account: slixmpp gets the stanza error.
        juliet.xmpp.send_message(mto=f"ghost@{DOMAIN}", mbody="?", mtype="chat")
        got = await juliet.next_message()
        assert got["type"] == "error"
        assert got["error"]["condition"] == "service-unavailable"
        for client in (juliet, romeo):
            client.xmpp.disconnect()
            await asyncio.wait_for(client.disconnected, TIMEOUT)
        assert routing.routed == 2
