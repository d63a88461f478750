"""xmppwire.aio clients against a real Prosody on loopback.

Prosody runs with the harness's configuration plus its admin shell (to make
it close a stream first) and ``c2s_stanza_size_limit = 10000`` (the smallest
it accepts), so an oversized stanza costs 60 KB rather than 256 KB.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from xmppwire import aio
from xmppwire.session import Authenticated, PeerClosed, StreamErrorReceived, StreamReady

from . import unavailable
from .prosody import ProsodyInstance, ProsodyUnavailable, prosody_server, prosody_shell

TIMEOUT = 20
ROOT = Path(__file__).resolve().parents[2]
_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])
_outer: set[asyncio.Task[Any]] = set()

pytestmark = pytest.mark.interop


def bounded(test: _F) -> _F:
    """Fail instead of hanging."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        # The test runs in a task of its own; the one awaiting it is not ours.
        _outer.clear()
        _outer.update(asyncio.all_tasks())
        return await asyncio.wait_for(test(*args, **kwargs), TIMEOUT)

    return run  # type: ignore[return-value]


@pytest.fixture(scope="module")
def server() -> Iterator[ProsodyInstance]:
    try:
        running = prosody_server(
            modules=("admin_shell",), options=("c2s_stanza_size_limit = 10000",)
        )
        instance = running.__enter__()
    except ProsodyUnavailable as exc:
        unavailable(f"Prosody is unavailable: {exc}")
        raise
    try:
        yield instance
    finally:
        running.__exit__(None, None, None)


def login(server: ProsodyInstance, user: str, **options: Any) -> Any:
    return aio.connect(
        server.jid(user),
        server.users[user],
        host=server.host,
        port=server.port,
        cafile=str(server.ca_file),
        timeout=TIMEOUT,
        **options,
    )


def body(stanza: Any) -> str | None:
    return stanza.element().findtext("{jabber:client}body")


def others() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()} - _outer  # type: ignore[operator]


async def all_gone(*streams: aio.XMPPStream) -> None:
    for stream in streams:
        await stream.wait_closed()
        assert stream.get_extra_info("socket").fileno() == -1
    assert others() == set()


@pytest.mark.asyncio
@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "PLAIN"])
@bounded
async def test_login(server: ProsodyInstance, mechanism: str) -> None:
    stream = await login(server, "alice", mechanisms=[mechanism])
    events = []
    async for event in stream.events():
        events.append(event)
        if type(event) is StreamReady:
            break
    (auth,) = [e for e in events if type(e) is Authenticated]
    assert auth.mechanism == mechanism
    assert stream.jid.startswith(server.jid("alice") + "/")
    assert stream.get_extra_info("ssl_object") is not None
    assert stream.session.tls_active
    await stream.close()
    assert stream.close_reason == "closed"
    assert stream.stream_error is None
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_two_clients_exchange_messages(server: ProsodyInstance) -> None:
    async with login(server, "alice") as alice, login(server, "bob") as bob:
        text = "Wherefore art thou? <&> \u2018quotes\u2019 \u00e9t\u00e9 \U0001f339"
        await alice.send_message(bob.jid, text)
        got = await anext(bob)
        assert (got.name, got.from_, got.to, body(got)) == ("message", alice.jid, bob.jid, text)
        for n in range(50):
            await bob.send_message(alice.jid, f"reply {n}")
        replies = [await anext(alice) for _ in range(50)]
        assert [body(r) for r in replies] == [f"reply {n}" for n in range(50)]
        assert {r.from_ for r in replies} == {bob.jid}
    assert (alice.close_reason, bob.close_reason) == ("closed", "closed")
    await all_gone(alice, bob)


