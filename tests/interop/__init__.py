"""Tests against real third-party peers (Prosody, slixmpp), run on loopback.

They skip only when the peer is missing and can't be had here; with
``XMPPWIRE_REQUIRE_INTEROP=1`` (CI sets it) that is a failure instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

REQUIRE_INTEROP = os.environ.get("XMPPWIRE_REQUIRE_INTEROP") == "1"


def unavailable(reason: str) -> None:
    """Skip, or fail when interop is required."""
    if REQUIRE_INTEROP:
        pytest.fail(f"XMPPWIRE_REQUIRE_INTEROP=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str) -> ModuleType:
    """Import a third-party peer library, or skip (fail when required) without it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"{name} is not installed ({exc})")
        raise
