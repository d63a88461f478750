"""The release configuration, read by the same tools that CI and PyPI use.

These checks need a source checkout and the release tools
(``pip install -e '.[test,release]'``); each skips, naming the tool, where one is
missing. ``scripts/verify-wheels.sh --fast`` installs the tools and runs this file.
Inside cibuildwheel and against installed wheels this file is ignored: there is no
checkout there.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "wheels.yml"
WORKFLOW_COPY = ROOT / ".github" / "workflows" / "wheels.yml"

if not (ROOT / "setup.py").is_file() or not WORKFLOW.is_file():
    pytest.skip("needs a source checkout (setup.py, wheels.yml)", allow_module_level=True)

# What cibuildwheel 4.3.3 (pinned in the `release` extra and in wheels.yml) builds by
# default from CPython 3.10 on: every minor, plus the free-threaded 3.14t and 3.15t.
PYTHONS = ("cp310", "cp311", "cp312", "cp313", "cp314", "cp314t", "cp315", "cp315t")
PLATFORM_TAGS = {
    "linux": (
        "manylinux_x86_64",
        "manylinux_aarch64",
        "musllinux_x86_64",
        "musllinux_aarch64",
    ),
    "macos": ("macosx_x86_64", "macosx_arm64"),
    "windows": ("win_amd64", "win_arm64"),
}
# wheels.yml builds each arch on its own native runner (CIBW_ARCHS=native).
RUNNERS = {
    "ubuntu-latest": ("linux", "x86_64"),
    "ubuntu-24.04-arm": ("linux", "aarch64"),
    "macos-15-intel": ("macos", "x86_64"),
    "macos-latest": ("macos", "arm64"),
    "windows-latest": ("windows", "AMD64"),
    "windows-11-arm": ("windows", "ARM64"),
}
THIRTY_TWO_BIT = re.compile(r"(_i686|_armv7l|-win32)$")


def require(module: str, distribution: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{distribution} is not installed: pip install -e '.[release]'")


def run_tool(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # CIBW_* from the caller's shell would change what cibuildwheel selects.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIBW_")}
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def build_identifiers(platform: str, *extra: str) -> list[str]:
    require("cibuildwheel", "cibuildwheel")
    result = run_tool(
        "-m", "cibuildwheel", "--print-build-identifiers", "--platform", platform, *extra, ROOT
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def load_workflow() -> dict:
    require("yaml", "PyYAML")
    import yaml

    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_workflow_copy_is_identical() -> None:
    assert WORKFLOW_COPY.read_bytes() == WORKFLOW.read_bytes(), (
        "GitHub runs .github/workflows/wheels.yml; copy the top-level wheels.yml over it"
    )


def test_workflows_match_the_github_schema() -> None:
    require("check_jsonschema", "check-jsonschema")
    result = run_tool(
        "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
        WORKFLOW, WORKFLOW_COPY,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    require("check_jsonschema", "check-jsonschema")
    broken = tmp_path / "wheels.yml"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "runs-on:" in text
    broken.write_text(text.replace("runs-on:", "runs_on:"), encoding="utf-8")
    result = run_tool(
        "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", broken
    )
    assert result.returncode != 0
    assert "'runs-on' is a required property" in result.stdout


def test_pyproject_is_valid() -> None:
    require("validate_pyproject", "validate-pyproject")
    result = run_tool("-m", "validate_pyproject", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyproject_validation_covers_the_cibuildwheel_table(tmp_path: Path) -> None:
    # validate-pyproject only knows [tool.cibuildwheel] through cibuildwheel's plugin.
    require("validate_pyproject", "validate-pyproject")
    require("cibuildwheel", "cibuildwheel")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "\ntest-command = " in text
    broken = tmp_path / "pyproject.toml"
    broken.write_text(text.replace("\ntest-command = ", "\ntest-comand = "), encoding="utf-8")
    result = run_tool("-m", "validate_pyproject", broken)
    assert result.returncode != 0
    assert "test-comand" in result.stdout + result.stderr


@pytest.mark.parametrize("platform", sorted(PLATFORM_TAGS))
def test_cibuildwheel_builds_exactly_the_supported_targets(platform: str) -> None:
    expected = {f"{py}-{tag}" for py in PYTHONS for tag in PLATFORM_TAGS[platform]}
    identifiers = build_identifiers(platform)
    assert len(identifiers) == len(set(identifiers))
    assert set(identifiers) == expected


@pytest.mark.parametrize("platform", sorted(PLATFORM_TAGS))
def test_no_32_bit_wheels_whatever_the_archs(platform: str) -> None:
    identifiers = build_identifiers(platform, "--archs", "all")
    assert identifiers
    assert not [i for i in identifiers if THIRTY_TWO_BIT.search(i)]


def test_ci_runners_cover_every_target_natively() -> None:
    workflow = load_workflow()
    job = workflow["jobs"]["wheels"]
    assert job["strategy"]["matrix"]["os"] == list(RUNNERS)
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith("pypa/cibuildwheel@")]
    assert step["env"]["CIBW_ARCHS"] == "native"
    assert step["with"]["package-dir"] == "${{ steps.sdist.outputs.path }}"

    for platform in PLATFORM_TAGS:
        built_by_runners: list[str] = []
        for runner_platform, arch in RUNNERS.values():
            if runner_platform == platform:
                built_by_runners += build_identifiers(platform, "--archs", arch)
        assert sorted(built_by_runners) == sorted(build_identifiers(platform)), platform


def test_ci_uses_the_cibuildwheel_verified_here() -> None:
    workflow = load_workflow()
    (uses,) = [
        step["uses"]
        for step in workflow["jobs"]["wheels"]["steps"]
        if step.get("uses", "").startswith("pypa/cibuildwheel@")
    ]
    pinned = uses.removeprefix("pypa/cibuildwheel@v")
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"pin an exact release, not {uses}"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf'"cibuildwheel=={re.escape(pinned)}[;"]', pyproject)
    try:
        installed = importlib.metadata.version("cibuildwheel")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("cibuildwheel is not installed: pip install -e '.[release]'")
    assert installed == pinned


def test_publishing_uses_trusted_publishing_on_version_tags_only() -> None:
    workflow = load_workflow()
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on["push"]["tags"] == ["v*"]
    publish = workflow["jobs"]["publish"]
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    assert set(publish["needs"]) == set(workflow["jobs"]) - {"publish"}
    assert publish["steps"][-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert all("password" not in step.get("with", {}) for step in publish["steps"])


# A module that stands for any compiled twin, so setup.py's handling is checked even
# before (or while) the real ones change.
PROBE_PYX = textwrap.dedent(
    """\
    cdef class Probe:
        cdef list items

        def __init__(self):
            self.items = []
    """
)

CAPTURE_SETUP = textwrap.dedent(
    """\
    import json, runpy, sys, setuptools
    captured = {}
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    runpy.run_path("setup.py", run_name="__main__")
    extensions = [
        {"name": e.name, "sources": e.sources, "optional": e.optional}
        for e in captured["ext_modules"]
    ]
    with open(sys.argv[1], "w") as out:
        json.dump(extensions, out)
    """
)

# How Cython 3.1+ fills the Py_mod_gil slot when the C compiler is given no override:
# the last `#define __Pyx_FREETHREADING_COMPATIBLE` of its #ifdef block.
GIL_DEFAULT = re.compile(r"#else\s*\n\s*#define __Pyx_FREETHREADING_COMPATIBLE (\w+)\s*\n\s*#endif")


def cythonize_with_setup_py(tmp_path: Path, strict: bool) -> list[dict]:
    require("Cython", "Cython")
    shutil.copy(ROOT / "setup.py", tmp_path)
    shutil.copytree(
        ROOT / "cython",
        tmp_path / "cython",
        ignore=shutil.ignore_patterns("*.c", "*.so", "*.pyd", "*.html", "build"),
    )
    (tmp_path / "cython" / "xmppwire").mkdir(parents=True, exist_ok=True)
    (tmp_path / "cython" / "xmppwire" / "_probe_c.pyx").write_text(PROBE_PYX)
    # The control: a module that opts out must come out declaring that it needs the GIL.
    (tmp_path / "cython" / "xmppwire" / "_probe_gil_c.pyx").write_text(
        "# cython: freethreading_compatible=False\n" + PROBE_PYX
    )
    (tmp_path / "capture.py").write_text(CAPTURE_SETUP)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CIBUILDWHEEL", "XMPPWIRE_NO_EXTENSIONS", "XMPPWIRE_CYTHON_TRACE"}
    }
    if strict:
        env["CIBUILDWHEEL"] = "1"
    result = subprocess.run(
        [sys.executable, "capture.py", "extensions.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "extensions.json").read_text())


@pytest.fixture(scope="module")
def setup_py_run(tmp_path_factory: pytest.TempPathFactory):
    """setup.py's extensions and the tree they were cythonized in, per strictness."""
    runs: dict[bool, tuple[Path, list[dict]]] = {}

    def run(strict: bool) -> tuple[Path, list[dict]]:
        if strict not in runs:
            tree = tmp_path_factory.mktemp("strict" if strict else "optional")
            runs[strict] = tree, cythonize_with_setup_py(tree, strict)
        return runs[strict]

    return run


