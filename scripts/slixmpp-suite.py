#!/usr/bin/env python3
"""Run slixmpp's own test suite without and with xmppwire's accelerator.

Downloads the source distribution of the slixmpp version installed in this
interpreter from PyPI, unpacks its ``tests/`` and runs them (with pytest)
against the installed slixmpp twice: as it is, then with
``xmppwire.integrations.slixmpp.install()`` called before any test. Prints the
counts of both runs and every test whose outcome differs, and exits non-zero
when a test that passes without the accelerator does not pass with it.

    python scripts/slixmpp-suite.py [--pure-python] [--keep DIR] [-- PYTEST_ARGS...]

Some of slixmpp's plugins import optional libraries (aiohttp, emoji); when
they are missing, they are installed into the scratch directory (never into
this environment) so that those tests run too.

The scratch directory (sdist, extras, logs, JUnit XML) is removed after a run
that passed; after a failure it stays, and its path is printed last.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Run as a script (or loaded by path in the tests): its folder holds host_suite.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from host_suite import outcomes, run, summary, unpack_sdist

# Optional dependencies of slixmpp plugins its tests load (its pyproject's extras).
OPTIONAL_MODULES = {"aiohttp": "aiohttp", "emoji": "emoji"}

PLUGIN = '''\
"""Loaded into slixmpp's test run by scripts/slixmpp-suite.py."""
import os
import sys

sys.path.append(os.environ["XMPPWIRE_SUITE_EXTRAS"])

_streams = 0


def pytest_report_header(config):
    import slixmpp

    lines = [f"slixmpp {slixmpp.__version__} from {slixmpp.__file__}"]
    if os.environ.get("XMPPWIRE_SUITE_ACCELERATE") == "1":
        import xmppwire

        lines.append(f"xmppwire accelerator installed ({xmppwire.IMPLEMENTATION} StreamParser)")
    return lines

if os.environ.get("XMPPWIRE_SUITE_ACCELERATE") == "1":
    import xmppwire
    from slixmpp.xmlstream.xmlstream import XMLStream
    from xmppwire.integrations import slixmpp as accelerator

    def counting_stream_parser(*args, **kwargs):
        global _streams
        _streams += 1
        return xmppwire.StreamParser(*args, **kwargs)

    accelerator.install(parser_class=counting_stream_parser)

    def pytest_terminal_summary(terminalreporter):
        assert XMLStream.data_received is accelerator._data_received, "accelerator was removed"
        terminalreporter.write_line(f"xmppwire parsed {_streams} streams")
'''


def fetch_sdist(version: str, scratch: Path) -> Path:
    """Download and unpack slixmpp's sdist; return its root, without its own package."""
    root = unpack_sdist("slixmpp", version, scratch)
    # The tests must import the installed slixmpp, not the sources beside them,
    # yet one of them lists the source tree's plugin directories. Without its
    # __init__.py the source directory can't shadow the installed package.
    (root / "slixmpp" / "__init__.py").unlink()
    return root


def install_extras(scratch: Path) -> Path:
    extras = scratch / "extras"
    extras.mkdir(exist_ok=True)
    missing = [
        dist
        for module, dist in OPTIONAL_MODULES.items()
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-conflicts",
                "--target",
                str(extras),
                *missing,
            ]
        )
    return extras


def run_suite(
    root: Path,
    plugins: Path,
    extras: Path,
    *,
    accelerate: bool,
    pure_python: bool,
    pytest_args: list[str],
    scratch: Path,
) -> dict[str, str]:
    label = "with-xmppwire" if accelerate else "without"
    junit = scratch / f"{label}.xml"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")]),
        "XMPPWIRE_SUITE_EXTRAS": str(extras),
        "XMPPWIRE_SUITE_ACCELERATE": "1" if accelerate else "0",
    }
    if accelerate and pure_python:
        env["XMPPWIRE_NO_EXTENSIONS"] = "1"
    tests = sorted(str(path.relative_to(root)) for path in (root / "tests").glob("test_*.py"))
    argv = [
        sys.executable,
        "-m",
        "pytest",
        *tests,
        "-p",
        "xmppwire_suite_plugin",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-W",
        "ignore",
        f"--junitxml={junit}",
        *pytest_args,
    ]
    log = scratch / f"{label}.log"
    print(f"\n=== slixmpp's tests, {label.replace('-', ' ')} (log: {log})", flush=True)
    with open(log, "w") as out:
        subprocess.run(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    for line in log.read_text(errors="replace").splitlines():
        # Which slixmpp and parser ran, pytest's closing counts, and the
        # plugin's proof that xmppwire parsed.
        line = line.strip("= ")
        if line.startswith(("slixmpp ", "xmppwire ")) or (
            " in " in line and ("passed" in line or "failed" in line) and line[:1].isdigit()
        ):
            print(line)
    if not junit.exists():
        print(log.read_text(errors="replace")[-3000:])
        raise SystemExit(f"pytest wrote no results ({label}); see {log}")
    return outcomes(junit)


@contextlib.contextmanager
def scratch_directory(keep: Path | None) -> Iterator[Path]:
    """Where everything of a run goes: ``keep``, or a temporary directory that is
    removed only when the run passed, so that the logs of a failure can be read."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    scratch = Path(tempfile.mkdtemp(prefix="xmppwire-slixmpp-suite-"))
    try:
        yield scratch
    except BaseException:
        print(f"\nlogs kept in {scratch}", file=sys.stderr, flush=True)
        raise
    shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pure-python",
        action="store_true",
        help="accelerate with the pure-Python StreamParser, not the active one",
    )
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (logs, JUnit XML)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest, after --")
    args = parser.parse_args()

    version = importlib.metadata.version("slixmpp")
    with scratch_directory(args.keep) as scratch:
        root = fetch_sdist(version, scratch)
        extras = install_extras(scratch)
        plugins = scratch / "plugins"
        plugins.mkdir(exist_ok=True)
        (plugins / "xmppwire_suite_plugin.py").write_text(PLUGIN)
        common = {
            "pytest_args": args.pytest_args,
            "scratch": scratch,
            "pure_python": args.pure_python,
        }
        without = run_suite(root, plugins, extras, accelerate=False, **common)
        with_ = run_suite(root, plugins, extras, accelerate=True, **common)
        status = compare(version, without, with_)
        if status:
            raise SystemExit(status)  # keeps the logs
    return 0


def compare(version: str, without: dict[str, str], with_: dict[str, str]) -> int:
    """Print both runs' counts and every difference; 1 if the accelerator lost a test."""
    print(f"\nslixmpp {version} test suite, run against the installed slixmpp:")
    print(summary("without xmppwire:", without))
    print(summary("with xmppwire:", with_))
    differing = sorted(t for t in without.keys() | with_.keys() if without.get(t) != with_.get(t))
    for test in differing:
        print(f"  differs: {test}: {without.get(test, 'absent')} -> {with_.get(test, 'absent')}")
    lost = [t for t in differing if without.get(t) == "passed"]
    if lost:
        print(f"{len(lost)} test(s) pass only without the accelerator")
        return 1
    if not with_:
        print("no test ran")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
