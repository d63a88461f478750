"""Picks the compiled twins or the pure-Python ones, once, at import.

Every hot module comes as a pair: ``_x_c`` (built from ``cython/xmppwire/_x_c.pyx``)
and ``_x_py`` (here), with the same names and the same behaviour. The compiled
set is used when all of it imports; ``XMPPWIRE_NO_EXTENSIONS`` (any non-empty
value) or an interpreter other than CPython forces pure Python.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Final, Literal

__all__ = ["IMPLEMENTATION", "NO_EXTENSIONS", "Implementation", "active", "implementations"]

NO_EXTENSIONS: Final[bool] = (
    bool(os.environ.get("XMPPWIRE_NO_EXTENSIONS")) or sys.implementation.name != "cpython"
)

#: The modules that come as a compiled and a pure-Python twin.
TWINS: Final = ("_tokenizer", "_jid", "_tree")


@dataclass(frozen=True, slots=True)
class Implementation:
    """One complete set of twins."""

    name: Literal["cython", "python"]
    tokenizer: ModuleType
    jid: ModuleType
    #: Reads what the tokenizer split: attributes, trees, tree targets.
    tree: ModuleType


def _load(name: Literal["cython", "python"]) -> Implementation:
    suffix = "_c" if name == "cython" else "_py"
    modules = [importlib.import_module(f"xmppwire.{twin}{suffix}") for twin in TWINS]
    return Implementation(name, *modules)


def implementations() -> dict[str, Implementation]:
    """Every implementation importable here, keyed by name: for tests and benchmarks."""
    found = {"python": _load("python")}
    with contextlib.suppress(ImportError):
        found["cython"] = _load("cython")
    return found


def _select() -> Implementation:
    if not NO_EXTENSIONS:
        try:
            return _load("cython")
        except ImportError:
            pass
    return _load("python")


_ACTIVE: Final = _select()
IMPLEMENTATION: Final[Literal["cython", "python"]] = _ACTIVE.name


def active() -> Implementation:
    """The implementation the public API uses."""
    return _ACTIVE
