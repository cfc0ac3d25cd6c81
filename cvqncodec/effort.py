"""Encoder effort levels (``cvq encode --effort``), light to import (no torch): effort -> refinement steps of
:mod:`cvqncodec.refine`. Effort 1 is a plain encoder pass; the steps were chosen in bench/effort.py."""

from __future__ import annotations

EFFORT_STEPS = {1: 0, 2: 2, 3: 5, 4: 10, 5: 20, 6: 35, 7: 50, 8: 75, 9: 100}
#: The default keeps a Kodak image's encode near 2 s on two cores (bench/RESULTS.md).
DEFAULT_EFFORT = 1
