"""Build the compiled order book and the order path's modules (Cython's pure-Python mode).

The order path's `.py` files are compiled as they are, with the `.pxd` beside each giving
their C types; the same files run interpreted with `FIXGW_PURE=1` (engine/implementation.py).
Annotations are for mypy and readers: only the `.pxd` files type anything for Cython, so an
annotation never changes what a compiled function accepts.

`FIXGW_CYTHON_ANNOTATE=1` writes Cython's HTML annotation next to each module and
`FIXGW_CYTHON_DEBUG=1` keeps bounds checks and line tracing on, for profiling.
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

ANNOTATE = os.environ.get("FIXGW_CYTHON_ANNOTATE") == "1"
DEBUG = os.environ.get("FIXGW_CYTHON_DEBUG") == "1"

# The order path, from the message text to the report text: compiled, each with a twin.
ORDER_PATH = [
    "engine/model/values.py",
    "engine/model/instruments.py",
    "engine/model/terms.py",
    "engine/model/commands.py",
    "engine/model/events.py",
    "engine/model/orders.py",
    "engine/model/refusal.py",
    "engine/accounts/ledger.py",
    "engine/accounts/funding.py",
    "engine/accounts/prefunding.py",
    "engine/margin/terms.py",
    "engine/margin/watch.py",
    "engine/margin/loans.py",
    "engine/perps/positions.py",
    "engine/perps/tiers.py",
    "engine/perps/book.py",
    "engine/perps/funding.py",
    "engine/matching/digest.py",
    "engine/matching/margin.py",
    "engine/matching/perps.py",
    "engine/matching/state.py",
    "engine/matching/core.py",
    "engine/persistence/command_codec.py",
    "fixgw/fix/text.py",
    "fixgw/fix/messages.py",
    "fixgw/fix/inbound.py",
    "fixgw/fix/reports.py",
    "fixgw/fix/marketdata.py",
    "fixgw/inbox.py",
    "fixgw/runner.py",
    "fixgw/app.py",
]

directives = {
    "language_level": "3",
    "annotation_typing": False,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "linetrace": DEBUG,
}
macros = [("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []

extensions = [
    Extension(
        "engine.book._book",
        ["engine/book/_book.pyx"],
        language="c++",
        extra_compile_args=["-O3", "-std=c++17"],
        define_macros=macros,
    ),
    *(
        Extension(
            path.removesuffix(".py").replace("/", "."),
            [path],
            extra_compile_args=["-O3"],
            define_macros=macros,
        )
        for path in ORDER_PATH
    ),
]

setup(ext_modules=cythonize(extensions, compiler_directives=directives, annotate=ANNOTATE))
