"""Load test: N clients through one server, the xmppwire router against Prosody.

    .venv/bin/python benchmarks/load.py                  # 200 clients x 100 messages
    .venv/bin/python benchmarks/load.py --clients 20 --messages 10 --servers router

Each client logs in over STARTTLS (user ``uN``, resource ``load``), then sends
``--messages`` chat messages to the next client's full JID as fast as its
stream lets it; each body carries the send time. Measured per server:
delivered stanzas per second (from the first send to the last delivery),
latency p50/p99 (send to delivery, under that full load), the server's RSS
once all clients are logged in and at the end, the RSS each connection adds
(measured over the last nine tenths of the logins, so that what the server
allocates once is left out), and the server's CPU seconds during the run.

Both servers run on 127.0.0.1 in processes of their own, with the same users
and the same load from this process (xmppwire.aio clients); Prosody is
Debian's package, configured by tests/interop/prosody.py in a temporary
directory (its accounts are written as internal_hashed SCRAM-SHA-1 records,
which is what ``prosodyctl register`` stores). Every wait is bounded by
``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xmppwire import aio  # noqa: E402

DOMAIN = "localhost"


@dataclass
class Target:
    name: str
    port: int
    pid: int
    ca_file: Path


@dataclass
class Result:
    name: str
    delivered: int
    expected: int
    seconds: float
    latencies: list[float]
    rss_start: int
    rss_idle: int
    rss_end: int
    cpu: float


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def users(count: int) -> dict[str, str]:
    return {f"u{n}": f"pw-{n}" for n in range(count)}


@contextlib.contextmanager
def router(accounts: dict[str, str], directory: Path) -> Iterator[Target]:
    ca = trustme.CA()
    cert = ca.issue_cert(DOMAIN)
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    users_file = directory / "users.txt"
    users_file.write_text("".join(f"{u}:{p}\n" for u, p in accounts.items()))
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "xmppwire.router", "--domain", DOMAIN, "--port", "0"),
            *("--cert", str(cert_file), "--key", str(key_file), "--users-file", str(users_file)),
        ],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith("listening on"):
            raise RuntimeError(f"the router did not start: {line!r}")
        yield Target("xmppwire router", int(line.rsplit(":", 1)[1]), process.pid, ca_file)
    finally:
        process.terminate()
        process.wait(30)


def _prosody_account(password: str) -> str:
    """An internal_hashed account record, as ``prosodyctl register`` writes it."""
    salt = os.urandom(12).hex()
    iterations = 4096
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), iterations)
    stored = hashlib.sha1(hmac.digest(salted, b"Client Key", "sha1")).hexdigest()
    server = hmac.digest(salted, b"Server Key", "sha1").hex()
    return (
        f'return {{ ["iteration_count"] = {iterations}; ["salt"] = "{salt}"; '
        f'["stored_key"] = "{stored}"; ["server_key"] = "{server}"; }};\n'
    )


@contextlib.contextmanager
def prosody(accounts: dict[str, str]) -> Iterator[Target]:
    from tests.interop.prosody import prosody_server

    with prosody_server({}, domain=DOMAIN) as instance:
        store = instance.directory / "data" / DOMAIN / "accounts"
        store.mkdir(parents=True, exist_ok=True)
        for user, password in accounts.items():
            (store / f"{user}.dat").write_text(_prosody_account(password))
        yield Target(
            "Prosody " + _prosody_version(), instance.port, instance.process.pid, instance.ca_file
        )


def _prosody_version() -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "prosody"], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


async def run_load(target: Target, accounts: dict[str, str], messages: int, timeout: float):
    context = ssl.create_default_context(cafile=str(target.ca_file))
    names = list(accounts)
    count = len(names)
    opening = asyncio.Semaphore(50)

    async def login(user: str) -> aio.XMPPStream:
        async with opening:
            return await aio.connect(
                f"{user}@{DOMAIN}/load",
                accounts[user],
                host="127.0.0.1",
                port=target.port,
                ssl_context=context,
                timeout=timeout,
            )

    # A tenth of the clients first: what the server allocates once (TLS and
    # SASL machinery on first use) is then in the base, not in the per-connection figure.
    warm = max(1, count // 10)
    streams = await asyncio.wait_for(asyncio.gather(*(login(u) for u in names[:warm])), timeout)
    await asyncio.sleep(0.5)
    rss_start = rss(target.pid)
    streams += await asyncio.wait_for(asyncio.gather(*(login(u) for u in names[warm:])), timeout)
    await asyncio.sleep(0.5)
    rss_idle = rss(target.pid)
    cpu_before = cpu_seconds(target.pid)
    latencies: list[float] = []
    expected = count * messages
    last = [0.0]
    everything = asyncio.Event()

    async def receive(stream: aio.XMPPStream) -> None:
        async for stanza in stream:
            if stanza.name != "message":
                continue
            body = stanza.element().findtext("{jabber:client}body")
            if body is None:
                continue
            now = time.perf_counter()
            latencies.append(now - float(body))
            last[0] = now
            if len(latencies) == expected:
                everything.set()

    async def send(n: int, stream: aio.XMPPStream) -> None:
        to = f"{names[(n + 1) % count]}@{DOMAIN}/load"
        for _ in range(messages):
            await stream.send_message(to, repr(time.perf_counter()))

    readers = [asyncio.create_task(receive(s)) for s in streams]
    started = time.perf_counter()
    senders = [asyncio.create_task(send(n, s)) for n, s in enumerate(streams)]
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(everything.wait(), timeout)
    for task in senders:
        task.cancel()
    cpu = cpu_seconds(target.pid) - cpu_before
    rss_end = rss(target.pid)
    seconds = (last[0] or time.perf_counter()) - started
    await asyncio.wait_for(
        asyncio.gather(*(s.close() for s in streams), return_exceptions=True), timeout
    )
    for task in readers:
        task.cancel()
    return Result(
        target.name, len(latencies), expected, seconds, latencies, rss_start, rss_idle, rss_end, cpu
    )


def table(results: list[Result], clients: int, messages: int) -> str:
    lines = [
        f"{clients} clients x {messages} messages, STARTTLS, loopback, one run",
        "",
        "| server | delivered | stanzas/s | p50 ms | p99 ms | RSS logged in MB"
        " | KB per connection | RSS end MB | server CPU s | stanzas per CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        q = statistics.quantiles(r.latencies, n=100) if len(r.latencies) > 1 else [0.0] * 99
        rate = r.delivered / r.seconds if r.seconds > 0 else 0.0
        per_cpu = r.delivered / r.cpu if r.cpu > 0 else 0.0
        lines.append(
            f"| {r.name} | {r.delivered}/{r.expected} | {rate:,.0f} | {q[49] * 1e3:.1f} "
            f"| {q[98] * 1e3:.1f} | {r.rss_idle / 1e6:.1f} "
            f"| {(r.rss_idle - r.rss_start) / (clients - max(1, clients // 10)) / 1e3:.1f} "
            f"| {r.rss_end / 1e6:.1f} "
            f"| {r.cpu:.2f} | {per_cpu:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--servers", default="router,prosody", help="router, prosody or both")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on each phase, s")
    args = parser.parse_args(argv)
    accounts = users(args.clients)
    results: list[Result] = []
    for name in args.servers.split(","):
        with tempfile.TemporaryDirectory(prefix="xmppwire-load-") as tmp:
            server = router(accounts, Path(tmp)) if name == "router" else prosody(accounts)
            with server as target:
                print(f"running against {target.name} on port {target.port}", flush=True)
                results.append(asyncio.run(run_load(target, accounts, args.messages, args.timeout)))
    print(table(results, args.clients, args.messages))
    return 0 if all(r.delivered == r.expected for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
