"""The routing server (xmppwire.router) with xmppwire.aio clients, on loopback.

Routing by ``to`` with ``from`` stamped, the stanza errors for JIDs it can't
deliver to, and the memory of 1,000 idle authenticated connections (the
router in a process of its own, its RSS read from /proc).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from xmppwire import aio
from xmppwire.router import Router
from xmppwire.session import PasswordTable, TLSPolicy

DOMAIN = "example.com"
USERS = {"juliet": "r0m30", "romeo": "juliet!", "nurse": "n1"}
TIMEOUT = 30
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


@contextlib.asynccontextmanager
async def router(ca: trustme.CA) -> AsyncIterator[tuple[Router, aio.XMPPServer]]:
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
        close_timeout=2,
    ) as server:
        yield routing, server


def client(port: int, context: ssl.SSLContext, user: str, resource: str = "r") -> Any:
    return aio.connect(
        f"{user}@{DOMAIN}/{resource}",
        USERS[user],
        host="127.0.0.1",
        port=port,
        ssl_context=context,
        timeout=TIMEOUT,
        close_timeout=2,
    )


async def next_stanza(stream: aio.XMPPStream) -> Any:
    return await asyncio.wait_for(anext(stream), TIMEOUT)


def error_condition(stanza: Any) -> str | None:
    element = stanza.element()
    error = element.find("{jabber:client}error")
    if error is None or len(error) == 0:
        return None
    assert error[0].tag.startswith(f"{{{STANZAS}}}")
    return error[0].tag.split("}")[1]


@pytest.mark.asyncio
async def test_messages_routed_by_to_with_from_stamped(
    ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    async with (
        router(ca) as (routing, server),
        client(server.port, client_context, "juliet", "balcony") as juliet,
        client(server.port, client_context, "romeo", "garden") as romeo,
    ):
        await juliet.send_message(f"romeo@{DOMAIN}/garden", "wherefore", id="m1")
        got = await next_stanza(romeo)
        assert (got.from_, got.to, got.id) == (f"juliet@{DOMAIN}/balcony", romeo.jid, "m1")
        assert got.element().findtext("{jabber:client}body") == "wherefore"
        # A bare JID reaches the account's resources; a forged from is replaced.
        await romeo.send(
            f"<message to='juliet@{DOMAIN}' from='nurse@{DOMAIN}/x' type='chat'>"
            "<body>here</body></message>"
        )
        got = await next_stanza(juliet)
        assert got.from_ == f"romeo@{DOMAIN}/garden"
        assert got.element().findtext("{jabber:client}body") == "here"
        # Presence and iq too.
        await juliet.send_presence(to=f"romeo@{DOMAIN}/garden")
        assert (await next_stanza(romeo)).name == "presence"
        await romeo.send(f"<iq type='get' id='v1' to='juliet@{DOMAIN}/balcony'><q/></iq>")
        got = await next_stanza(juliet)
        assert (got.name, got.type, got.from_) == ("iq", "get", f"romeo@{DOMAIN}/garden")
        assert routing.routed == 4


@pytest.mark.asyncio
async def test_undeliverable_stanzas_get_the_rfc_errors(
    ca: trustme.CA, client_context: ssl.SSLContext
) -> None:
    async with (
        router(ca) as (routing, server),
        client(server.port, client_context, "juliet") as juliet,
    ):
        cases = [
            # (stanza, expected error condition)
            (
                f"<message to='ghost@{DOMAIN}' id='a'><body>?</body></message>",
                "service-unavailable",
            ),
            (
                f"<message to='nurse@{DOMAIN}' id='b'><body>?</body></message>",
                "service-unavailable",
            ),
            (f"<iq type='get' to='nurse@{DOMAIN}/x' id='c'><q/></iq>", "service-unavailable"),
            (f"<iq type='set' to='romeo@{DOMAIN}' id='d'><q/></iq>", "service-unavailable"),
            (
                "<message to='x@elsewhere.example' id='e'><body>?</body></message>",
                "remote-server-not-found",
            ),
        ]
        for stanza, condition in cases:
            await juliet.send(stanza)
            got = await next_stanza(juliet)
            assert got.type == "error", stanza
            assert error_condition(got) == condition, stanza
            assert got.to == juliet.jid
        # Presence to an unknown account, and error stanzas, are never answered;
        # a ping to the server is.
        await juliet.send(f"<presence to='ghost@{DOMAIN}'/>")
        await juliet.send(f"<message to='ghost@{DOMAIN}' type='error'/>")
        await juliet.send(
            f"<iq type='get' id='p1' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>"
        )
        got = await next_stanza(juliet)
        assert (got.name, got.type, got.id, got.from_) == ("iq", "result", "p1", DOMAIN)
        assert routing.bounced == 5


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.asyncio
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_memory_per_idle_authenticated_connection(
    ca: trustme.CA, tmp_path: Path, tls: bool
) -> None:
    count = 1000
    cert = ca.issue_cert(DOMAIN)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    users = tmp_path / "users.txt"
    users.write_text("".join(f"u{n}:p{n}\n" for n in range(count)))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xmppwire.router",
            "--domain",
            DOMAIN,
            *(["--cert", str(cert_file), "--key", str(key_file)] if tls else []),
            "--users-file",
            str(users),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    context = ssl.create_default_context()
    ca.configure_trust(context)
    streams: list[aio.XMPPStream] = []
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(None, process.stdout.readline), TIMEOUT
        )
        port = int(line.split(b":")[-1])
        before = rss_of(process.pid)
        started = time.monotonic()
        opening = asyncio.Semaphore(50)

        async def one(n: int) -> aio.XMPPStream:
            async with opening:
                return await aio.connect(
                    f"u{n}@{DOMAIN}/idle",
                    f"p{n}",
                    **({} if tls else {"tls": TLSPolicy.DISABLED, "allow_plain_without_tls": True}),
                    host="127.0.0.1",
                    port=port,
                    ssl_context=context,
                    mechanisms=("PLAIN",),
                    timeout=120,
                    close_timeout=2,
                )

        streams = list(await asyncio.gather(*(one(n) for n in range(count))))
        await asyncio.sleep(0.5)
        after = rss_of(process.pid)
        per_connection = (after - before) / count
        print(
            f"\n{count} idle authenticated {'TLS' if tls else 'plain'} c2s connections: router RSS "
            f"{before / 1e6:.1f} MB -> {after / 1e6:.1f} MB, {per_connection / 1e3:.1f} KB "
            f"per connection (set up in {time.monotonic() - started:.1f} s)"
        )
        assert all(s.ready for s in streams)
        # Session, parser, stream, transport; with TLS also OpenSSL's state and
        # asyncio's SSL protocol, whose 256 KiB receive buffer the adapter
        # replaces with one shared by the loop (319 KB per connection without).
        assert per_connection < (150_000 if tls else 64_000)
    finally:
        for stream in streams:
            stream.abort()
        process.terminate()
        process.wait(TIMEOUT)
