"""An nbxmpp client, with and without the accelerator, and an xmppwire.aio client on a real Prosody.

nbxmpp runs in a process of its own (``nbxmpp_peer.py``: GLib's main loop
drives its Gio sockets and TLS); the test's asyncio loop runs the aio client.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from xmppwire import aio

from . import require_module
from .prosody import ProsodyInstance

require_module("nbxmpp")

pytestmark = pytest.mark.interop

TIMEOUT = 40
PEER = Path(__file__).with_name("nbxmpp_peer.py")
TEXTS = [
    "plain ascii",
    "Wherefore art thou? <&> \u2018quotes\u2019 \u00e9t\u00e9 \U0001f339",
    "  leading and trailing spaces  ",
    "multi\nline\ntext",
]


def body(stanza: Any) -> str | None:
    return stanza.element().findtext("{jabber:client}body")


async def read_report(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    line = await process.stdout.readline()
    assert line, "the nbxmpp peer ended without reporting"
    return json.loads(line)


async def exchange(server: ProsodyInstance, accelerate: bool) -> list[dict[str, Any]]:
    async with aio.connect(
        server.jid("bob"),
        server.users["bob"],
        host=server.host,
        port=server.port,
        cafile=str(server.ca_file),
        timeout=TIMEOUT,
    ) as bob:
        argv = [
            sys.executable,
            str(PEER),
            f"--host={server.host}",
            f"--port={server.port}",
            f"--jid={server.jid('alice')}",
            f"--password={server.users['alice']}",
            f"--peer={bob.jid}",
        ]
        if accelerate:
            argv.append("--accelerate")
        peer = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
        try:
            connected = await read_report(peer)
            assert connected["event"] == "connected", connected
            alice = connected["jid"]
            assert alice.startswith(server.jid("alice") + "/")
            expected_parser = "XMPPWireNodeParser" if accelerate else "NodeBuilder"
            assert connected["parser"] == expected_parser

            hello = await anext(bob)
            assert (hello.name, hello.from_, body(hello)) == ("message", alice, "hello")

            reports = []
            for text in TEXTS:
                await bob.send_message(alice, text)
                echo = await anext(bob)
                assert (echo.from_, body(echo)) == (alice, f"echo: {text}")
                reports.append(await read_report(peer))
            await bob.send_message(alice, "bye")
            reports.append(await read_report(peer))
            reports.append(await read_report(peer))
            assert await peer.wait() == 0
        finally:
            if peer.returncode is None:
                peer.kill()
                await peer.wait()
    return reports


@pytest.mark.asyncio
@pytest.mark.parametrize("accelerate", [False, True], ids=["nbxmpp", "accelerated"])
async def test_nbxmpp_client_exchanges_messages_with_aio_client(
    prosody: ProsodyInstance, accelerate: bool
) -> None:
    reports = await asyncio.wait_for(exchange(prosody, accelerate), TIMEOUT)
    messages = [r for r in reports if r["event"] == "message"]
    assert [m["body"] for m in messages] == [*TEXTS, "bye"]
    assert {m["sender"] for m in messages} == {messages[0]["sender"]}
    assert messages[0]["sender"].startswith(prosody.jid("bob") + "/")
    assert reports[-1]["event"] == "disconnected"
