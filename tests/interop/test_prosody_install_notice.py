"""Installing Prosody with apt-get is announced before it happens, with the way to opt out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .prosody import NO_INSTALL_VARIABLE, install_notice

ROOT = Path(__file__).resolve().parents[2]


def test_as_root_with_apt_the_notice_says_it_installs_and_how_not_to() -> None:
    line = install_notice(found=None, root=True, have_apt=True, opted_out=False)
    assert "apt-get" in line and "install" in line
    assert f"{NO_INSTALL_VARIABLE}=1" in line


def test_opted_out_or_unable_the_notice_says_the_tests_skip() -> None:
    opted = install_notice(found=None, root=True, have_apt=True, opted_out=True)
    assert opted.endswith("so the interop tests skip") and "install Debian" not in opted
    unable = install_notice(found=None, root=False, have_apt=True, opted_out=False)
    assert unable.endswith("interop tests skip")


def test_found_the_notice_names_the_program() -> None:
    assert install_notice(found="/usr/bin/prosody", root=True, have_apt=True, opted_out=False) == (
        "prosody: /usr/bin/prosody"
    )


def test_the_test_run_prints_the_notice_in_its_header() -> None:
    """What ``python -m pytest`` shows first, before any test (and any apt-get) runs."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-p", "no:cacheprovider",
         "tests/interop/test_prosody_install_notice.py"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, NO_INSTALL_VARIABLE: "1"},
    )  # fmt: skip
    header = done.stdout.split("collected", 1)[0]
    found = shutil.which("prosody") or shutil.which("prosody", path="/usr/bin:/usr/sbin")
    if found:
        assert f"prosody: {found}" in header
    else:
        assert f"{NO_INSTALL_VARIABLE}=1, so the interop tests skip" in header