@pytest.mark.parametrize("strict", [True, False], ids=["cibuildwheel", "pip"])
def test_every_pyx_becomes_a_package_module(setup_py_run, strict: bool) -> None:
    tree, extensions = setup_py_run(strict)
    stems = sorted(p.stem for p in (tree / "cython" / "xmppwire").glob("*.pyx"))
    assert sorted(e["name"] for e in extensions) == [f"xmppwire.{s}" for s in stems]
    # Inside cibuildwheel a failed compile must fail the build, not ship a pure wheel.
    assert all(e["optional"] is (not strict) for e in extensions)


def test_compiled_modules_declare_they_do_not_need_the_gil(setup_py_run) -> None:
    tree, extensions = setup_py_run(True)
    for extension in extensions:
        (source,) = extension["sources"]
        c_code = (tree / source).read_text(encoding="utf-8")
        assert "{Py_mod_gil, __Pyx_FREETHREADING_COMPATIBLE}" in c_code, source
        defaults = GIL_DEFAULT.findall(c_code)
        assert defaults, f"{source}: Cython's Py_mod_gil block changed; update this test"
        if extension["name"] == "xmppwire._probe_gil_c":
            assert defaults[-1] == "Py_MOD_GIL_USED"
        else:
            assert defaults[-1] == "Py_MOD_GIL_NOT_USED", (
                f"{extension['name']} would re-enable the GIL on free-threaded Python"
            )
