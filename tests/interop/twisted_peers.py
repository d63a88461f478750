"""Twisted Words programs for the interop tests, each run in a process of its own.

Twisted's reactor is global to a process, so each program runs under its own
interpreter, reports what it saw as one JSON object per line on stdout, and
exits. Both use twisted's own classes only (``component.ServiceManager``,
``component.Router``, ``XMPPComponentServerFactory``).

    python twisted_peers.py component HOST PORT JID SECRET
        An external component (XEP-0114), accelerated with install(), echoing
        every message it gets until one says "bye".
    python twisted_peers.py client HOST PORT JID PASSWORD CAFILE PEER
        twisted's XMPP client (STARTTLS, SASL, bind: two stream restarts),
        accelerated with install(), sends PEER a message and echoes what PEER
        sends until "bye".
    python twisted_peers.py router MESSAGES
        twisted's router on a loopback port, accelerated per factory, and two
        components, one accelerated and one not, exchanging MESSAGES messages
        each way through it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from twisted.internet import reactor
from twisted.words.protocols.jabber import component, xmlstream
from twisted.words.xish import domish

from xmppwire.integrations import twisted as accelerator


def report(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def parser_of(xs: Any) -> str:
    return type(xs.stream).__name__


def message(sender: str, to: str, text: str, id_: str | None) -> domish.Element:
    stanza = domish.Element((None, "message"))
    stanza["from"], stanza["to"], stanza["type"] = sender, to, "chat"
    if id_ is not None:
        stanza["id"] = id_
    stanza.addElement("body", content=text)
    return stanza


class EchoService(component.Service):
    def __init__(self, jid: str) -> None:
        self.jid = jid

    def componentConnected(self, xs: Any) -> None:
        self.xs = xs
        xs.addObserver("/message", self.on_message)
        report(event="ready", parser=parser_of(xs))

    def on_message(self, stanza: domish.Element) -> None:
        text = str(stanza.body)
        report(
            event="message",
            sender=stanza["from"],
            to=stanza["to"],
            body=text,
            parser=parser_of(self.xs),
        )
        if text == "bye":
            reactor.stop()
            return
        self.xs.send(
            message(stanza["to"], stanza["from"], f"echo: {text}", stanza.getAttribute("id"))
        )


def run_component(host: str, port: str, jid: str, secret: str) -> None:
    accelerator.install()
    manager = component.buildServiceManager(jid, secret, f"tcp:{host}:{port}")
    EchoService(jid).setServiceParent(manager)
    manager.startService()
    reactor.callLater(30, reactor.stop)
    reactor.run()


def run_client(host: str, port: str, jid_text: str, password: str, cafile: str, peer: str) -> None:
    from twisted.internet import ssl
    from twisted.words.protocols.jabber import client
    from twisted.words.protocols.jabber.jid import JID

    accelerator.install()
    me = JID(jid_text)
    trust = ssl.Certificate.loadPEM(open(cafile, "rb").read())  # noqa: SIM115
    factory = client.XMPPClientFactory(
        me, password, configurationForTLS=ssl.optionsForClientTLS(me.host, trustRoot=trust)
    )
    headers: list[str | None] = []

    def on_start(xs: Any) -> None:
        # Once per stream the server opens: before TLS, after TLS, after SASL.
        headers.append(parser_of(xs))

    def on_message(stanza: domish.Element) -> None:
        text = str(stanza.body)
        report(event="message", sender=stanza["from"], to=stanza["to"], body=text)
        if text == "bye":
            reactor.stop()
            return
        xs = factory.streamManager_xs
        xs.send(message(xs.authenticator.jid.full(), stanza["from"], f"echo: {text}", None))

    def on_authenticated(xs: Any) -> None:
        factory.streamManager_xs = xs
        xs.addObserver("/message", on_message)
        xs.send("<presence/>")
        report(
            event="ready",
            jid=xs.authenticator.jid.full(),
            parser=parser_of(xs),
            streams=len(headers),
            tls=bool(getattr(xs.transport, "TLS", False)),
        )
        xs.send(message(xs.authenticator.jid.full(), peer, "hello from twisted", "t1"))

    def on_failed(reason: Any) -> None:
        report(event="failed", reason=str(reason.value))
        reactor.stop()

    factory.addBootstrap(xmlstream.STREAM_START_EVENT, on_start)
    factory.addBootstrap(xmlstream.STREAM_AUTHD_EVENT, on_authenticated)
    factory.addBootstrap(xmlstream.INIT_FAILED_EVENT, on_failed)
    reactor.connectTCP(host, int(port), factory)
    reactor.callLater(30, reactor.stop)
    reactor.run()


class Exchanger(component.Service):
    """One of the router's two components: sends its share, counts what comes back."""

    def __init__(self, name: str, peer: str, messages: int, done: Any) -> None:
        self.name, self.peer, self.messages, self.done = name, peer, messages, done
        self.received: list[tuple[str, str, str]] = []

    def componentConnected(self, xs: Any) -> None:
        self.xs = xs
        self.parser = parser_of(xs)
        xs.addObserver("/message", self.on_message)
        self.done(self, "ready")

    def start(self) -> None:
        for n in range(self.messages):
            text = f"{n} from {self.name}: caf\u00e9 <&> \U0001f339"
            self.xs.send(message(f"bot@{self.name}", f"bot@{self.peer}/r", text, f"{self.name}{n}"))

    def on_message(self, stanza: domish.Element) -> None:
        self.received.append((stanza["from"], stanza["to"], str(stanza.body)))
        if len(self.received) == self.messages:
            self.done(self, "received")


def run_router(messages: int) -> None:
    router = component.Router()
    server_factory = accelerator.accelerate_factory(
        component.XMPPComponentServerFactory(router, "s3cret")
    )
    router_parsers: list[str] = []
    server_factory.addBootstrap(
        xmlstream.STREAM_AUTHD_EVENT, lambda xs: router_parsers.append(parser_of(xs))
    )
    listening = reactor.listenTCP(0, server_factory, interface="127.0.0.1")
    port = listening.getHost().port
    states: dict[str, set[str]] = {"ready": set(), "received": set()}
    services: dict[str, Exchanger] = {}

    def done(service: Exchanger, state: str) -> None:
        states[state].add(service.name)
        if state == "ready" and len(states["ready"]) == 2:
            for each in services.values():
                each.start()
        if state == "received" and len(states["received"]) == 2:
            reactor.stop()

    for name, peer, accelerated in (
        ("fast.test", "plain.test", True),
        ("plain.test", "fast.test", False),
    ):
        manager = component.buildServiceManager(name, "s3cret", f"tcp:127.0.0.1:{port}")
        if accelerated:
            accelerator.accelerate_factory(manager.getFactory())
        services[name] = Exchanger(name, peer, messages, done)
        services[name].setServiceParent(manager)
        manager.startService()
    reactor.callLater(30, reactor.stop)
    reactor.run()
    for name, service in services.items():
        report(
            event="component",
            name=name,
            parser=service.parser,
            received=service.received,
        )
    report(event="router", parsers=router_parsers)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "component":
        run_component(*args)
    elif mode == "client":
        run_client(*args)
    elif mode == "router":
        run_router(int(args[0]))
    else:
        raise SystemExit(__doc__)
