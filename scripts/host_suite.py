"""What the scripts that run a host library's own test suite share.

``slixmpp-suite.py`` and ``nbxmpp-suite.py`` fetch the source distribution of
the installed version, run its tests with pytest without and with the
accelerator, and compare the outcomes read from pytest's JUnit XML.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

KINDS = ("passed", "failed", "error", "skipped")


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(argv), flush=True)
    return subprocess.run(argv, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def unpack_sdist(package: str, version: str, scratch: Path) -> Path:
    """Download ``package==version``'s sdist from the index and unpack it; return its root."""
    downloads = scratch / "download"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"{package}=={version}",
            "-d",
            str(downloads),
        ]
    )
    (archive,) = downloads.glob(f"{package}-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    return scratch / f"{package}-{version}"


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> passed/failed/error/skipped, from pytest's JUnit XML."""
    result = {}
    for case in ET.parse(junit).iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            result[test] = "error"
        elif "failure" in kinds:
            result[test] = "failed"
        elif "skipped" in kinds:
            result[test] = "skipped"
        else:
            result[test] = "passed"
    return result


def summary(name: str, result: dict[str, str]) -> str:
    counts = {kind: sum(1 for o in result.values() if o == kind) for kind in KINDS}
    listed = ", ".join(f"{counts[k]} {k}" for k in counts)
    return f"{name:<22} {listed} ({len(result)} tests)"
