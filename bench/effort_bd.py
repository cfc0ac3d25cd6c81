#!/usr/bin/env python3
"""Bjøntegaard deltas of the ``--effort`` curves: one curve per effort over the shipped rates, from the JSON
files of ``bench/effort.py --json`` (one per model, all on the same images), against effort 1 and against the
conventional codecs of a ``cvq bench --json`` file. Curves are aggregated as ``cvq bench`` does: mean bpp,
mean PSNR, and MS-SSIM dB of the mean MS-SSIM.

    python bench/effort_bd.py runs/effort-q{1,2,3,4,5}.json --anchors kodak-bench.json --codecs AVIF "HEIF (HEVC)"
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from cvqncodec.bench.bd import bd_rate
from cvqncodec.bench.records import ms_ssim_in_db
from cvqncodec.effort import EFFORT_STEPS

Curve = dict[str, list[float]]


def effort_curves(runs: list[dict]) -> dict[int, Curve]:
    """{effort: {"bpp", "psnr", "ms_ssim_db"} over the models} from effort.py's result objects."""
    effort_of = {steps: effort for effort, steps in EFFORT_STEPS.items()}
    curves: dict[int, Curve] = {}
    for run in sorted(runs, key=lambda r: r["model"]):
        per_image = list(run["images"].values())
        for i, row in enumerate(per_image[0]["rows"]):
            rows = [image["rows"][i] for image in per_image]
            curve = curves.setdefault(effort_of[row["step"]], {"bpp": [], "psnr": [], "ms_ssim_db": []})
            curve["bpp"].append(statistics.mean(r["bpp"] for r in rows))
            curve["psnr"].append(statistics.mean(r["psnr"] for r in rows))
            curve["ms_ssim_db"].append(ms_ssim_in_db(statistics.mean(r["ms_ssim"] for r in rows)))
    return curves


def anchor_curves(path: Path, codecs: list[str]) -> dict[str, Curve]:
    """The named codecs' curves of a ``cvq bench --json`` file (CompressAI's layout)."""
    objects = json.loads(path.read_text())
    found = {o["name"]: o["results"] for o in (objects if isinstance(objects, list) else [objects])}
    out = {}
    for name in codecs:
        if name not in found:
            raise SystemExit(f"{path}: no codec {name!r} (it has {', '.join(found)})")
        r = found[name]
        out[name] = {"bpp": r["bpp"], "psnr": r["psnr-rgb"], "ms_ssim_db": [ms_ssim_in_db(v) for v in r["ms-ssim-rgb"]]}
    return out


def delta(anchor: Curve, test: Curve, quality: str) -> str:
    result = bd_rate(anchor["bpp"], anchor[quality], test["bpp"], test[quality])
    return "n/a" if result.value is None else f"{result.value:+.1f} %"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("efforts", nargs="+", type=Path, help="effort.py --json files, one per model")
    ap.add_argument("--anchors", type=Path, help="a cvq bench --json file with the conventional codecs")
    ap.add_argument("--codecs", nargs="*", default=["AVIF", "HEIF (HEVC)"])
    args = ap.parse_args()
    runs = [run for path in args.efforts for run in json.loads(path.read_text())]
    curves = effort_curves(runs)
    anchors = anchor_curves(args.anchors, args.codecs) if args.anchors else {}
    base = curves[min(curves)]
    print(f"Models: {', '.join(sorted({r['model'] for r in runs}))}; BD-rate by MS-SSIM dB / by PSNR")
    head = ["effort", "bpp", "MS-SSIM dB", "PSNR", f"vs effort {min(curves)}"] + [f"vs {c}" for c in anchors]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for effort, curve in sorted(curves.items()):
        cells = [
            str(effort),
            " / ".join(f"{v:.4f}" for v in curve["bpp"]),
            " / ".join(f"{v:.2f}" for v in curve["ms_ssim_db"]),
            " / ".join(f"{v:.2f}" for v in curve["psnr"]),
        ]
        for anchor in [base, *anchors.values()]:
            cells.append(f"{delta(anchor, curve, 'ms_ssim_db')} / {delta(anchor, curve, 'psnr')}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
