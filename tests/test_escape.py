"""Strings from files made safe for a terminal (issue #21, item 11)."""

import pytest

from cvqncodec import container
from cvqncodec.text import escape_control


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("cvqn-q3", "cvqn-q3"),
        ("evil\x1b[2J", "evil\\x1b[2J"),  # ESC [2J clears the terminal
        ("a\rb\nc\td\x07", "a\\x0db\\x0ac\\x09d\\x07"),
        ("x\x9by", "x\\x9by"),  # the C1 control sequence introducer
        ("abc\u202efdp.exe", "abc\\u202efdp.exe"),  # right-to-left override
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("line\u2028sep", "line\\u2028sep"),
        ("modèle été 日本", "modèle été 日本"),
    ],
)
def test_control_and_format_characters_are_escaped(raw, shown):
    assert escape_control(raw) == shown
    assert escape_control(shown) == shown


def test_a_header_name_with_escape_sequences_is_read_and_shown_escaped():
    h = container.Header("evil\x1b]0;owned\x07\x1b[2J", b"\0" * 8, 16, 16, 3, 8, 1, 1, [(3, 2), (5, 4), (7, 2)])
    parsed, _ = container.unpack(container.pack(h, [[b""], [b""], [b""]]))
    assert parsed.model_name == h.model_name  # the format carries any UTF-8 name; printing escapes it
    assert "\x1b" not in escape_control(parsed.model_name) and "\x07" not in escape_control(parsed.model_name)
