"""An nbxmpp client that echoes messages, run as its own process by the interop tests.

nbxmpp does its networking on GLib's main loop (Gio sockets and TLS), which
needs the loop of its own process. The client logs in, tells the test on
stdout (one JSON object a line) what it did, sends one greeting to ``--peer``,
echoes every message it gets back to its sender until one says ``bye``, and
then disconnects.

    python nbxmpp_peer.py --host H --port P --jid alice@localhost --password S \
        --peer bob@localhost/res [--accelerate]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from gi.repository import GLib
from nbxmpp.client import Client
from nbxmpp.const import ConnectionProtocol, ConnectionType, StreamState
from nbxmpp.protocol import JID, Message
from nbxmpp.structs import StanzaHandler

TIMEOUT_SECONDS = 30


def report(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def main() -> int:
    options = argparse.ArgumentParser()
    options.add_argument("--host", required=True)
    options.add_argument("--port", type=int, required=True)
    options.add_argument("--jid", required=True)
    options.add_argument("--password", required=True)
    options.add_argument("--peer", required=True)
    options.add_argument("--accelerate", action="store_true")
    args = options.parse_args()

    if args.accelerate:
        from xmppwire.integrations import nbxmpp as accelerator

        accelerator.install()

    loop = GLib.MainLoop()
    jid = JID.from_string(args.jid)
    client = Client()
    client.set_domain(jid.domain)
    client.set_username(jid.localpart)
    client.set_password(args.password)
    client.set_resource("nbxmpp-peer")
    client.set_custom_host(
        f"{args.host}:{args.port}", ConnectionProtocol.TCP, ConnectionType.START_TLS
    )
    # The server's certificate comes from the test's throwaway CA.
    client.set_ignore_tls_errors(True)
    outcome = {"status": 1}

    def on_message(_client: Client, stanza: Message, _properties: Any) -> None:
        text = stanza.getBody()
        if text is None:
            return
        sender = stanza.getFrom()
        report(event="message", sender=str(sender), body=text, id=stanza.getID())
        if text == "bye":
            outcome["status"] = 0
            client.disconnect()
            return
        client.send_stanza(Message(to=sender, body=f"echo: {text}", typ="chat"))

    def on_connected(_client: Client, _signal: str) -> None:
        parser = type(client._dispatcher._parser).__name__
        report(event="connected", jid=str(client.get_bound_jid()), parser=parser)
        client.send_stanza(Message(to=JID.from_string(args.peer), body="hello", typ="chat"))

    def on_failed(_client: Client, signal: str) -> None:
        report(event=signal, error=str(client.get_error()))
        loop.quit()

    def on_disconnected(_client: Client, _signal: str) -> None:
        report(event="disconnected", error=str(client.get_error()))
        loop.quit()

    def on_timeout() -> bool:
        report(event="timeout", state=str(client.state))
        loop.quit()
        return False

    client.register_handler(StanzaHandler(name="message", callback=on_message))
    client.subscribe("connected", on_connected)
    client.subscribe("connection-failed", on_failed)
    client.subscribe("disconnected", on_disconnected)
    GLib.timeout_add_seconds(TIMEOUT_SECONDS, on_timeout)
    client.connect()
    loop.run()
    if client.state not in (StreamState.DISCONNECTED,):
        outcome["status"] = outcome["status"] or 1
    return outcome["status"]


if __name__ == "__main__":
    sys.exit(main())
