import math

from cvqncodec.text import fmt, format_table, plural


def test_fmt():
    assert fmt(0.12345, 3) == "0.123"
    assert fmt(None, 2) == fmt(float("nan"), 2) == "n/a"
    assert fmt(math.inf, 2) == "inf" and fmt(-math.inf, 2) == "-inf"


def test_plural():
    assert plural(1, "image") == "1 image" and plural(0, "image") == "0 images"


def test_format_table_aligns_left_then_right():
    lines = format_table(["name", "bpp"], [["a", "0.1"], ["long name", "10.25"]]).splitlines()
    assert lines[0] == "name         bpp"
    assert lines[1] == "---------  -----"
    assert lines[3] == "long name  10.25" and lines[2] == "a            0.1"
