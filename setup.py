"""Build the compiled twins in cython/xmppwire/ as modules of the xmppwire package.

The extensions are optional: without a compiler (or with
XMPPWIRE_NO_EXTENSIONS=1) the package installs and runs in pure Python.
Inside cibuildwheel (CIBUILDWHEEL=1) they are mandatory, so no wheel ships
without them.
"""

import os
import sys
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
PURE = bool(os.environ.get("XMPPWIRE_NO_EXTENSIONS")) or sys.implementation.name != "cpython"
STRICT = os.environ.get("CIBUILDWHEEL") == "1"
TRACE = bool(os.environ.get("XMPPWIRE_CYTHON_TRACE"))

ext_modules = []
if not PURE:
    from Cython.Build import cythonize

    sources = sorted((HERE / "cython" / "xmppwire").glob("*.pyx"))
    extensions = [
        Extension(
            f"xmppwire.{src.stem}",
            [str(src.relative_to(HERE))],
            define_macros=[("CYTHON_TRACE", "1")] if TRACE else [],
        )
        for src in sources
    ]
    directives = {
        "language_level": 3,
        "freethreading_compatible": True,
        "embedsignature": True,
    }
    if TRACE:
        directives["linetrace"] = True
    ext_modules = cythonize(extensions, include_path=["cython"], compiler_directives=directives)
    # cythonize() returns fresh Extension objects with optional=False.
    for ext in ext_modules:
        ext.optional = not STRICT

print(f"* xmppwire: {'pure Python' if PURE else 'compiled'} build *", file=sys.stderr)
setup(ext_modules=ext_modules)
