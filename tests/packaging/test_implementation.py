"""Which twin is active, and that the compiled one is really there when it must be.

Inside cibuildwheel (``CIBUILDWHEEL=1``) the compiled twins are required: a wheel
that would silently run pure Python fails here. ``XMPPWIRE_EXPECT_IMPLEMENTATION``
states the expectation explicitly (scripts/verify-wheels.sh sets it for the wheels
it tests). Interpreters are started fresh because the choice is made once, at import.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import xmppwire
from xmppwire import _impl

# The directory `import xmppwire` resolved from, so a child interpreter imports the
# same copy (an installed wheel, or the source tree of an editable install).
PACKAGE_PARENT = str(Path(xmppwire.__file__).resolve().parents[1])

REPORT = """\
import json, sys
import xmppwire
from xmppwire import _impl
print(json.dumps({
    "implementation": xmppwire.IMPLEMENTATION,
    "file": xmppwire.__file__,
    "compiled_loaded": sorted(
        name for name in sys.modules if name.startswith("xmppwire.") and name.endswith("_c")
    ),
    "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
}))
"""


def fresh_interpreter(code: str, *, drop: tuple[str, ...] = (), **env: str) -> dict:
    child_env = {k: v for k, v in os.environ.items() if k not in drop}
    child_env.update(env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_PARENT, *filter(None, [child_env.get("PYTHONPATH")])]
    )
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert Path(report["file"]).resolve() == Path(xmppwire.__file__).resolve()
    return report


def expected_implementation() -> str | None:
    expected = os.environ.get("XMPPWIRE_EXPECT_IMPLEMENTATION")
    if expected:
        return expected
    if os.environ.get("CIBUILDWHEEL") == "1":
        return "cython"
    return None


def test_active_implementation_is_the_best_that_imports() -> None:
    best = "cython" if "cython" in _impl.implementations() and not _impl.NO_EXTENSIONS else "python"
    active = xmppwire.IMPLEMENTATION
    assert active == best
    assert _impl.active().name == best
    assert xmppwire.StreamParser is _impl.active().tokenizer.StreamParser


def test_expected_implementation_is_active() -> None:
    expected = expected_implementation()
    if expected is None:
        pytest.skip(
            "no expectation here: set by cibuildwheel (CIBUILDWHEEL=1) and by "
            "scripts/verify-wheels.sh (XMPPWIRE_EXPECT_IMPLEMENTATION)"
        )
    assert expected in {"cython", "python"}
    active = xmppwire.IMPLEMENTATION
    assert active == expected, (
        f"expected the {expected} implementation; importable: {sorted(_impl.implementations())}"
    )
    if expected == "cython":
        # Every compiled twin is a real extension module, not a leftover .py.
        for twin in _impl.TWINS:
            module = sys.modules[f"xmppwire.{twin}_c"]
            assert module.__file__ is not None
            assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_no_extensions_variable_forces_pure_python() -> None:
    report = fresh_interpreter(REPORT, XMPPWIRE_NO_EXTENSIONS="1")
    assert report["implementation"] == "python"
    assert report["compiled_loaded"] == []


def test_empty_no_extensions_variable_changes_nothing() -> None:
    unset = fresh_interpreter(REPORT, drop=("XMPPWIRE_NO_EXTENSIONS",))
    empty = fresh_interpreter(REPORT, XMPPWIRE_NO_EXTENSIONS="")
    assert empty["implementation"] == unset["implementation"]
    assert empty["compiled_loaded"] == unset["compiled_loaded"]


@pytest.mark.c_extension
def test_compiled_twins_are_chosen_by_default() -> None:
    if "cython" not in _impl.implementations():
        pytest.fail("the compiled twins can't be imported: build them or pass --no-c-extensions")
    report = fresh_interpreter(REPORT, drop=("XMPPWIRE_NO_EXTENSIONS",))
    assert report["implementation"] == "cython"
    assert report["compiled_loaded"] == sorted(f"xmppwire.{twin}_c" for twin in _impl.TWINS)


@pytest.mark.c_extension
@pytest.mark.skipif(
    not sysconfig.get_config_var("Py_GIL_DISABLED"),
    reason="needs a free-threaded interpreter (3.13t/3.14t); this one has a GIL",
)
def test_compiled_twins_keep_the_gil_disabled() -> None:
    # A module that doesn't declare itself free-threading compatible re-enables the
    # GIL on import, with a RuntimeWarning (an error here, see fresh_interpreter).
    if "cython" not in _impl.implementations():
        pytest.fail("the compiled twins can't be imported: build them or pass --no-c-extensions")
    report = fresh_interpreter(REPORT, drop=("XMPPWIRE_NO_EXTENSIONS", "PYTHON_GIL"))
    assert report["compiled_loaded"] == sorted(f"xmppwire.{twin}_c" for twin in _impl.TWINS)
    assert report["gil_enabled"] is False
