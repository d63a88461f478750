"""Where an idle authenticated connection's memory goes, on the xmppwire router.

    .venv/bin/python benchmarks/connection_memory.py              # 1000 clients, TLS and plain
    .venv/bin/python benchmarks/connection_memory.py --clients 200 --modes tls

For each mode (STARTTLS, or plain TCP with PLAIN) a router (``xmppwire.router``'s
``Router`` on ``aio.serve``) runs in a process of its own, twice: once as it
is, for its RSS and what glibc's ``malloc`` has handed out (``mallinfo2``),
and once under ``tracemalloc``, for the Python objects. A tenth of the
clients log in first; the figures are the growth over the other nine tenths,
per connection, so what the server allocates once is left out. OpenSSL's
allocations are invisible to tracemalloc: they are estimated as what malloc
handed out minus the Python allocations that went to malloc (those over
512 bytes; smaller ones come from Python's own arenas). The largest
allocation sites still alive are printed with their innermost frames.

Linux with glibc only (``/proc/self/status``, ``mallinfo2``). Every wait is
bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import ssl
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import trustme

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from xmppwire import aio  # noqa: E402
from xmppwire.router import Router  # noqa: E402
from xmppwire.session import MECHANISMS, PasswordTable, TLSPolicy  # noqa: E402

DOMAIN = "localhost"
#: Larger requests bypass Python's small-object allocator and go to malloc.
_SMALL_REQUEST = 512


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
            *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
        )
    ]


def _malloc_in_use() -> int:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _users(count: int) -> dict[str, str]:
    return {f"u{n}": f"pw-{n}" for n in range(count)}


# ------------------------------------------------------------------ server


async def serve(mode: str, clients: int, trace: bool, cert: str, key: str) -> None:
    """The router, answering ``mark`` and ``measure N`` on stdin with JSON lines."""
    users = _users(clients)
    context = None
    if mode == "tls":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    router = Router(DOMAIN, users)
    async with aio.serve(
        router.handle,
        "127.0.0.1",
        0,
        domains=[DOMAIN],
        authenticator=PasswordTable(users),
        ssl_context=context,
        tls=None if context is not None else TLSPolicy.DISABLED,
        allow_plain_without_tls=context is None,
        max_negotiating=clients,
    ) as server:
        print(server.port, flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        base: dict[str, int] = {}
        snapshot: tracemalloc.Snapshot | None = None
        while True:
            command = (await reader.readline()).decode().split()
            if not command:
                return
            gc.collect()
            if command[0] == "mark":
                if trace:
                    tracemalloc.start(6)
                    snapshot = tracemalloc.take_snapshot()
                base = _figures(snapshot)
                print("{}", flush=True)
            else:
                count = int(command[1])
                now = _figures(tracemalloc.take_snapshot() if trace else None)
                result: dict[str, Any] = {k: (now[k] - base[k]) / count for k in now}
                if trace and snapshot is not None:
                    result["sites"] = _sites(tracemalloc.take_snapshot(), snapshot, count)
                print(json.dumps(result), flush=True)


def _figures(snapshot: tracemalloc.Snapshot | None) -> dict[str, int]:
    figures = {"rss": _rss(), "malloc": _malloc_in_use()}
    if snapshot is not None:
        figures["traced"] = sum(t.size for t in snapshot.traces)
        figures["traced_to_malloc"] = sum(
            t.size for t in snapshot.traces if t.size > _SMALL_REQUEST
        )
    return figures


def _sites(now: tracemalloc.Snapshot, before: tracemalloc.Snapshot, count: int) -> list[Any]:
    rows = []
    for stat in now.compare_to(before, "traceback")[:30]:
        per = stat.size_diff / count
        if per >= 100:
            frames = [f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback][-3:]
            rows.append([round(per), round(stat.count_diff / count, 1), " < ".join(frames[::-1])])
    return rows


# ------------------------------------------------------------------ driver


async def measure(mode: str, clients: int, trace: bool, directory: Path, timeout: float) -> Any:
    process = subprocess.Popen(
        [
            *(sys.executable, __file__, "--serve", mode, "--clients", str(clients)),
            *("--cert", str(directory / "cert.pem"), "--key", str(directory / "key.pem")),
            *(["--trace"] if trace else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    streams: list[aio.XMPPStream] = []
    try:
        port = int(process.stdout.readline())

        def ask(command: str) -> Any:
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f"{command}\n".encode())
            process.stdin.flush()
            return json.loads(process.stdout.readline())

        context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
        opening = asyncio.Semaphore(50)
        users = _users(clients)

        async def login(user: str) -> aio.XMPPStream:
            plain: dict[str, Any] = {"tls": TLSPolicy.DISABLED, "allow_plain_without_tls": True}
            async with opening:
                return await aio.connect(
                    f"{user}@{DOMAIN}/idle",
                    users[user],
                    host="127.0.0.1",
                    port=port,
                    ssl_context=context,
                    mechanisms=("PLAIN",) if mode == "plain" else MECHANISMS,
                    timeout=timeout,
                    **({} if mode == "tls" else plain),
                )

        names = list(users)
        warm = max(1, clients // 10)
        streams += await asyncio.wait_for(
            asyncio.gather(*(login(u) for u in names[:warm])), timeout
        )
        await asyncio.sleep(0.5)
        ask("mark")
        streams += await asyncio.wait_for(
            asyncio.gather(*(login(u) for u in names[warm:])), timeout
        )
        await asyncio.sleep(0.5)
        return ask(f"measure {clients - warm}")
    finally:
        for stream in streams:
            stream.abort()
        process.kill()
        process.wait(timeout)


def report(mode: str, plain_run: Any, traced_run: Any) -> str:
    kb = 1e3
    c_side = plain_run["malloc"] - traced_run["traced_to_malloc"]
    lines = [
        f"{mode}: {plain_run['rss'] / kb:.1f} KB of RSS per idle connection, "
        f"malloc in use {plain_run['malloc'] / kb:.1f} KB",
        f"  Python objects (tracemalloc): {traced_run['traced'] / kb:.1f} KB",
        f"  C allocations tracemalloc does not see (OpenSSL...): {c_side / kb:.1f} KB",
        "  largest sites still alive, bytes and blocks per connection (innermost frame first):",
    ]
    lines += [
        f"    {size:6d} B {blocks:5.1f}  {where}" for size, blocks, where in traced_run["sites"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--modes", default="tls,plain", help="tls, plain or both")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound on each phase, s")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cert", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.clients, args.trace, args.cert, args.key))
        return 0
    with tempfile.TemporaryDirectory(prefix="xmppwire-memory-") as tmp:
        directory = Path(tmp)
        ca = trustme.CA()
        cert = ca.issue_cert(DOMAIN)
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
        cert.private_key_pem.write_to_path(str(directory / "key.pem"))
        print(f"{args.clients} clients, Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}")
        for mode in args.modes.split(","):
            untraced = asyncio.run(measure(mode, args.clients, False, directory, args.timeout))
            traced = asyncio.run(measure(mode, args.clients, True, directory, args.timeout))
            print(report(mode, untraced, traced), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
