"""Twisted Words with the accelerator against real peers, over loopback sockets.

- A twisted external component (XEP-0114, twisted's own ``component``
  module, accelerated with ``install()``) connects to a real Prosody and
  exchanges messages with a Prosody user logged in with ``xmppwire.aio``.
- twisted's own XMPP client (``client.XMPPClientFactory``, accelerated),
  logs in to the same Prosody through STARTTLS and SASL (two stream
  restarts) and exchanges messages with a user logged in with ``xmppwire.aio``.
- twisted's own router (``component.Router`` behind
  ``XMPPComponentServerFactory``, accelerated) routes between two twisted
  components, one accelerated and one not.

The twisted programs are ``twisted_peers.py``, each in a process of its own
(twisted's reactor is one per process).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xmppwire import aio

from . import require_module, unavailable
from .prosody import ProsodyInstance, ProsodyUnavailable, prosody_server

require_module("twisted")

pytestmark = pytest.mark.interop

PEERS = Path(__file__).with_name("twisted_peers.py")
TIMEOUT = 30
COMPONENT = "echo.localhost"
SECRET = "c0mp0nent-s3cret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ProsodyInstance, int]]:
    component_port = free_port()
    try:
        running = prosody_server(
            options=(
                f"component_ports = {{ {component_port} }}",
                f'Component "{COMPONENT}"',
                f'    component_secret = "{SECRET}"',
            )
        )
        instance = running.__enter__()
    except ProsodyUnavailable as exc:
        unavailable(f"Prosody is unavailable: {exc}")
        raise
    try:
        yield instance, component_port
    finally:
        running.__exit__(None, None, None)


async def next_report(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
    assert line, "the twisted component exited early"
    return json.loads(line)


@pytest.mark.asyncio
async def test_twisted_component_and_prosody_user_exchange_messages(
    server: tuple[ProsodyInstance, int],
) -> None:
    prosody, component_port = server
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PEERS),
        "component",
        prosody.host,
        str(component_port),
        COMPONENT,
        SECRET,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        # Authenticated with Prosody (handshake over a stream xmppwire parsed).
        assert await next_report(process) == {"event": "ready", "parser": "XMPPWireElementStream"}
        async with aio.connect(
            prosody.jid("alice"),
            prosody.users["alice"],
            host=prosody.host,
            port=prosody.port,
            cafile=str(prosody.ca_file),
            timeout=TIMEOUT,
        ) as alice:
            texts = ["hello, component", "caf\u00e9 <&> \u2018quoted\u2019 \U0001f339", "x" * 3000]
            for n, text in enumerate(texts):
                await alice.send_message(f"bot@{COMPONENT}", text)
                seen = await next_report(process)
                assert seen == {
                    "event": "message",
                    "sender": alice.jid,
                    "to": f"bot@{COMPONENT}",
                    "body": text,
                    "parser": "XMPPWireElementStream",
                }, n
                reply = await asyncio.wait_for(anext(alice), TIMEOUT)
                assert reply.name == "message"
                assert (reply.from_, reply.to) == (f"bot@{COMPONENT}", alice.jid)
                assert reply.element().findtext("{jabber:client}body") == f"echo: {text}"
            await alice.send_message(f"bot@{COMPONENT}", "bye")
            assert (await next_report(process))["body"] == "bye"
        assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.asyncio
async def test_twisted_client_logs_in_through_starttls_and_sasl(
    server: tuple[ProsodyInstance, int],
) -> None:
    prosody, _ = server
    async with aio.connect(
        prosody.jid("bob"),
        prosody.users["bob"],
        host=prosody.host,
        port=prosody.port,
        cafile=str(prosody.ca_file),
        timeout=TIMEOUT,
    ) as bob:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PEERS),
            "client",
            prosody.host,
            str(prosody.port),
            prosody.jid("alice") + "/twisted",
            prosody.users["alice"],
            str(prosody.ca_file),
            bob.jid,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            ready = await next_report(process)
            # Three streams from the server: before TLS, after TLS, after SASL;
            # the last one, where the stanzas flow, parsed by xmppwire.
            assert ready == {
                "event": "ready",
                "jid": prosody.jid("alice") + "/twisted",
                "parser": "XMPPWireElementStream",
                "streams": 3,
                "tls": True,
            }
            hello = await asyncio.wait_for(anext(bob), TIMEOUT)
            assert (hello.name, hello.from_) == ("message", ready["jid"])
            assert hello.element().findtext("{jabber:client}body") == "hello from twisted"
            text = "ping \u00e9t\u00e9 <&> \U0001f339"
            await bob.send_message(ready["jid"], text)
            seen = await next_report(process)
            assert (seen["sender"], seen["to"], seen["body"]) == (bob.jid, ready["jid"], text)
            reply = await asyncio.wait_for(anext(bob), TIMEOUT)
            assert reply.element().findtext("{jabber:client}body") == f"echo: {text}"
            await bob.send_message(ready["jid"], "bye")
            assert (await next_report(process))["body"] == "bye"
            assert await asyncio.wait_for(process.wait(), TIMEOUT) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def test_twisted_router_between_accelerated_and_plain_components() -> None:
    messages = 200
    done = subprocess.run(
        [sys.executable, str(PEERS), "router", str(messages)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 2,
        check=True,
    )
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    components = {r["name"]: r for r in reports if r["event"] == "component"}
    (router,) = [r for r in reports if r["event"] == "router"]
    # The router parsed both components' streams with xmppwire; of the
    # components, one parsed with xmppwire and the other with twisted's expat.
    assert router["parsers"] == ["XMPPWireElementStream"] * 2
    assert components["fast.test"]["parser"] == "XMPPWireElementStream"
    assert components["plain.test"]["parser"] == "ExpatElementStream"
    for name, peer in (("fast.test", "plain.test"), ("plain.test", "fast.test")):
        assert components[name]["received"] == [
            [f"bot@{peer}", f"bot@{name}/r", f"{n} from {peer}: caf\u00e9 <&> \U0001f339"]
            for n in range(messages)
        ]
