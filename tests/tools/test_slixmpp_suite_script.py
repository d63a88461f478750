"""scripts/slixmpp-suite.py keeps what explains a failure: its logs stay on disk."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slixmpp-suite.py"


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("slixmpp_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_run_pytest_cant_report_on_keeps_the_log_it_names(suite, tmp_path, capsys):
    """pytest refusing its arguments writes no results: the 'see LOG' file is there to read."""
    root = tmp_path / "sdist"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    with pytest.raises(SystemExit) as ended, suite.scratch_directory(None) as scratch:
        (scratch / "xmppwire_suite_plugin.py").write_text(suite.PLUGIN)
        suite.run_suite(
            root,
            scratch,
            scratch,
            accelerate=False,
            pure_python=False,
            pytest_args=["--no-such-option"],
            scratch=scratch,
        )
    log = Path(re.search(r"see (\S+)$", str(ended.value)).group(1))
    assert log.parent == scratch
    assert "--no-such-option" in log.read_text()
    assert f"logs kept in {scratch}" in capsys.readouterr().err
    shutil.rmtree(scratch)


def test_a_failed_comparison_keeps_the_scratch_directory(suite, capsys):
    with pytest.raises(SystemExit), suite.scratch_directory(None) as scratch:
        (scratch / "with-xmppwire.log").write_text("the log")
        status = suite.compare("1.0", {"t": "passed"}, {"t": "failed"})
        assert status == 1
        raise SystemExit(status)
    assert (scratch / "with-xmppwire.log").read_text() == "the log"
    assert "differs: t: passed -> failed" in capsys.readouterr().out
    shutil.rmtree(scratch)


def test_a_passing_run_cleans_up(suite):
    with suite.scratch_directory(None) as scratch:
        (scratch / "without.log").write_text("fine")
        assert suite.compare("1.0", {"t": "passed"}, {"t": "passed"}) == 0
    assert not scratch.exists()