@pytest.mark.asyncio
@bounded
async def test_we_close_first(server: ProsodyInstance) -> None:
    stream = await login(server, "alice")
    await stream.close()
    kinds = [type(e).__name__ async for e in stream.events()]
    assert kinds[-2:] == ["PeerClosed", "CloseTransport"]
    assert stream.close_reason == "closed"
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_prosody_closes_first(server: ProsodyInstance) -> None:
    stream = await login(server, "bob")
    answer = await asyncio.to_thread(prosody_shell, server, f"c2s:close('{stream.jid}')")
    assert "1 sessions closed" in answer
    events = [e async for e in stream.events()]
    assert [type(e).__name__ for e in events[-2:]] == ["PeerClosed", "CloseTransport"]
    assert stream.close_reason == "closed"
    assert stream.stream_error is None
    # Our closing tag answered Prosody's; nothing is left to do.
    assert stream.session.close_sent
    await stream.close()
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_stanzas_after_our_closing_tag_reach_the_application(
    server: ProsodyInstance,
) -> None:
    stream = await login(server, "alice")
    for n in range(3):
        await stream.send(
            f"<iq type='get' id='ping-{n}' to='{server.domain}'><ping xmlns='urn:xmpp:ping'/></iq>"
        )
    await stream.send_message(stream.jid, "to myself")
    # No await has yielded to the loop since the sends, and close() writes our
    # closing tag before its first await: every answer is read after it.
    close = asyncio.ensure_future(stream.close())
    await asyncio.sleep(0)
    assert stream.session.close_sent
    late = [stanza async for stanza in stream]
    await close
    assert [(s.name, s.type, s.id) for s in late[:3]] == [
        ("iq", "result", f"ping-{n}") for n in range(3)
    ]
    assert [body(s) for s in late[3:]] == ["to myself"]
    assert stream.close_reason == "closed"
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_wrong_password(server: ProsodyInstance) -> None:
    with pytest.raises(aio.AuthenticationError) as failed:
        await aio.connect(
            server.jid("alice"),
            "not her password",
            host=server.host,
            port=server.port,
            cafile=str(server.ca_file),
            timeout=TIMEOUT,
        )
    assert failed.value.condition == "not-authorized"
    # Our closing tag went out after the failure and Prosody answered it.
    stream = failed.value.stream
    assert stream is not None and stream.close_reason == "closed"
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_host_unknown(server: ProsodyInstance) -> None:
    with pytest.raises(aio.StreamErrorError) as refused:
        await aio.connect(
            "alice@nowhere.invalid",
            "x",
            host=server.host,
            port=server.port,
            cafile=str(server.ca_file),
            timeout=TIMEOUT,
        )
    assert refused.value.condition == "host-unknown"
    assert refused.value.error.text == "This server does not serve nowhere.invalid"
    assert others() == set()


@pytest.mark.asyncio
@bounded
async def test_oversized_stanza_is_policy_violation(server: ProsodyInstance) -> None:
    stream = await login(server, "bob")
    # Prosody counts the bytes it has read but not yet parsed into a stanza
    # after each read: the stanza must outgrow a read, not just the limit.
    await stream.send(f"<message to='{server.jid('alice')}'><body>{'x' * 60000}</body></message>")
    errors = [e async for e in stream.events() if type(e) is StreamErrorReceived]
    (received,) = errors
    assert received.error.condition == "policy-violation"
    assert received.error.application_condition == ("urn:xmpp:errors", "stanza-too-big")
    assert stream.stream_error == received.error
    # Prosody may reset the connection when our bytes are left unread.
    assert stream.close_reason in ("closed", "eof")
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_stream_error_from_the_admin_shell(server: ProsodyInstance) -> None:
    stream = await login(server, "alice")
    await asyncio.to_thread(
        prosody_shell, server, f"c2s:close('{stream.jid}', 'go away', 'policy-violation')"
    )
    events = [e async for e in stream.events()]
    kinds = [type(e) for e in events]
    assert StreamErrorReceived in kinds and PeerClosed in kinds
    assert stream.stream_error is not None
    assert (stream.stream_error.condition, stream.stream_error.text) == (
        "policy-violation",
        "go away",
    )
    assert stream.close_reason == "closed"
    await all_gone(stream)


@pytest.mark.asyncio
@bounded
async def test_echo_bot_example(server: ProsodyInstance) -> None:
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "echo_bot.py"),
        server.jid("bob"),
        server.users["bob"],
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--cafile",
        str(server.ca_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        assert bot.stdout is not None
        online = (await bot.stdout.readline()).decode()
        assert online.startswith(f"online as {server.jid('bob')}/"), online
        bot_jid = online.split()[-1]
        async with login(server, "alice") as alice:
            await alice.send_message(bot_jid, "echo this")
            answer = await anext(alice)
            assert (answer.from_, body(answer)) == (bot_jid, "echo this")
        bot.send_signal(signal.SIGTERM)
        output = (await bot.stdout.read()).decode()
        assert await bot.wait() == 0, output
        assert "closed: closed" in output
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
