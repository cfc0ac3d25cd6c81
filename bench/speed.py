#!/usr/bin/env python3
"""Per-image encode/decode time, exactness and bitstream overhead of the real .cvq path.

Usage:
  python bench/speed.py ../shared/data/kodak [--model NAME|PATH | --random-preset compact] [--limit N]
      [--threads N] [--json out.json]

For every image: encode -> bytes -> decode (wall times), check that the decoder's symbols equal the
encoder's, and compare the payload with the ideal code length of the symbols under the exact 16-bit
CDFs used (the model's cross-entropy); the header is reported separately. Prints a table and the
process's peak RSS. With ``--memory``, every image is also encoded and decoded by the real CLI in
child processes, whose peak RSS GNU time reports per command (``enc MB`` / ``dec MB``).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import torch

from cvqncodec import codec, container
from cvqncodec.entropy import cdf_bits, encode_group
from cvqncodec.imageio import load_image
from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.torchac_loader import torchac_module
from cvqncodec.weights import load_weights, model_from_state
from cvqncodec.zoo import resolve_model


def random_model(preset_name: str):
    torch.manual_seed(0)
    m = CVQN(get_preset(preset_name))
    m.build_integer_tables()
    state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in m.state_dict().items()}
    return model_from_state(f"random-{preset_name}", m.preset, state)


def cli_peak_rss(image: Path, model: str) -> tuple[float, float]:
    """Peak RSS (MB) of `cvq encode` and `cvq decode` of one image, each in its own child process."""
    import tempfile

    from large_image import run_child  # bench/ is on sys.path when this script runs

    with tempfile.TemporaryDirectory() as tmp:
        cvq, png = Path(tmp) / "x.cvq", Path(tmp) / "x.png"
        cli = [sys.executable, "-m", "cvqncodec"]
        _, enc, enc_rc = run_child(cli + ["encode", str(image), "-o", str(cvq), "-m", model, "--quiet"])
        _, dec, dec_rc = run_child(cli + ["decode", str(cvq), "-o", str(png), "-m", model, "--quiet"])
    if enc_rc or dec_rc:
        raise RuntimeError(f"cvq failed on {image} (exit {enc_rc}/{dec_rc})")
    return enc, dec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--model", default=None)
    ap.add_argument("--random-preset", default=None, help="use random weights of this preset")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--memory", action="store_true", help="per-image peak RSS of `cvq encode` / `cvq decode`")
    ap.add_argument(
        "--segment-symbols", type=int, default=None, help="segment length of format 4 (what-if; default the format's)"
    )
    args = ap.parse_args()
    if args.segment_symbols:
        container.SEGMENT_SYMBOLS = args.segment_symbols
    if args.memory and args.random_preset:
        ap.error("--memory runs the CLI and needs a model from `cvq models` or a weights file")
    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = random_model(args.random_preset) if args.random_preset else load_weights(resolve_model(args.model))
    torchac_module()
    files = sorted(p for p in Path(args.folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))
    files = files[: args.limit] if args.limit else files
    # Warm-up (first-call allocations, kernel selection).
    codec.encode(loaded, load_image(str(files[0])).tensor[:, :, :64, :64])
    rows = []
    print(
        f"{'image':<14}{'size':>10}{'bytes':>8}{'bpp':>8}{'enc s':>8}{'dec s':>8}{'overhead':>10}  exact"
        + (f"{'enc MB':>8}{'dec MB':>8}" if args.memory else "")
    )
    for f in files:
        img = load_image(str(f))
        t0 = time.perf_counter()
        enc = codec.encode(loaded, img.tensor)
        t1 = time.perf_counter()
        header, streams = container.unpack(enc.data)
        dec, latent = codec.decode(loaded, header, streams)
        t2 = time.perf_counter()
        exact = all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
        ideal_bits = 0.0
        for ev, s in zip(loaded.evaluators, enc.latent.groups):
            _, cdf = encode_group(ev, s)
            order, _ = ev.coding_order(tuple(s.shape))
            ideal_bits += cdf_bits(cdf, s.reshape(-1)[order])
        payload = sum(len(s) for group in streams for s in group)
        h, w = img.tensor.shape[-2:]
        row = {
            "image": f.name,
            "width": w,
            "height": h,
            "bytes": len(enc.data),
            "bpp": len(enc.data) * 8 / (h * w),
            "encode_s": t1 - t0,
            "decode_s": t2 - t1,
            "payload_bytes": payload,
            "ideal_payload_bytes": ideal_bits / 8,
            "header_bytes": len(enc.data) - payload,
            "exact": exact,
        }
        row["payload_overhead_pct"] = 100 * (payload - row["ideal_payload_bytes"]) / row["ideal_payload_bytes"]
        row["file_vs_ideal_plus_header_pct"] = (
            100 * (len(enc.data) - row["ideal_payload_bytes"] - row["header_bytes"]) / len(enc.data)
        )
        memory = ""
        if args.memory:
            row["encode_peak_rss_mb"], row["decode_peak_rss_mb"] = cli_peak_rss(f, str(loaded.path or args.model))
            memory = f"{row['encode_peak_rss_mb']:>8.0f}{row['decode_peak_rss_mb']:>8.0f}"
        rows.append(row)
        print(
            f"{f.name:<14}{f'{w}x{h}':>10}{row['bytes']:>8}{row['bpp']:>8.3f}{row['encode_s']:>8.2f}"
            f"{row['decode_s']:>8.2f}{row['payload_overhead_pct']:>9.3f}%  {exact}{memory}"
        )
    n = len(rows)
    mean = {k: sum(r[k] for r in rows) / n for k in ("bpp", "encode_s", "decode_s", "payload_overhead_pct")}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{'mean':<14}{'':>10}{'':>8}{mean['bpp']:>8.3f}{mean['encode_s']:>8.2f}{mean['decode_s']:>8.2f}"
        f"{mean['payload_overhead_pct']:>9.3f}%  {all(r['exact'] for r in rows)}"
    )
    print(
        f"max encode {max(r['encode_s'] for r in rows):.2f} s, max decode {max(r['decode_s'] for r in rows):.2f} s, "
        f"{sum(r['bytes'] for r in rows)} bytes in all, "
        f"peak RSS {peak_mb:.0f} MB, threads {torch.get_num_threads()}, model {loaded.name}, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"model": loaded.name, "rows": rows, "mean": mean, "peak_rss_mb": peak_mb}, indent=1)
        )
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
