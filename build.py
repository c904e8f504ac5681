"""Build lb._native._lb_native, the cffi (API mode) extension behind lb._native.

Three ways in, one definition:

- ``setup.py`` names ``build.py:ffibuilder`` in ``cffi_modules``, so ``pip install`` and
  ``pip install -e`` compile it like any other extension;
- ``python build.py`` compiles it in place (``lb/_native/_lb_native.*.so``) for developers;
- the C source is the readable ``lb/_native/pump.c``; this file only declares what Python sees.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

# cffi runs this file with __file__ set, from setup.py's directory; resolve against the file
# anyway so that `python /elsewhere/build.py` works too.
ROOT = Path(__file__).resolve().parent
C_SOURCE = ROOT / "lb" / "_native" / "pump.c"

# What Python may call.  Must agree with pump.c (cffi checks it against the C at compile time).
CDEF = """
#define LB_SRC_AGAIN ...
#define LB_DST_AGAIN ...
#define LB_EOF ...
#define LB_SRC_ERROR ...
#define LB_DST_ERROR ...
#define LB_BUDGET ...

struct lb_pump_state {
    int64_t pending;
    int stop;
    int err;
};

int64_t lb_splice_pump(int src, int pipe_r, int pipe_w, int dst, int64_t chunk,
                       int64_t budget, struct lb_pump_state *st);

int64_t lb_atomic_add(int64_t *base, int64_t index, int64_t delta);
int64_t lb_atomic_load(int64_t *base, int64_t index);
void lb_atomic_store(int64_t *base, int64_t index, int64_t value);
int lb_atomic_try_acquire(int64_t *base, int64_t index, int64_t limit);
int64_t lb_atomic_cas(int64_t *base, int64_t index, int64_t expected, int64_t desired);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "lb._native._lb_native",
    C_SOURCE.read_text(),
    # -O2 explicitly: it comes after the interpreter's own CFLAGS, so it wins.
    extra_compile_args=["-O2", "-Wall"],
    # Full (version-specific) API rather than cffi's default abi3: the same file name whether
    # built by `python build.py` or by pip, so an in-place build can never shadow an editable
    # install's (or the reverse) with a stale copy.
    py_limited_api=False,
    define_macros=[("_CFFI_NO_LIMITED_API", None)],  # what cffi's setuptools hook adds for False
    # rebuild when pump.c changes (setuptools compares timestamps of `depends`)
    depends=[os.path.relpath(C_SOURCE)],
)

if __name__ == "__main__":
    # tmpdir=ROOT: the module path lb._native._lb_native maps onto lb/_native/ in the tree.
    ffibuilder.compile(tmpdir=str(ROOT), verbose=True)
