"""Echo bot: logs in, answers every chat message with its body, closes cleanly on Ctrl-C.

    python examples/echo_bot.py bot@example.com PASSWORD --host 127.0.0.1 --cafile ca.pem

Verification of the server's certificate is on: give ``--cafile`` for a
private CA (the interop tests' Prosody uses one). A login that can't be made
(connection refused, certificate not trusted, wrong password) ends with one
line saying why and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys

import xmppwire.aio


async def echo(jid: str, password: str, host: str | None, port: int, cafile: str | None) -> str:
    async with xmppwire.aio.connect(jid, password, host=host, port=port, cafile=cafile) as stream:
        print(f"online as {stream.jid}", flush=True)
        await stream.send_presence()
        loop = asyncio.get_running_loop()
        closing: list[asyncio.Future[None]] = []

        def close_politely() -> None:
            closing.append(asyncio.ensure_future(stream.close()))

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, close_politely)
        # Ends when the connection is gone: after our close, or the server's.
        async for stanza in stream:
            body = stanza.element().findtext("{jabber:client}body")
            if stanza.name == "message" and stanza.type != "error" and body and stream.ready:
                await stream.send_message(stanza.from_ or "", body, type=stanza.type or "chat")
        for task in closing:
            await task
    return stream.close_reason or ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jid")
    parser.add_argument("password")
    parser.add_argument("--host", help="where to connect (default: the JID's domain)")
    parser.add_argument("--port", type=int, default=5222)
    parser.add_argument("--cafile", help="CA certificates to trust instead of the system's")
    args = parser.parse_args(argv)
    try:
        reason = asyncio.run(echo(args.jid, args.password, args.host, args.port, args.cafile))
    except Exception as exc:
        sys.exit(f"echo_bot: {why_not(exc, args)}")
    print(f"closed: {reason}", flush=True)


def why_not(exc: Exception, args: argparse.Namespace) -> str:
    """One line for a login that didn't happen."""
    where = f"{args.host or args.jid.partition('@')[2].partition('/')[0]}:{args.port}"
    if isinstance(exc, xmppwire.aio.AuthenticationError):
        return f"login refused ({exc.condition}): check the JID and the password"
    if isinstance(exc, xmppwire.aio.TLSError):
        if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
            return f"the certificate of {where} is not trusted ({exc}); give --cafile"
        return f"TLS with {where} failed: {exc}"
    if isinstance(exc, xmppwire.aio.StreamErrorError):
        return f"{where} ended the stream: {exc}"
    if isinstance(exc, xmppwire.aio.ConnectFailed):
        return f"no stream with {where}: {exc}"
    if isinstance(exc, OSError):
        # asyncio's strerror repeats the address; the errno's text says what happened.
        return f"can't connect to {where}: {os.strerror(exc.errno) if exc.errno else exc}"
    raise exc


if __name__ == "__main__":
    main()
