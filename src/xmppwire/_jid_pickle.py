"""How a pickled JID comes back, whichever twin pickled it and whichever runs now.

Both twins' ``__reduce__`` name :func:`restore`, not a type of their own, so a
JID pickled where the compiled twins run unpickles where they don't, and the
other way round. It sits apart from ``jid.py`` so the twins need nothing of
the module that picks between them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["restore"]


def restore(localpart: str | None, domainpart: str, resourcepart: str | None) -> Any:
    """The active twin's JID of these parts, enforced again: they were enforced
    where the JID was pickled, but maybe under another Unicode version."""
    # Imported here: the twins import this module, and _impl imports the twins.
    from ._impl import active

    return active().jid.JID.from_parts(localpart, domainpart, resourcepart)
