#!/usr/bin/env python3
"""Run Twisted Words' own XMPP tests without and with xmppwire's accelerator.

The twisted wheel ships its tests. This runs the XMPP modules of
``twisted.words.test`` with trial, against the installed twisted, twice: as it
is, then with ``xmppwire.integrations.twisted.install()`` in effect. In the
second run the element stream tests of ``test_domish`` (written for any class
with the ``ExpatElementStream`` interface) run against what
``domish.elementStream()`` makes, which is then xmppwire's stream. Prints the
counts of both runs and every test whose outcome differs, and exits non-zero
when a test that passes without the accelerator does not pass with it.

    python scripts/twisted-suite.py [--pure-python]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

MODULES = [
    "twisted.words.test.test_domish",
    "twisted.words.test.test_xmlstream",
    "twisted.words.test.test_jabberclient",
    "twisted.words.test.test_jabbercomponent",
    "twisted.words.test.test_jabbererror",
    "twisted.words.test.test_jabberjid",
    "twisted.words.test.test_jabberjstrports",
    "twisted.words.test.test_jabbersasl",
    "twisted.words.test.test_jabbersaslmechanisms",
    "twisted.words.test.test_jabberxmlstream",
    "twisted.words.test.test_jabberxmppstringprep",
    "twisted.words.test.test_xmpproutertap",
    "twisted.words.test.test_xishutil",
    "twisted.words.test.test_xpath",
]

# Tests whose input RFC 6120 forbids: with the accelerator the stream ends
# with the stream error named here instead (see README, "Use with Twisted").
EXPECTED_DIFFERENCES = {
    "twisted.words.test.test_jabberxmlstream.AuthenticatorTests.test_streamBadVersionOneDigit": (
        "version='1' is not major.minor (RFC 6120 4.7.5): unsupported-version"
    ),
    "twisted.words.test.test_jabberxmlstream.AuthenticatorTests.test_streamBadVersionNoNumber": (
        "version='blah' is not major.minor (RFC 6120 4.7.5): unsupported-version"
    ),
}

# Run in the child interpreter: install the accelerator, count the streams it
# parses, then hand over to trial.
ACCELERATED_TRIAL = """\
import atexit, sys
import xmppwire
from twisted.words.xish import domish
from twisted.words.test import test_domish
from xmppwire.integrations import twisted as accelerator

streams = 0
def counting_stream_parser(*args, **kwargs):
    global streams
    streams += 1
    return xmppwire.StreamParser(*args, **kwargs)

accelerator.install(parser_class=counting_stream_parser)
test_domish.DomishExpatStreamTests.streamClass = staticmethod(domish.elementStream)

@atexit.register
def report():
    assert domish.elementStream is accelerator._element_stream, "accelerator was removed"
    print(f"xmppwire ({xmppwire.IMPLEMENTATION}) parsed {streams} streams", flush=True)

from twisted.scripts.trial import run
sys.argv = ["trial", *sys.argv[1:]]
run()
"""

OUTCOME = re.compile(r"^(twisted\.words\.test\.\S+) \.\.\. \[([A-Z ]+)\]$")
STREAMS = re.compile(r"^xmppwire \(\w+\) parsed (\d+) streams$")
KINDS = {
    "OK": "passed",
    "FAILURE": "failed",
    "FAIL": "failed",
    "ERROR": "error",
    "SKIPPED": "skipped",
    "TODO": "todo",
    "UNEXPECTED SUCCESS": "passed",
}


def parse_outcomes(output: str) -> tuple[dict[str, str], int | None]:
    """Test id -> outcome from trial's bwverbose output, and the streams xmppwire parsed."""
    result: dict[str, str] = {}
    streams = None
    for line in output.splitlines():
        found = OUTCOME.match(line)
        if found:
            # A test class imported into a second module runs, and is listed, twice.
            test = found[1]
            while test in result:
                test += " (again)"
            result[test] = KINDS.get(found[2], found[2].lower())
            continue
        parsed = STREAMS.match(line)
        if parsed:
            streams = int(parsed[1])
    return result, streams


def run_suite(
    *, accelerate: bool, pure_python: bool, scratch: str
) -> tuple[dict[str, str], int | None]:
    label = "with xmppwire" if accelerate else "without"
    trial_args = ["--reporter=bwverbose", f"--temp-directory={scratch}/_trial_temp", *MODULES]
    if accelerate:
        argv = [sys.executable, "-c", ACCELERATED_TRIAL, *trial_args]
    else:
        argv = [sys.executable, "-m", "twisted.trial", *trial_args]
    env = dict(os.environ)
    if pure_python:
        env["XMPPWIRE_NO_EXTENSIONS"] = "1"
    print(f"\n=== twisted's XMPP tests, {label}", flush=True)
    done = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(("Ran ", "PASSED", "FAILED", "xmppwire ")):
            print(line)
    result, streams = parse_outcomes(done.stdout)
    if not result:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(f"trial reported no tests ({label})")
    return result, streams


def summary(name: str, result: dict[str, str]) -> str:
    kinds = ("passed", "failed", "error", "skipped", "todo")
    counts = {kind: sum(1 for o in result.values() if o == kind) for kind in kinds}
    listed = ", ".join(f"{counts[k]} {k}" for k in kinds)
    return f"{name:<22} {listed} ({len(result)} tests)"


def compare(without: dict[str, str], with_: dict[str, str], streams: int | None) -> int:
    """Print how the runs differ; 1 when the accelerator lost a test or did not run."""
    print(summary("without xmppwire:", without))
    print(summary("with xmppwire:", with_))
    differing = sorted(t for t in without.keys() | with_.keys() if without.get(t) != with_.get(t))
    for test in differing:
        print(f"  differs: {test}: {without.get(test, 'absent')} -> {with_.get(test, 'absent')}")
        if test in EXPECTED_DIFFERENCES:
            print(f"    expected: {EXPECTED_DIFFERENCES[test]}")
    lost = [t for t in differing if without.get(t) == "passed" and t not in EXPECTED_DIFFERENCES]
    if lost:
        print(f"{len(lost)} test(s) pass only without the accelerator, unexplained")
        return 1
    if without.keys() != with_.keys():
        print("the two runs did not run the same tests")
        return 1
    if not streams:
        print("xmppwire parsed no stream: the accelerator was not in use")
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pure-python",
        action="store_true",
        help="accelerate with the pure-Python StreamParser, not the active one",
    )
    args = parser.parse_args()
    import twisted

    with tempfile.TemporaryDirectory(prefix="xmppwire-twisted-suite-") as scratch:
        without, _ = run_suite(accelerate=False, pure_python=args.pure_python, scratch=scratch)
        with_, streams = run_suite(accelerate=True, pure_python=args.pure_python, scratch=scratch)
    print(f"\ntwisted {twisted.__version__}: XMPP tests of twisted.words.test")
    return compare(without, with_, streams)


if __name__ == "__main__":
    sys.exit(main())
