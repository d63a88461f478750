"""A routing c2s server on :mod:`xmppwire.aio`: SASL, binding, and stanzas
routed between bound resources by their ``to``.

No rosters, no presence subscriptions, no offline storage, no s2s. Each
stanza is forwarded as the bytes it arrived in, with the sender's full JID
stamped as ``from`` (RFC 6120 §8.1.2.1); no tree is built. Stanzas to
accounts that don't exist or aren't online are answered with the stanza
errors RFC 6120 and RFC 6121 prescribe (see :meth:`Router.route`).

    python -m xmppwire.router --domain example.com --cert cert.pem --key key.pem \\
        --user juliet:r0m30 --users-file more-users.txt --port 5222

Prints ``listening on HOST:PORT`` once it accepts clients; SIGINT/SIGTERM
close every stream politely. See docs/aio.md, "A routing server".
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
from collections.abc import Iterable, Mapping

from . import aio
from .errors import XMPPWireError
from .events import ElementReceived
from .jid import JID
from .session import PasswordTable, Timeouts, TLSPolicy
from .session.serialize import escape_attribute, serialize_element

__all__ = ["Router", "main"]

_STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
_PING = b"urn:xmpp:ping"


class Router:
    """Routes stanzas between the streams of ``aio.serve(router.handle, ...)``.

    ``accounts``: the usernames that exist on ``domain`` (others are
    "unknown": RFC 6121's rules for accounts that don't exist apply).
    """

    def __init__(self, domain: str, accounts: Iterable[str]) -> None:
        self.domain = str(JID(domain))
        self._accounts = {str(JID(f"{user}@{self.domain}")) for user in accounts}
        #: bare JID -> {full JID: stream}
        self._online: dict[str, dict[str, aio.XMPPStream]] = {}
        #: Stanzas forwarded, and answered with an error.
        self.routed = 0
        self.bounced = 0

    async def handle(self, stream: aio.XMPPStream) -> None:
        """The ``aio.serve`` handler: one client, from its bound resource to its end."""
        full = stream.peer
        assert full is not None
        bare = full.partition("/")[0]
        resources = self._online.setdefault(bare, {})
        resources[full] = stream
        stamp = f" from='{escape_attribute(full)}'".encode()
        try:
            async for stanza in stream:
                await self.route(stream, full, stamp, stanza)
        finally:
            if resources.get(full) is stream:
                del resources[full]
            if not resources and self._online.get(bare) is resources:
                del self._online[bare]

    async def route(
        self, sender: aio.XMPPStream, full: str, stamp: bytes, stanza: ElementReceived
    ) -> None:
        """Deliver one stanza from ``full``, or answer it.

        - Another domain: ``remote-server-not-found`` (no s2s here).
        - Our domain itself: an XEP-0199 ping gets its result, another iq
          get/set ``service-unavailable``; messages and presence end here.
        - An account that doesn't exist: ``service-unavailable`` for messages
          and iq get/set; presence is dropped (RFC 6121 §8.5.1).
        - A full JID online: delivered. Offline: a chat/normal/headline
          message goes to the account's online resources (RFC 6121
          §8.5.3.2.1), an iq get/set gets ``service-unavailable``, presence
          is dropped.
        - A bare JID: messages and presence go to every online resource; a
          message with none online gets ``service-unavailable`` (no offline
          storage); an iq get/set gets ``service-unavailable`` (the server
          answers for the account and implements nothing).
        Stanzas of type ``error`` (and iq results) are never answered with an
        error (RFC 6120 §8.3.1).
        """
        name = stanza.name
        if name not in ("message", "presence", "iq"):
            return
        kind = stanza.type
        to = stanza.to
        if to is None:
            if name != "iq":
                return  # no rosters: a broadcast presence goes nowhere
            target = JID(self.domain)
        else:
            try:
                target = JID(to)
            except XMPPWireError:
                await self._bounce(sender, full, stanza, "jid-malformed", "modify")
                return
        if target.domainpart != self.domain:
            await self._bounce(sender, full, stanza, "remote-server-not-found")
            return
        if target.localpart is None:
            if name == "iq" and kind == "get" and _PING in stanza.raw:
                await sender.send(
                    f"<iq type='result' from='{self.domain}' to='{escape_attribute(full)}'"
                    f" id='{escape_attribute(stanza.id or '')}'/>"
                )
            elif name == "iq":
                await self._bounce(sender, full, stanza, "service-unavailable")
            return
        bare = str(target.bare)
        if bare not in self._accounts:
            if name != "presence":
                await self._bounce(sender, full, stanza, "service-unavailable")
            return
        resources = self._online.get(bare, {})
        data = _stamped(stanza, stamp, full)
        if target.resourcepart is not None:
            stream = resources.get(str(target))
            if stream is not None:
                await self._deliver(stream, data)
                return
            if name == "message" and kind in (None, "normal", "chat", "headline"):
                await self._to_all(sender, full, stanza, resources, data)
            elif name == "iq":
                await self._bounce(sender, full, stanza, "service-unavailable")
            return
        if name == "iq" or (name == "message" and kind == "groupchat"):
            await self._bounce(sender, full, stanza, "service-unavailable")
        else:
            await self._to_all(sender, full, stanza, resources, data)

    async def _to_all(
        self,
        sender: aio.XMPPStream,
        full: str,
        stanza: ElementReceived,
        resources: Mapping[str, aio.XMPPStream],
        data: bytes,
    ) -> None:
        if not resources:
            if stanza.name == "message":
                await self._bounce(sender, full, stanza, "service-unavailable")
            return
        for stream in list(resources.values()):
            await self._deliver(stream, data)

    async def _deliver(self, stream: aio.XMPPStream, data: bytes) -> None:
        if stream.ready:
            # Waits while that client's buffer is full: a slow reader slows
            # down its senders instead of growing our memory.
            await stream.send(data)
            self.routed += 1

    async def _bounce(
        self,
        sender: aio.XMPPStream,
        full: str,
        stanza: ElementReceived,
        condition: str,
        error_type: str = "cancel",
    ) -> None:
        kind = stanza.type
        if kind == "error" or (stanza.name == "iq" and kind == "result"):
            return
        if not sender.ready:
            return
        attrs = f" type='error' to='{escape_attribute(full)}'"
        if stanza.to is not None:
            attrs += f" from='{escape_attribute(stanza.to)}'"
        if stanza.id is not None:
            attrs += f" id='{escape_attribute(stanza.id)}'"
        self.bounced += 1
        await sender.send(
            f"<{stanza.name}{attrs}><error type='{error_type}'>"
            f"<{condition} xmlns='{_STANZAS_NS}'/></error></{stanza.name}>"
        )


def _stamped(stanza: ElementReceived, stamp: bytes, full: str) -> bytes:
    """The stanza's bytes with ``from`` set to the sender's full JID."""
    raw = stanza.raw
    if stanza.from_ is not None:
        # Rare: a client that writes its own from. Rebuild rather than edit.
        element = stanza.element()
        element.set("from", full)
        return serialize_element(element, "jabber:client")
    # Insert right after the element name: '<message' + stamp + ' to=...>'.
    end = 1
    size = len(raw)
    while end < size and raw[end] not in b" \t\r\n/>":
        end += 1
    return raw[:end] + stamp + raw[end:]


def _read_users(args: argparse.Namespace) -> dict[str, str]:
    lines = list(args.user)
    if args.users_file:
        with open(args.users_file, encoding="utf-8") as users:
            lines += [line.strip() for line in users if line.strip()]
    return dict(line.split(":", 1) for line in lines)


async def run(args: argparse.Namespace) -> None:
    users = _read_users(args)
    router = Router(args.domain, users)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    async with aio.serve(
        router.handle,
        args.host,
        args.port,
        domains=[args.domain],
        authenticator=PasswordTable(users),
        ssl_context=context,
        tls=None if context is not None else TLSPolicy.DISABLED,
        allow_plain_without_tls=context is None,
        timeouts=Timeouts(negotiation=args.negotiation_timeout, idle=args.idle_timeout),
        max_connections=args.max_connections,
        max_negotiating=args.max_negotiating,
    ) as server:
        print(f"listening on {args.host}:{server.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    print(f"stopped: {router.routed} routed, {router.bounced} answered with errors", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True)
    parser.add_argument("--cert", help="PEM certificate chain for the domain (else no TLS)")
    parser.add_argument("--key", help="PEM private key")
    parser.add_argument("--user", action="append", default=[], help="NAME:PASSWORD (repeat)")
    parser.add_argument("--users-file", help="a file of NAME:PASSWORD lines")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5222)
    parser.add_argument("--negotiation-timeout", type=float, default=60.0)
    parser.add_argument("--idle-timeout", type=float, default=None)
    parser.add_argument("--max-connections", type=int, default=10_000)
    parser.add_argument("--max-negotiating", type=int, default=1_000)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
