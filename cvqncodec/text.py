"""Plain-text output shared by the tools (bench tables, analyze summaries): numbers, fixed-width tables and
strings from files made safe for a terminal."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence


def fmt(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals; 'n/a' for None or NaN, 'inf' for infinities."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def plural(n: int, word: str) -> str:
    """'1 image', '3 images'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Fixed-width text table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


#: Unicode categories printed escaped: controls (ESC, BEL, CR, ...), format characters (bidi overrides,
#: zero-width joiners), line and paragraph separators, surrogates, unassigned code points.
UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Cn", "Zl", "Zp")


def escape_control(s: str) -> str:
    """``s`` with every control or invisible formatting character written as a Python escape (``\\x1b``,
    ``\\u202e``), so that a string read from a file (a model name in a .cvq
    header, a path) cannot move the cursor, clear the terminal or reorder what is printed."""

    def safe(ch: str) -> str:
        if unicodedata.category(ch) not in UNSAFE_CATEGORIES:
            return ch
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return "".join(map(safe, s))
