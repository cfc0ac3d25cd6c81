"""Optional dependencies: one check each, made before any work, with the install hint."""

from __future__ import annotations

from .errors import UsageError


def require_matplotlib(purpose: str, extra: str) -> None:
    """UsageError (exit 2) unless matplotlib imports: ``purpose`` says what needs it, ``extra`` which
    ``cvqncodec[...]`` extra installs it."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise UsageError(
            f"{purpose} needs matplotlib (pip install matplotlib, or pip install 'cvqncodec[{extra}]')"
        ) from None
