"""Drop-in use of xmppwire inside other XMPP libraries.

Each integration lives in its own module and is the only place that imports
its library, which stays an optional dependency: importing ``xmppwire`` never
imports any of them.

- ``xmppwire.integrations.slixmpp``: slixmpp's streams parse with
  ``StreamParser`` (``pip install 'xmppwire[slixmpp]'``).
- ``xmppwire.integrations.twisted``: Twisted Words' XML streams (clients,
  components, the router) parse with ``StreamParser`` (``pip install 'xmppwire[twisted]'``).
"""
