"""scripts/twisted-suite.py: what it reads from trial and when it fails the build."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "twisted-suite.py"
PREFIX = "twisted.words.test.test_jabberxmlstream.AuthenticatorTests."


@pytest.fixture(scope="module")
def suite() -> Any:
    spec = importlib.util.spec_from_file_location("twisted_suite", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_outcomes_and_stream_count_are_read_from_trials_output(suite: Any) -> None:
    output = "\n".join(
        [
            "twisted.words.test.test_xpath.XPathTests.test_isRootMatch ... [OK]",
            "twisted.words.test.test_xpath.XPathTests.test_isRootMatch ... [OK]",
            f"{PREFIX}test_streamBadVersionOneDigit ... [FAILURE]",
            "twisted.words.test.test_domish.DomishExpatStreamTests.testBasic ... [ERROR]",
            "twisted.words.test.test_jabberjid.JIDTests.test_x ... [SKIPPED]",
            "Traceback (most recent call last): ... [OK]",
            "xmppwire (cython) parsed 70 streams",
        ]
    )
    outcomes, streams = suite.parse_outcomes(output)
    assert outcomes == {
        "twisted.words.test.test_xpath.XPathTests.test_isRootMatch": "passed",
        "twisted.words.test.test_xpath.XPathTests.test_isRootMatch (again)": "passed",
        f"{PREFIX}test_streamBadVersionOneDigit": "failed",
        "twisted.words.test.test_domish.DomishExpatStreamTests.testBasic": "error",
        "twisted.words.test.test_jabberjid.JIDTests.test_x": "skipped",
    }
    assert streams == 70


def test_only_the_listed_differences_pass(suite: Any, capsys: pytest.CaptureFixture[str]) -> None:
    without = {"a": "passed", f"{PREFIX}test_streamBadVersionOneDigit": "passed"}
    expected = {"a": "passed", f"{PREFIX}test_streamBadVersionOneDigit": "failed"}
    assert suite.compare(without, expected, 3) == 0
    assert "expected: version='1' is not major.minor" in capsys.readouterr().out
    assert suite.compare(without, {**expected, "a": "failed"}, 3) == 1
    assert "1 test(s) pass only without the accelerator" in capsys.readouterr().out


def test_a_run_that_did_not_use_the_accelerator_fails(suite: Any) -> None:
    same = {"a": "passed"}
    assert suite.compare(same, same, 1) == 0
    assert suite.compare(same, same, None) == 1
    assert suite.compare(same, same, 0) == 1
    assert suite.compare(same, {**same, "b": "passed"}, 1) == 1
