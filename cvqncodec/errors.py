"""Errors with the documented exit codes of the ``cvq`` command (see README, "Exit codes")."""

from __future__ import annotations


class CvqError(Exception):
    """Base class: a clean, one-line failure. ``exit_code`` is what ``cvq`` exits with."""

    exit_code = 1


class UsageError(CvqError):
    """An option that cannot be honoured here, e.g. a figure without matplotlib (exit 2)."""

    exit_code = 2


class InputError(CvqError):
    """Unreadable, non-image, unsupported or too large input image (exit 3)."""

    exit_code = 3


class BitstreamError(CvqError):
    """Not a .cvq file, or a truncated or corrupted one (exit 4)."""

    exit_code = 4


class MismatchError(CvqError):
    """A .cvq file from another format version or made with other weights (exit 5)."""

    exit_code = 5


class OutputError(CvqError):
    """The output exists (without --force) or cannot be written (exit 6)."""

    exit_code = 6


class ModelError(CvqError):
    """Weights missing, unreadable or invalid (exit 7)."""

    exit_code = 7


class BackendError(CvqError):
    """The torchac backend cannot be built or loaded (no C++ compiler or Python headers; exit 8)."""

    exit_code = 8


#: Exit code when standard output is closed early (`cvq ... | head`): what a shell reports for a tool killed by
#: SIGPIPE (128 + 13); nothing is printed.
BROKEN_PIPE = 141

EXIT_CODES = {
    0: "success",
    1: "internal error (a bug: please report it)",
    2: "usage error (bad option or argument)",
    3: InputError.__doc__,
    4: BitstreamError.__doc__,
    5: MismatchError.__doc__,
    6: OutputError.__doc__,
    7: ModelError.__doc__,
    8: BackendError.__doc__,
    BROKEN_PIPE: "standard output closed early (broken pipe)",
}
