"""Loading torchac: its C++ backend is compiled on first import (once per torch version and environment),
into a cache folder, without letting the build's output reach stdout (which may carry a .cvq stream)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
from functools import lru_cache

import torch

from .errors import CvqError


@contextlib.contextmanager
def _captured_stdout():
    """Capture fd 1 into a temporary file: torchac's JIT build prints 'ninja: no work to do.' on stdout at
    every import (it would corrupt ``-o -``). Yields the file; the caller shows it only on failure."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            yield sink
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@lru_cache(maxsize=1)
def torchac_module():
    """Import torchac (compiling its C++ backend on first use) without touching stdout."""
    if "TORCH_EXTENSIONS_DIR" not in os.environ:
        # Our own build folder per torch version and environment: the default is shared by every venv.
        cache = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
        env = hashlib.sha256(sys.prefix.encode()).hexdigest()[:8]
        os.environ["TORCH_EXTENSIONS_DIR"] = os.path.join(
            cache, "cvqncodec", f"torch-{torch.__version__.replace('+', '-')}-{env}"
        )
    build_dir = os.path.join(os.environ["TORCH_EXTENSIONS_DIR"], "torchac_backend")
    if not os.path.exists(os.path.join(build_dir, "torchac_backend.so")):
        print("cvq: compiling the torchac backend (first run only, about 30 s)", file=sys.stderr, flush=True)
    with _captured_stdout() as sink, contextlib.redirect_stdout(io.StringIO()):
        try:
            import torchac  # noqa: WPS433
        except Exception as exc:
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise CvqError(
                "cannot build or load torchac's C++ backend (it needs a C++ compiler and the "
                f"Python headers): {type(exc).__name__}: {exc}"
            ) from None
    return torchac
