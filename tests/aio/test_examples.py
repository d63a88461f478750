"""The examples as a user runs them: the minimal server and the echo bot, on loopback.

What a user sees on the common failures: one line and a non-zero exit, no traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "example.com"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
TIMEOUT = 30


@pytest.fixture
def minimal_server(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    cert = ca.issue_cert(DOMAIN)
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "minimal_server.py"),
            *("--domain", DOMAIN, "--cert", str(cert_file), "--key", str(key_file)),
            *("--user", "juliet:r0m30", "--port", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    try:
        assert server.stdout is not None
        listening = server.stdout.readline()
        assert listening.startswith("listening on 127.0.0.1:"), listening
        yield server, int(listening.rsplit(":", 1)[1])
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def echo_bot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "echo_bot.py"), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=TIMEOUT,
    )


def one_line_failure(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_echo_bot_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on that port any more.
    done = echo_bot(f"juliet@{DOMAIN}", "r0m30", "--host", "127.0.0.1", "--port", str(port))
    line = one_line_failure(done)
    assert line.startswith(f"echo_bot: can't connect to 127.0.0.1:{port}: "), line
    assert "refused" in line.lower()


def test_echo_bot_certificate_not_trusted(minimal_server) -> None:
    """Without --cafile the throwaway CA is not trusted: said so, with the way out."""
    _, port = minimal_server
    done = echo_bot(f"juliet@{DOMAIN}", "r0m30", "--host", "127.0.0.1", "--port", str(port))
    line = one_line_failure(done)
    assert line.startswith(f"echo_bot: the certificate of 127.0.0.1:{port} is not trusted"), line
    assert line.endswith("give --cafile")


def test_wrong_password_is_one_line_for_the_bot_and_logged_by_the_server(
    minimal_server, ca_file: Path
) -> None:
    server, port = minimal_server
    done = echo_bot(
        f"juliet@{DOMAIN}", "wrong", "--host", "127.0.0.1", "--port", str(port),
        "--cafile", str(ca_file),
    )  # fmt: skip
    line = one_line_failure(done)
    assert line == "echo_bot: login refused (not-authorized): check the JID and the password"
    logged = server.stdout.readline()
    assert logged.startswith("failed login from 127.0.0.1:"), logged
    assert "not-authorized" in logged


def test_minimal_server_replies_carry_its_address(minimal_server, ca_file: Path) -> None:
    """The README's client reads stanza.from_: against the minimal server it is the domain."""
    _, port = minimal_server
    script = f"""
import asyncio, xmppwire.aio

async def main():
    async with xmppwire.aio.connect(
        "juliet@{DOMAIN}", "r0m30", host="127.0.0.1", port={port}, cafile={str(ca_file)!r}
    ) as stream:
        await stream.send_message("romeo@{DOMAIN}", "anyone?")
        async for stanza in stream:
            print(stanza.from_, stanza.element().findtext("{{jabber:client}}body"))
            break

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{DOMAIN} you said: anyone?\n"


def test_minimal_server_unreadable_certificate_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "minimal_server.py"),
            *("--domain", DOMAIN, "--cert", str(tmp_path / "missing.pem")),
            *("--key", str(tmp_path / "missing.key"), "--port", "0"),
        ],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=TIMEOUT,
    )
    assert one_line_failure(done) == "minimal_server: No such file or directory"
