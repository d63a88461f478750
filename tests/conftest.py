"""Every tokenizer, header and JID test runs once per implementation.

The ``impl`` fixture is parametrized over the pure-Python twins (id ``py``)
and the compiled ones (id ``c``). When the compiled twins can't be imported
the ``c`` runs fail, not skip, unless ``--no-c-extensions`` is given.
"""

from __future__ import annotations

import argparse
import os

import pytest

from xmppwire import _impl


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--c-extensions",
        action=argparse.BooleanOptionalAction,
        default=not bool(os.environ.get("XMPPWIRE_NO_EXTENSIONS")),
        help="run the tests against the compiled implementation too (default: yes, "
        "unless XMPPWIRE_NO_EXTENSIONS is set)",
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    found = sorted(_impl.implementations())
    lines = [
        f"xmppwire: active implementation {_impl.IMPLEMENTATION}; importable: {', '.join(found)}"
    ]
    # Installing a system package must never happen without a word: say so first.
    from interop.prosody import install_notice_here

    lines.append(install_notice_here())
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--c-extensions"):
        return
    kept = [item for item in items if "c_extension" not in item.keywords]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


IMPLEMENTATION_PARAMS = [
    pytest.param("python", id="py"),
    pytest.param("cython", id="c", marks=pytest.mark.c_extension),
]


@pytest.fixture(scope="session", params=IMPLEMENTATION_PARAMS)
def impl(request: pytest.FixtureRequest) -> _impl.Implementation:
    """One complete implementation: ``impl.tokenizer``, ``impl.jid``."""
    available = _impl.implementations()
    if request.param not in available:
        pytest.fail(
            "the compiled twins can't be imported: build them (pip install -e .) "
            "or pass --no-c-extensions"
        )
    return available[request.param]


@pytest.fixture(scope="session")
def StreamParser(impl: _impl.Implementation) -> type:
    return impl.tokenizer.StreamParser
