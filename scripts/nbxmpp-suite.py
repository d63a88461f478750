#!/usr/bin/env python3
"""Run nbxmpp's own test suite without and with xmppwire's accelerator.

Downloads the source distribution of the nbxmpp version installed in this
interpreter from PyPI, unpacks its ``test/`` folder and runs it (with pytest)
against the installed nbxmpp twice: as it is, then with
``xmppwire.integrations.nbxmpp.install()`` called before any test. Prints the
counts of both runs and every test whose outcome differs, and exits non-zero
when a test that passes without the accelerator does not pass with it.

    python scripts/nbxmpp-suite.py [--pure-python] [--keep DIR] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a script (or loaded by path in the tests): its folder holds host_suite.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from host_suite import outcomes, summary, unpack_sdist

PLUGIN = '''\
"""Loaded into nbxmpp's test run by scripts/nbxmpp-suite.py."""
import os

_streams = 0


def pytest_report_header(config):
    import nbxmpp

    lines = [f"nbxmpp {nbxmpp.__version__} from {nbxmpp.__file__}"]
    if os.environ.get("XMPPWIRE_SUITE_ACCELERATE") == "1":
        import xmppwire

        lines.append(f"xmppwire accelerator installed ({xmppwire.IMPLEMENTATION} StreamParser)")
    return lines


if os.environ.get("XMPPWIRE_SUITE_ACCELERATE") == "1":
    import xmppwire
    from nbxmpp.dispatcher import StanzaDispatcher
    from xmppwire.integrations import nbxmpp as accelerator

    def counting_stream_parser(*args, **kwargs):
        global _streams
        _streams += 1
        return xmppwire.StreamParser(*args, **kwargs)

    accelerator.install(parser_class=counting_stream_parser)

    def pytest_terminal_summary(terminalreporter):
        assert StanzaDispatcher.reset_parser is accelerator._reset_parser, "accelerator removed"
        terminalreporter.write_line(f"xmppwire parsed {_streams} streams")
'''


def fetch_sdist(version: str, scratch: Path) -> Path:
    """Download and unpack nbxmpp's sdist; return its root, without its own package."""
    root = unpack_sdist("nbxmpp", version, scratch)
    # The tests must import the installed nbxmpp, not the sources beside them.
    shutil.rmtree(root / "nbxmpp")
    return root


def run_suite(
    root: Path,
    plugins: Path,
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
        "XMPPWIRE_SUITE_ACCELERATE": "1" if accelerate else "0",
    }
    if accelerate and pure_python:
        env["XMPPWIRE_NO_EXTENSIONS"] = "1"
    tests = ["test"]
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
        "-W",
        "ignore",
        f"--junitxml={junit}",
        *pytest_args,
    ]
    log = scratch / f"{label}.log"
    print(f"\n=== nbxmpp's tests, {label.replace('-', ' ')} (log: {log})", flush=True)
    with open(log, "w") as out:
        subprocess.run(argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    for line in log.read_text(errors="replace").splitlines():
        # Which nbxmpp and parser ran, pytest's closing counts, and the
        # plugin's proof that xmppwire parsed.
        line = line.strip("= ")
        if line.startswith(("nbxmpp ", "xmppwire ")) or (
            " in " in line and ("passed" in line or "failed" in line) and line[:1].isdigit()
        ):
            print(line)
    if not junit.exists():
        print(log.read_text(errors="replace")[-3000:])
        raise SystemExit(f"pytest wrote no results ({label}); see {log}")
    return outcomes(junit)


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

    version = importlib.metadata.version("nbxmpp")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        scratch = args.keep
    else:
        scratch = Path(tempfile.mkdtemp(prefix="xmppwire-nbxmpp-suite-"))
    try:
        root = fetch_sdist(version, scratch)
        plugins = scratch / "plugins"
        plugins.mkdir(exist_ok=True)
        (plugins / "xmppwire_suite_plugin.py").write_text(PLUGIN)
        common = {
            "pytest_args": args.pytest_args,
            "scratch": scratch,
            "pure_python": args.pure_python,
        }
        without = run_suite(root, plugins, accelerate=False, **common)
        with_ = run_suite(root, plugins, accelerate=True, **common)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nnbxmpp {version} test suite, run against the installed nbxmpp:")
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
