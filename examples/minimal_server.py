"""A minimal XMPP server: STARTTLS, SASL (SCRAM and PLAIN) against a user table,
resource binding, and one rule: every message comes back to its sender.

    python examples/minimal_server.py --domain example.com --cert cert.pem --key key.pem \
        --user juliet:r0m30 --port 5222

Prints ``listening on HOST:PORT`` once it accepts clients (``--port 0`` picks a
free port), then a line per client that comes or goes and per failed login;
Ctrl-C closes every stream politely and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

import xmppwire.aio
from xmppwire.session import PasswordTable


async def answer(stream: xmppwire.aio.XMPPStream) -> None:
    print(f"{stream.peer} is online", flush=True)
    async for stanza in stream:
        body = stanza.element().findtext("{jabber:client}body")
        if stanza.name == "message" and body is not None and stream.ready:
            # Stamped with the server's address, the 'from' a client expects.
            await stream.send_message(stream.peer or "", f"you said: {body}", from_=stream.jid)
    print(f"{stream.peer} left ({stream.close_reason})", flush=True)


async def run(args: argparse.Namespace) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    users = dict(user.split(":", 1) for user in args.user)
    async with xmppwire.aio.serve(
        answer,
        args.host,
        args.port,
        domains=[args.domain],
        authenticator=PasswordTable(users),
        ssl_context=context,
    ) as server:
        print(f"listening on {args.host}:{server.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    print("stopped", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True)
    parser.add_argument("--cert", required=True, help="PEM certificate chain for the domain")
    parser.add_argument("--key", required=True, help="PEM private key")
    parser.add_argument("--user", action="append", default=[], help="NAME:PASSWORD (repeat)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5222)
    args = parser.parse_args(argv)
    # xmppwire.aio logs failed logins as warnings: show them with the rest.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s")
    try:
        asyncio.run(run(args))
    except OSError as exc:
        sys.exit(f"minimal_server: {exc.strerror or exc}")


if __name__ == "__main__":
    main()
