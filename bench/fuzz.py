#!/usr/bin/env python3
"""Fuzz `cvq decode` with mutated and truncated .cvq files: count crashes and hangs.

Usage: python bench/fuzz.py [--count 10000] [--model PATH] [--timeout 20] [--seed 0]

A crash is any exit code other than 0 (decoded), 4 (corrupt) or 5 (mismatch), a traceback or more than one
line on stderr, or an output file left behind after a failure. A hang is a decode that takes longer than
--timeout seconds (SIGALRM). Half of the mutants get a fresh CRC32 so they reach the header checks and the
arithmetic decoder. Without --model, a tiny model with fixed random weights is used.
"""

from __future__ import annotations

import argparse
import random
import signal
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import torch
from click.testing import CliRunner

from cvqncodec import codec
from cvqncodec.cli import main as cvq
from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.weights import load_weights, save_weights


class Hang(Exception):
    pass


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice([1, 1, 1, 2, 4])):
        kind = rng.choice(["flip", "byte", "truncate", "insert", "delete"])
        pos = rng.randrange(len(buf)) if buf else 0
        if kind == "flip" and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind == "byte" and buf:
            buf[pos] = rng.randrange(256)
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:
            del buf[pos : pos + rng.randint(1, 16)]
    if len(buf) > 4 and rng.random() < 0.5:
        buf[-4:] = struct.pack(">I", zlib.crc32(bytes(buf[:-4])))
    return bytes(buf)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="cvq-fuzz-"))
    if args.model is None:
        torch.manual_seed(0)
        m = CVQN(get_preset("tiny"))
        for q in m.controller.quantizers:
            q.mu.data *= 0.05
        args.model = str(work / "tiny.safetensors")
        save_weights(m, args.model, "tiny-fuzz")
    loaded = load_weights(args.model)
    seeds = []
    for i, (h, w) in enumerate([(1, 1), (17, 31), (40, 56), (64, 64)]):
        g = torch.Generator().manual_seed(i)
        seeds.append(codec.encode(loaded, torch.rand(1, 3, h, w, generator=g)).data)

    def on_alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    runner = CliRunner()
    counts = {"decoded": 0, "clean error": 0, "crash": 0, "hang": 0}
    start = time.time()
    slowest = 0.0
    for i in range(args.count):
        mutant = mutate(rng.choice(seeds), rng)
        src, out = work / "in.cvq", work / "out.png"
        src.write_bytes(mutant)
        if out.exists():
            out.unlink()
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            r = runner.invoke(cvq, ["decode", str(src), "-o", str(out), "--model", args.model, "-q"])
        except Hang:
            counts["hang"] += 1
            print(f"hang on mutant {i}", file=sys.stderr)
            (work / f"hang-{i}.cvq").write_bytes(mutant)
            continue
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        slowest = max(slowest, time.perf_counter() - t0)
        ok_error = (
            r.exit_code in (4, 5) and r.stderr.count("\n") == 1 and "Traceback" not in r.output and not out.exists()
        )
        if r.exit_code == 0 and out.exists():
            counts["decoded"] += 1
        elif ok_error:
            counts["clean error"] += 1
        else:
            counts["crash"] += 1
            (work / f"crash-{i}.cvq").write_bytes(mutant)
            print(f"crash on mutant {i}: exit {r.exit_code}: {r.output[-300:]!r} {r.exception!r}", file=sys.stderr)
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".out")]
    print(
        f"{args.count} mutants in {time.time() - start:.0f} s: {counts}; slowest decode {slowest:.2f} s; "
        f"temporary files left: {len(leftovers)}; failures saved in {work}"
    )
    return 0 if counts["crash"] == 0 and counts["hang"] == 0 and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
