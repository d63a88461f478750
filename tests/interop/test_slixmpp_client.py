"""slixmpp, a client nobody here wrote, against xmppwire.aio's receiving entity.

slixmpp connects over STARTTLS (verifying our certificate against its CA
file), authenticates, binds, sends a message, gets our answer and disconnects;
both ends must see a clean close: slixmpp's ``End of stream`` (set only when
it parsed our ``</stream:stream>``) and our ``closed``.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme

from xmppwire import aio
from xmppwire.session import PasswordTable

from . import require_module

ClientXMPP = require_module("slixmpp").ClientXMPP

pytestmark = pytest.mark.interop

DOMAIN = "example.com"
USERS = {"juliet": "r0m30"}
TIMEOUT = 20
ROOT = Path(__file__).resolve().parents[2]
_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def bounded(test: _F) -> _F:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.wait_for(test(*args, **kwargs), TIMEOUT)

    return run  # type: ignore[return-value]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(DOMAIN).configure_cert(context)
    return context


class Slixmpp:
    """A slixmpp client: what it received, and why it disconnected."""

    def __init__(self, ca_file: Path, mechanism: str | None) -> None:
        options = {"sasl_mech": mechanism} if mechanism else {}
        self.xmpp = ClientXMPP(f"juliet@{DOMAIN}/slix", USERS["juliet"], **options)
        self.xmpp.ca_certs = ca_file
        self.xmpp.enable_direct_tls = False
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.disconnected: asyncio.Future[Any] = loop.create_future()
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.xmpp.add_event_handler("session_start", self._started)
        self.xmpp.add_event_handler("message", self.messages.put_nowait)
        self.xmpp.add_event_handler("failed_all_auth", self._failed)
        self.xmpp.add_event_handler("ssl_invalid_chain", self._failed)
        self.xmpp.add_event_handler("disconnected", self._disconnected)

    def _started(self, _event: Any) -> None:
        if not self.started.done():
            self.started.set_result(None)

    def _failed(self, event: Any) -> None:
        if not self.started.done():
            self.started.set_exception(AssertionError(f"slixmpp failed: {event!r}"))

    def _disconnected(self, reason: Any) -> None:
        if not self.started.done():
            self.started.set_exception(AssertionError(f"disconnected early: {reason!r}"))
        if not self.disconnected.done():
            self.disconnected.set_result(reason)

    async def login(self, port: int) -> None:
        self.xmpp.connect("127.0.0.1", port)
        await self.started

    @property
    def mechanism(self) -> str:
        return str(self.xmpp.plugin["feature_mechanisms"].mech.name)


class Answerer:
    """Our handler: answers each message and records how its stream ended."""

    def __init__(self) -> None:
        self.streams: list[aio.XMPPStream] = []
        self.bodies: list[str] = []
        self.done = asyncio.Event()

    async def __call__(self, stream: aio.XMPPStream) -> None:
        self.streams.append(stream)
        try:
            async for stanza in stream:
                body = stanza.element().findtext("{jabber:client}body")
                if stanza.name == "message" and body is not None:
                    self.bodies.append(body)
                    await stream.send_message(
                        stream.peer or "", f"you said: {body}", from_=f"echo@{DOMAIN}"
                    )
        finally:
            self.done.set()


@pytest.mark.asyncio
@pytest.mark.parametrize("mechanism", [None, "SCRAM-SHA-1", "PLAIN"])
@bounded
async def test_slixmpp_logs_in_talks_and_disconnects_cleanly(
    server_context: ssl.SSLContext, ca_file: Path, mechanism: str | None
) -> None:
    handler = Answerer()
    async with aio.serve(
        handler,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=server_context,
        close_timeout=5,
    ) as server:
        client = Slixmpp(ca_file, mechanism)
        await client.login(server.port)
        assert client.xmpp.boundjid.full == f"juliet@{DOMAIN}/slix"
        assert client.mechanism == (mechanism or "SCRAM-SHA-256")
        assert client.xmpp.transport.get_extra_info("ssl_object") is not None

        client.xmpp.send_message(
            mto=f"echo@{DOMAIN}", mbody="hello <&> \u00e9t\u00e9", mtype="chat"
        )
        answer = await client.messages.get()
        assert answer["body"] == "you said: hello <&> \u00e9t\u00e9"
        assert answer["from"] == f"echo@{DOMAIN}"

        await client.xmpp.disconnect(wait=TIMEOUT)
        assert await client.disconnected == "End of stream"
        await handler.done.wait()
        (stream,) = handler.streams
        await stream.wait_closed()
        assert stream.peer == f"juliet@{DOMAIN}/slix"
        assert stream.session.authenticated == "juliet"
        assert stream.close_reason == "closed"
        assert stream.stream_error is None
        assert handler.bodies == ["hello <&> \u00e9t\u00e9"]


@pytest.mark.asyncio
@bounded
async def test_we_close_first_and_slixmpp_hangs_up_without_its_closing_tag(
    server_context: ssl.SSLContext, ca_file: Path
) -> None:
    closed: asyncio.Future[aio.XMPPStream] = asyncio.get_running_loop().create_future()

    async def close_after_one_stanza(stream: aio.XMPPStream) -> None:
        await anext(stream)
        await stream.close()
        closed.set_result(stream)

    async with aio.serve(
        close_after_one_stanza,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(USERS),
        ssl_context=server_context,
        close_timeout=TIMEOUT,
    ) as server:
        client = Slixmpp(ca_file, None)
        await client.login(server.port)
        client.xmpp.send_message(mto=f"romeo@{DOMAIN}", mbody="bye", mtype="chat")
        # slixmpp reads our closing tag as a clean end...
        assert await client.disconnected == "End of stream"
        stream = await closed
        # ...but closes the connection without answering it: our side sees the
        # end of the connection, not a closing tag, and does not sit out the
        # close timeout.
        assert stream.close_reason == "eof"
        assert stream.stream_error is None
        assert stream.closed


@pytest.mark.asyncio
@bounded
async def test_slixmpp_against_the_minimal_server_example(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    cert = ca.issue_cert(DOMAIN)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "minimal_server.py"),
        "--domain",
        DOMAIN,
        "--cert",
        str(cert_file),
        "--key",
        str(key_file),
        "--user",
        "juliet:r0m30",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        assert server.stdout is not None
        listening = (await server.stdout.readline()).decode()
        assert listening.startswith("listening on 127.0.0.1:"), listening
        port = int(listening.rsplit(":", 1)[1])
        client = Slixmpp(ca_file, None)
        await client.login(port)
        client.xmpp.send_message(mto=f"romeo@{DOMAIN}", mbody="anyone?", mtype="chat")
        assert (await client.messages.get())["body"] == "you said: anyone?"
        await client.xmpp.disconnect(wait=TIMEOUT)
        assert await client.disconnected == "End of stream"
        assert (
            (await server.stdout.readline()).decode().startswith(f"juliet@{DOMAIN}/slix is online")
        )
        assert (await server.stdout.readline()).decode().strip() == (
            f"juliet@{DOMAIN}/slix left (closed)"
        )
        server.send_signal(signal.SIGTERM)
        assert (await server.stdout.read()).decode().strip() == "stopped"
        assert await server.wait() == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
