"""Loading torchac. Its C++ backend is compiled on first use into a cache folder shared by every environment
with the same torch, Python ABI, compiler and torchac source (not once per virtual environment), safely when
several processes start at once (a file lock, then an atomic rename), and without letting the build's output
reach stdout (which may carry a .cvq stream)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
import re
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from .errors import BackendError

BACKEND = "torchac_backend"
LIBRARY = BACKEND + ".so"
#: What to install when the build fails (shown with exit code 8).
HINT = "it needs a C++ compiler and the Python headers once (e.g. 'apt install g++ python3-dev')"


def cache_root() -> Path:
    """$TORCH_EXTENSIONS_DIR if set, else $XDG_CACHE_HOME/cvqncodec (default ~/.cache/cvqncodec)."""
    if os.environ.get("TORCH_EXTENSIONS_DIR"):
        return Path(os.environ["TORCH_EXTENSIONS_DIR"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "cvqncodec"


def backend_source() -> Path:
    """torchac's C++ source, found without importing torchac (whose import starts the build)."""
    spec = importlib.util.find_spec("torchac")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("torchac is not installed (pip install torchac)")
    return Path(list(spec.submodule_search_locations)[0]) / "backend" / (BACKEND + ".cpp")


def compiler() -> str | None:
    """The C++ compiler torch's build uses ($CXX, else c++), as a resolved path; None when there is none."""
    found = shutil.which(os.environ.get("CXX") or "c++")
    return os.path.realpath(found) if found else None


def python_abi() -> str:
    """E.g. 'cpython-311-x86_64-linux-gnu': the ABI the backend's Python bindings are built for."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or f".{sys.implementation.cache_tag}.so"
    return suffix.strip(".").rsplit(".", 1)[0]


def build_key(torch_version: str, abi: str, cxx: str | None, source: bytes) -> str:
    """The cache folder's name: torch version, Python ABI, a digest of torchac's source, and the compiler (its
    file name and a digest of its path). Nothing about the environment: every venv shares it."""
    src = hashlib.sha256(source).hexdigest()[:10]
    cc = (
        f"{os.path.basename(cxx).replace('++', 'xx')}-{hashlib.sha256(cxx.encode()).hexdigest()[:8]}"
        if cxx
        else "nocxx"
    )
    return re.sub(r"[^A-Za-z0-9._-]", "-", f"torch-{torch_version}-{abi}-src{src}-{cc}")


def backend_dir(cxx: str | None = None) -> Path:
    """Where this environment's build lives (or will)."""
    import torch

    return cache_root() / "torchac" / build_key(torch.__version__, python_abi(), cxx, backend_source().read_bytes())


def _load_library(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(BACKEND, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive lock across processes (released by the OS if a process dies); a no-op without fcntl,
    where the atomic rename alone keeps concurrent builds safe."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def ensure_built(target: Path, build: Callable[[Path], Path]) -> bool:
    """Make ``target`` exist: under a lock, unless another process has made it meanwhile, ``build`` into a
    fresh folder beside it (it returns the library it built), then rename that into place. True if built."""
    target.parent.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target.parent.with_name(target.parent.name + ".lock")):
        if target.exists():
            return False
        work = Path(tempfile.mkdtemp(prefix=target.parent.name + ".build-", dir=target.parent.parent))
        try:
            built = build(work)
            target.parent.mkdir(exist_ok=True)
            os.replace(built, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return True


@contextlib.contextmanager
def _captured_stdout() -> Iterator[tempfile._TemporaryFileWrapper]:
    """Capture fd 1 into a temporary file: the build's tools may print on stdout (it would corrupt ``-o -``).
    Yields the file; the caller keeps it as the build log."""
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


def _compile(work: Path) -> Path:
    """Build the backend in ``work`` with torch's JIT extension builder (ninja); BackendError with a hint and
    the log's path on failure."""
    from torch.utils import cpp_extension

    path = os.environ.get("PATH", "")
    with contextlib.suppress(ImportError):  # the ninja package's binary, also without an activated venv
        import ninja

        path = os.pathsep.join([ninja.BIN_DIR, path])
    log = work.parent / (work.name.split(".build-")[0] + ".log")
    printed = io.StringIO()
    with _captured_stdout() as sink, contextlib.redirect_stdout(printed), _env(PATH=path):
        try:
            cpp_extension.load(name=BACKEND, sources=[str(backend_source())], build_directory=str(work))
        except Exception as exc:  # a failed build surfaces as many exception types
            sink.seek(0)
            text = f"{printed.getvalue()}\n{type(exc).__name__}: {exc}\n"
            log.write_bytes(sink.read() + text.encode(errors="replace"))
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"cannot build torchac's C++ backend ({first[:200]}); {HINT}; log: {log}") from None
    return work / LIBRARY


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _existing_build() -> Path | None:
    """A build for this torch, Python ABI and torchac source made with any compiler (used when this machine
    has no compiler now, e.g. a container that shares the cache)."""
    prefix = backend_dir(None).name.rsplit("-nocxx", 1)[0] + "-"
    for d in sorted((cache_root() / "torchac").glob(prefix + "*")):
        if (d / LIBRARY).is_file():
            return d / LIBRARY
    return None


def load_backend() -> ModuleType:
    """The compiled backend module, built first if this torch, Python and compiler have none yet."""
    cxx = compiler()
    target = backend_dir(cxx) / LIBRARY
    if cxx is None and not target.exists():
        found = _existing_build()
        if found is None:
            raise BackendError(
                f"no C++ compiler found ({os.environ.get('CXX') or 'c++'}) to build torchac's backend, which is "
                f"compiled once; install one (e.g. 'apt install g++ python3-dev') or set $CXX"
            )
        target = found
    if not target.exists():
        print(
            f"cvq: compiling the torchac backend, once for this torch, Python and compiler (about 30-60 s) "
            f"into {target.parent}",
            file=sys.stderr,
            flush=True,
        )
        ensure_built(target, _compile)
    try:
        return _load_library(target)
    except (ImportError, OSError) as exc:
        raise BackendError(f"cannot load {target} ({exc}); delete that folder to rebuild it") from None


@lru_cache(maxsize=1)
def torchac_module() -> ModuleType:
    """Import torchac with the cached backend (compiling it on first use) without touching stdout."""
    if "torchac" in sys.modules:
        return sys.modules["torchac"]
    backend = load_backend()
    from torch.utils import cpp_extension

    real_load = cpp_extension.load
    cpp_extension.load = lambda *args, **kwargs: backend  # torchac compiles at import: hand it our build
    try:
        import torchac
    finally:
        cpp_extension.load = real_load
    return torchac
