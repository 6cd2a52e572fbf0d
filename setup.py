"""Build the compiled order book.

`FIXGW_CYTHON_ANNOTATE=1` writes Cython's HTML annotation next to each module and
`FIXGW_CYTHON_DEBUG=1` keeps bounds checks and line tracing on, for profiling the book.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

ANNOTATE = os.environ.get("FIXGW_CYTHON_ANNOTATE") == "1"
DEBUG = os.environ.get("FIXGW_CYTHON_DEBUG") == "1"

directives = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "linetrace": DEBUG,
}

extensions = [
    Extension(
        "engine.book._book",
        ["engine/book/_book.pyx"],
        language="c++",
        extra_compile_args=["-O3", "-std=c++17"],
        define_macros=[("CYTHON_TRACE_NOGIL", "1")] if DEBUG else [],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives, annotate=ANNOTATE))
