"""``cvq bench``: rate-distortion and speed of CVQN models and conventional codecs over a folder of images.

Every measurement goes through the real path: CVQN images are encoded to ``.cvq`` bytes, parsed back and
decoded; conventional codecs (Pillow and its plugins) are encoded to and decoded from bytes in memory. bpp
is ``len(bytes) * 8 / (H * W)`` of the whole file, headers included; PSNR and MS-SSIM are measured on the
8-bit RGB values (:mod:`cvqncodec.metrics`; MS-SSIM is n/a below ``MS_SSIM_MIN_SIDE`` px).

Modules, in dependency order:

- ``records``: Record (one image at one setting), Point (means per rate point), BenchResult, the JSON;
- ``bd``: Bjøntegaard delta rates; ``matching``: the matched-bpp comparison;
- ``pillow_codecs``: the conventional codecs; ``conventional``: their registry and ``--codecs`` names;
- ``coding``: one image through the real path; ``runner``: tasks, workers, :func:`run_bench`;
- ``tables``: what is printed; ``figure``: the plot; ``crops``: the side-by-side crops;
- ``outputs``: the ``--json-dir`` and ``--crops`` folders.

The click command is :mod:`cvqncodec.cli.bench`. Nothing here imports torch until a run starts.
"""

from __future__ import annotations

from .bd import BD_MIN_POINTS, BDResult, bd_rate, bd_rate_cubic, bd_rates
from .coding import code_conventional, code_cvqn
from .conventional import ALIASES, CODECS, available_codecs, parse_codecs
from .figure import check_matplotlib, plot
from .matching import Match, match_bpp
from .pillow_codecs import Conventional
from .records import (
    BenchResult,
    Point,
    Record,
    compressai_objects,
    compressai_results,
    json_file_names,
    results_files,
    results_json,
    slug,
    summarize,
)
from .runner import Task, Worker, default_models, resolve_models, run_bench, run_tasks
from .tables import render_report

__all__ = [
    "ALIASES",
    "BD_MIN_POINTS",
    "CODECS",
    "BDResult",
    "BenchResult",
    "Conventional",
    "Match",
    "Point",
    "Record",
    "Task",
    "Worker",
    "available_codecs",
    "bd_rate",
    "bd_rate_cubic",
    "bd_rates",
    "check_matplotlib",
    "code_conventional",
    "code_cvqn",
    "compressai_objects",
    "compressai_results",
    "default_models",
    "json_file_names",
    "match_bpp",
    "parse_codecs",
    "plot",
    "render_report",
    "resolve_models",
    "results_files",
    "results_json",
    "run_bench",
    "run_tasks",
    "slug",
    "summarize",
]
