#!/usr/bin/env python3
"""Fuzz `cvq decode` with malformed .cvq files: count crashes, hangs and runs over the memory limit.

Usage: python bench/fuzz.py [--mode structure|bytes] [--count 10000] [--model PATH] [--timeout 20]
                            [--memory-gib 2] [--max-pixels 4000000] [--seed 0]

Modes:

- ``structure`` (default): each case parses a seed file and changes 1-3 fields of its header within the
  fields' widths: image size (self-consistent claims up to --max-pixels, any aspect ratio, with the latent
  size and the stream count of every group recomputed to match), latent shape, groups, permutation, stream
  counts and lengths, colour, version, model name, weights id, metadata items. The file is rebuilt with
  consistent lengths (mostly: some cases keep them inconsistent on purpose) and a fresh CRC32, so most
  cases reach the header checks, and many the arithmetic decoder.
- ``bytes``: 1-4 byte-level mutations (bit flips, byte changes, truncations, insertions, deletions); half of
  the mutants get a fresh CRC32.

Every case runs in a worker process through click's runner of the real `cvq decode` (output .ppm), under a
time limit (the worker is killed and restarted past --timeout seconds of CPU time, or 10x that of wall-clock
time: a hang is the same on a busy machine) and a memory limit (RLIMIT_AS:
--memory-gib of address space above the worker's baseline after warm-up). A crash is any exit other than
0 (decoded), 4 (corrupt) or 5 (mismatch), a traceback or more than one line on stderr, an output file left
behind after a failure, or a worker that died. Without --model, a tiny model with fixed random weights is used.
The report gives the outcomes, how far the cases got (stopped at the CRC, at the header checks, at the
decoding-cost limit, or parsed and handed to the decoder), the slowest case and the largest peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"\x89CVQ\r\n\x1a\n"
SEED_SIZES = [(1, 1), (17, 31), (40, 56), (64, 64), (100, 37)]


# ------------------------------------------------------------------------------------------ raw files
@dataclass
class Fields:
    """Every field of a .cvq file as written, without any validation (values are masked to their widths)."""

    version: int
    name: bytes
    weights_id: bytes
    height: int
    width: int
    colour: int
    channels: int
    latent_height: int
    latent_width: int
    groups: list[tuple[int, int]]
    perm_flag: int
    perm: list[int]
    #: (tag, declared length or None for the real one, bytes); written only when ``with_metadata``.
    metadata: list[tuple[int, int | None, bytes]] = field(default_factory=list)
    with_metadata: bool = True
    #: Per group: the declared stream lengths (None: the real ones) and the stream bytes.
    declared: list[list[int] | None] = field(default_factory=list)
    streams: list[list[bytes]] = field(default_factory=list)
    #: Format 4: the latent tile side (u16); None: not written (formats 2 and 3).
    tile: int | None = None


def parse(data: bytes) -> Fields:
    """The fields of a valid file (via the library's parser)."""
    from cvqncodec import container

    h, streams = container.unpack(data)
    meta = [(container.METADATA_KINDS[k], None, v) for k, v in sorted(h.metadata.items())]
    return Fields(
        h.version,
        h.model_name.encode(),
        h.weights_id,
        h.height,
        h.width,
        h.color_channels,
        h.latent_channels,
        h.latent_height,
        h.latent_width,
        [tuple(g) for g in h.groups],
        0 if h.permutation is None else 1,
        list(h.permutation or []),
        meta,
        h.version >= 3,
        [None] * len(streams),
        streams,
        h.tile,
    )


def serialize(f: Fields) -> bytes:
    """The file's bytes (header, streams, CRC32) exactly as the fields say."""
    u8, u16, u32 = (lambda v: v & 0xFF), (lambda v: v & 0xFFFF), (lambda v: v & 0xFFFFFFFF)
    out = bytearray(MAGIC)
    out += struct.pack(">BB", u8(f.version), u8(len(f.name))) + f.name[:255] + f.weights_id
    out += struct.pack(">IIB", u32(f.height), u32(f.width), u8(f.colour))
    out += struct.pack(">HHH", u16(f.channels), u16(f.latent_height), u16(f.latent_width))
    if f.tile is not None:
        out += struct.pack(">H", u16(f.tile))
    out += struct.pack(">B", u8(len(f.groups)))
    for q, c in f.groups[:255]:
        out += struct.pack(">BH", u8(q), u16(c))
    out += struct.pack(">B", u8(f.perm_flag))
    if f.perm_flag == 1:
        out += b"".join(struct.pack(">H", u16(p)) for p in f.perm)
    if f.with_metadata:
        out += struct.pack(">B", u8(len(f.metadata)))
        for tag, declared, value in f.metadata[:255]:
            out += struct.pack(">BI", u8(tag), u32(len(value) if declared is None else declared)) + value
    for declared, group in zip(f.declared, f.streams):
        lengths = [len(s) for s in group] if declared is None else declared
        out += struct.pack(">H", u16(len(lengths))) + b"".join(struct.pack(">I", u32(n)) for n in lengths)
    for group in f.streams:
        out += b"".join(group)
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


# ------------------------------------------------------------------------------------------ mutations
def log_uniform(rng: random.Random, low: int, high: int) -> int:
    """An integer in low..high, uniform in its logarithm."""
    return min(high, max(low, round(math.exp(rng.uniform(math.log(low), math.log(high))))))


def claim_size(rng: random.Random, max_pixels: int) -> tuple[int, int]:
    """A self-consistent image size: any aspect ratio, at most ``max_pixels`` pixels, sides within the format."""
    from cvqncodec.container import MAX_DIMENSION

    long_side = log_uniform(rng, 1, MAX_DIMENSION)
    short_side = log_uniform(rng, 1, max(1, min(MAX_DIMENSION, max_pixels // long_side)))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def random_stream(rng: random.Random, pool: list[bytes]) -> bytes:
    r = rng.random()
    if r < 0.4 and pool:
        return rng.choice(pool)
    if r < 0.55:
        return b""
    return rng.randbytes(rng.choice([1, 2, 3, 8, 64, 512]))


def consistent_streams(f: Fields, rng: random.Random, pool: list[bytes]) -> None:
    """One stream per segment of every tile of every group, as the decoder expects for the header's latent shape."""
    from cvqncodec.container import stream_counts

    f.streams, f.declared = [], []
    for _, c in f.groups:
        if c == 0 or f.latent_height == 0 or f.latent_width == 0:
            n = 1
        elif c * f.latent_height * f.latent_width > 50_000_000:
            n = rng.randint(1, 4)
        else:
            n = stream_counts([(2, c)], f.latent_height, f.latent_width, f.tile if f.tile else None)[0]
        f.streams.append([random_stream(rng, pool) for _ in range(n)])
        f.declared.append(None)


def mutate_size(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    from cvqncodec.container import MAX_DIMENSION, latent_size

    if rng.random() < 0.1:
        f.height, f.width = (rng.choice([0, MAX_DIMENSION + 1, MAX_DIMENSION + 16, 0xFFFFFFFF, 1]) for _ in range(2))
    else:
        f.height, f.width = claim_size(rng, max_pixels)
    if rng.random() < 0.9:
        f.latent_height, f.latent_width = latent_size(f.height, f.width)
    else:
        f.latent_height, f.latent_width = rng.randrange(0x10000), rng.randrange(0x10000)
    if rng.random() < 0.9:
        consistent_streams(f, rng, pool)
    return "size"


def mutate_latent(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    which = rng.choice(["channels", "height", "width"])
    value = rng.choice([0, 1, 2, rng.randrange(0x10000), 0xFFFF])
    setattr(f, {"channels": "channels", "height": "latent_height", "width": "latent_width"}[which], value)
    return "latent"


def mutate_groups(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    if not f.groups:
        f.groups = [(3, 1)]
    r = rng.random()
    if r < 0.3:
        i = rng.randrange(len(f.groups))
        q, c = f.groups[i]
        f.groups[i] = (rng.choice([0, 1, 2, q + 1, 64, 255]), c)
    elif r < 0.6:  # move channels between groups, the sum kept
        i, j = rng.randrange(len(f.groups)), rng.randrange(len(f.groups))
        (qi, ci), (qj, cj) = f.groups[i], f.groups[j]
        k = rng.randint(0, ci)
        if i != j:
            f.groups[i], f.groups[j] = (qi, ci - k), (qj, cj + k)
    elif r < 0.8:
        f.groups = f.groups[: rng.randrange(len(f.groups) + 1)] or f.groups + [(3, 1)]
    else:
        f.groups = [(rng.randrange(256), rng.randrange(0x10000)) for _ in range(rng.choice([0, 1, 3, 16, 255]))]
    f.channels = sum(c for _, c in f.groups) if rng.random() < 0.7 else f.channels
    if rng.random() < 0.7:
        consistent_streams(f, rng, pool)
    else:
        f.streams = (f.streams + [[b""]] * len(f.groups))[: len(f.groups)]
        f.declared = [None] * len(f.streams)
    return "groups"


def mutate_permutation(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    r = rng.random()
    if r < 0.25:
        f.perm_flag = rng.choice([0, 2, 255]) if f.perm_flag == 1 else 1
        f.perm = rng.sample(range(f.channels), f.channels) if f.channels < 4096 else []
    elif r < 0.5:
        f.perm_flag, f.perm = 1, [rng.randrange(f.channels or 1) for _ in range(f.channels)]
    elif r < 0.75:
        f.perm_flag, f.perm = 1, rng.sample(range(f.channels), f.channels) if f.channels < 4096 else []
    else:
        f.perm_flag = 1
        f.perm = f.perm[:-1] if f.perm and rng.random() < 0.5 else f.perm + [rng.randrange(0x10000)]
    return "permutation"


def mutate_streams(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    g = rng.randrange(len(f.streams)) if f.streams else None
    r = rng.random()
    if g is None:
        return "streams"
    if r < 0.3:  # other bytes, lengths consistent
        f.streams[g] = [random_stream(rng, pool) for _ in f.streams[g]]
    elif r < 0.5:  # one stream more or fewer
        f.streams[g] = f.streams[g][:-1] if len(f.streams[g]) > 1 and rng.random() < 0.5 else f.streams[g] + [b"\x55"]
    elif r < 0.7:  # declared lengths that do not add up
        f.declared[g] = [max(0, len(s) + rng.choice([-5, -1, 1, 7, 1 << 20, 0xFFFFFFFF])) for s in f.streams[g]]
    elif r < 0.85:  # a declared stream count of zero
        f.declared[g] = []
    else:  # swap two groups' streams
        h = rng.randrange(len(f.streams))
        f.streams[g], f.streams[h] = f.streams[h], f.streams[g]
    return "streams"


def mutate_header_bytes(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    which = rng.choice(["colour", "version", "name", "weights_id", "tile"])
    if which == "tile":  # out of range, at the range's ends, or dropped / added with the version
        f.tile = rng.choice([None, 0, 1, 15, 16, 64, 256, 257, 0xFFFF])
        f.version = rng.choice([3, 4]) if rng.random() < 0.5 else f.version
    elif which == "colour":
        f.colour = rng.choice([0, 1, 2, 3, 4, 255])
    elif which == "version":
        f.version = rng.choice([0, 1, 2, 3, 4, 255])
        f.with_metadata = rng.random() < 0.5
    elif which == "name":
        f.name = rng.choice([b"", b"\x1b[2J", b"\xff\xfe", "é".encode() * 127, rng.randbytes(rng.randint(1, 255))])
    else:
        f.weights_id = rng.randbytes(8)
    return which


def mutate_metadata(f: Fields, rng: random.Random, pool: list[bytes], max_pixels: int) -> str:
    f.with_metadata = True
    r = rng.random()
    if r < 0.4:  # valid items, known and unknown tags, ascending
        tags = sorted(rng.sample(range(1, 256), rng.randint(1, 4)))
        f.metadata = [(t, None, rng.randbytes(rng.choice([0, 1, 100, 5000]))) for t in tags]
    elif r < 0.6:  # tag 0, duplicates, descending order
        f.metadata = [(rng.choice([0, 1, 1, 2, 3, 200]), None, rng.randbytes(10)) for _ in range(rng.randint(2, 4))]
    elif r < 0.8:  # declared lengths that do not match
        f.metadata = [(1, rng.choice([0, 5, 1 << 20, 0xFFFFFFFF]), rng.randbytes(10))]
    else:  # a count with no items after it
        f.metadata = [(2, None, b"")] * rng.randint(1, 255)
    return "metadata"


MUTATIONS = [
    (mutate_size, 4),
    (mutate_latent, 1),
    (mutate_groups, 2),
    (mutate_permutation, 1),
    (mutate_streams, 2),
    (mutate_header_bytes, 2),
    (mutate_metadata, 1),
]


def structure_case(seed: bytes, rng: random.Random, pool: list[bytes], max_pixels: int) -> tuple[bytes, str]:
    """A seed with 1-3 of its fields changed, rebuilt with a fresh CRC32; and the kinds of change."""
    f = parse(seed)
    kinds = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        fn = rng.choices([m for m, _ in MUTATIONS], weights=[w for _, w in MUTATIONS])[0]
        kinds.append(fn(f, rng, pool, max_pixels))
    return serialize(f), "+".join(sorted(set(kinds)))


def bytes_case(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """1-4 byte-level mutations; half of the mutants get a fresh CRC32."""
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
    crc = len(buf) > 4 and rng.random() < 0.5
    if crc:
        buf[-4:] = struct.pack(">I", zlib.crc32(bytes(buf[:-4])))
    return bytes(buf), "bytes+crc" if crc else "bytes"


# ------------------------------------------------------------------------------------------ the worker
def stage(data: bytes) -> str:
    """How far the library's parser gets with a file."""
    from cvqncodec import container
    from cvqncodec.errors import BitstreamError, MismatchError

    try:
        container.unpack(data)
    except MismatchError:
        return "version"
    except BitstreamError as exc:
        msg = str(exc)
        for key, name in (("magic", "magic"), ("CRC32", "crc"), ("unsupported", "cost limit")):
            if key in msg:
                return name
        return "header"
    return "parsed"


def peak_rss_reset() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def worker(model: str, work: Path, memory_gib: float) -> None:
    """Read case paths from stdin, decode each with `cvq decode`, answer one JSON line per case."""
    from click.testing import CliRunner

    from cvqncodec.cli import main as cvq

    runner = CliRunner()
    out = work / "out.ppm"

    def run(src: Path) -> dict:
        if out.exists():
            out.unlink()
        peak_rss_reset()
        t0 = time.process_time()
        r = runner.invoke(cvq, ["decode", str(src), "-o", str(out), "--model", model, "--quiet"])
        seconds = time.process_time() - t0
        return {
            "exit": r.exit_code,
            "stderr_lines": r.stderr.count("\n"),
            "traceback": "Traceback" in r.output or not isinstance(r.exception, (SystemExit, type(None))),
            "output": out.exists(),
            "seconds": seconds,
            "rss_mib": peak_rss_mib(),
            "message": (r.stderr.strip().splitlines() or [repr(r.exception)])[-1][:300],
        }

    warm = sorted(work.glob("seed-*.cvq"))[0]
    run(warm)  # imports, model and torchac loaded before the limit is set
    if memory_gib > 0:
        limit = address_space() + int(memory_gib * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.stdout.write("@@ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        src = Path(line.strip())
        result = run(src)
        result["stage"] = stage(src.read_bytes())
        sys.stdout.write("@@" + json.dumps(result) + "\n")
        sys.stdout.flush()


class Worker:
    """A worker process, restarted after a hang or a death."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work, self.proc = args, work, None
        self.restarts = 0

    def start(self) -> None:
        cmd = [sys.executable, __file__, "--worker", "--model", self.args.model, "--work", str(self.work)]
        cmd += ["--memory-gib", str(self.args.memory_gib)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        if self.read(600) != "ready":
            raise RuntimeError("the fuzz worker did not start")

    def read(self, timeout: float) -> str | None:
        """The next protocol line (without '@@'), or None on timeout or death."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None
            if line.startswith("@@"):
                return line[2:].strip()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cpu_seconds(self) -> float:
        """CPU time the worker has used (user + system), from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def over(self, cpu0: float, wall0: float) -> bool:
        return self.cpu_seconds() - cpu0 > self.args.timeout or time.monotonic() - wall0 > 10 * self.args.timeout

    def run(self, src: Path) -> dict:
        """One case; a hang is a case over --timeout seconds of CPU time (or 10x that of wall-clock time:
        the limit holds on a busy machine too)."""
        if self.proc is None:
            self.start()
        cpu0, wall0 = self.cpu_seconds(), time.monotonic()
        self.proc.stdin.write(f"{src}\n")
        self.proc.stdin.flush()
        line = None
        while line is None and self.proc.poll() is None and not self.over(cpu0, wall0):
            line = self.read(0.5)
        if line is None:
            died = self.proc.poll() is not None
            code = self.proc.returncode
            self.stop()
            self.restarts += 1
            return {"outcome": "crash" if died else "hang", "message": f"worker died ({code})" if died else ""}
        return json.loads(line)


# ------------------------------------------------------------------------------------------ the run
def classify(r: dict) -> str:
    if "outcome" in r:
        return r["outcome"]
    if r["exit"] == 0 and r["output"] and r["stderr_lines"] == 0 and not r["traceback"]:
        return "decoded"
    if r["exit"] in (4, 5) and r["stderr_lines"] == 1 and not r["traceback"] and not r["output"]:
        return "clean error"
    if "out of memory" in r["message"] or "allocate memory" in r["message"]:
        return "memory limit"
    return "crash"


def make_seeds(args: argparse.Namespace, work: Path) -> list[bytes]:
    import torch

    from cvqncodec import codec, container
    from cvqncodec.model import CVQN
    from cvqncodec.presets import get_preset
    from cvqncodec.weights import load_weights, save_weights

    if args.model is None:
        torch.manual_seed(0)
        m = CVQN(get_preset("tiny"))
        for q in m.controller.quantizers:
            q.mu.data *= 0.05
        args.model = str(work / "tiny.safetensors")
        save_weights(m, args.model, "tiny-fuzz")
    loaded = load_weights(args.model)
    seeds = []
    for i, (h, w) in enumerate(SEED_SIZES):
        g = torch.Generator().manual_seed(i)
        data = codec.encode(loaded, torch.rand(1, 3, h, w, generator=g)).data
        if i == len(SEED_SIZES) - 1:  # one seed with metadata (format 3)
            header, streams = container.unpack(data)
            header.metadata = {"icc": b"\x00" * 200, "exif": b"MM\x00*\x00\x00\x00\x08\x00\x00"}
            data = container.pack(header, streams)
        (work / f"seed-{i}.cvq").write_bytes(data)
        seeds.append(data)
    return seeds


def report(args, counts, stages, kinds, slowest, peak, elapsed, leftovers, work) -> str:
    n = sum(counts.values())
    pct = {k: f"{100 * v / n:.1f} %" for k, v in stages.most_common()}
    lines = [
        f"{n} cases ({args.mode}, seed {args.seed}) in {elapsed:.0f} s: {dict(counts)}",
        f"stages (how far the parser got): {dict(stages)} = {pct}",
        f"slowest case {slowest[0]:.2f} s of CPU ({slowest[1]}); largest peak RSS {peak[0]:.0f} MiB ({peak[1]})",
        f"temporary files left: {leftovers}; worker restarts: see above; failures saved in {work}",
    ]
    if args.verbose:
        lines.append(f"by mutation: {dict(kinds)}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["structure", "bytes"], default="structure")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--memory-gib", type=float, default=2.0)
    ap.add_argument("--max-pixels", type=int, default=4_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.model, Path(args.work), args.memory_gib)
        return 0
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="cvq-fuzz-"))
    seeds = make_seeds(args, work)
    pool = [s for seed in seeds for g in parse(seed).streams for s in g]
    w = Worker(args, work)
    counts, stages, kinds = Counter(), Counter(), Counter()
    slowest, peak = (0.0, ""), (0.0, "")
    start = time.time()
    src = work / "in.cvq"
    for i in range(args.count):
        seed = rng.choice(seeds)
        data, kind = (
            structure_case(seed, rng, pool, args.max_pixels) if args.mode == "structure" else bytes_case(seed, rng)
        )
        src.write_bytes(data)
        r = w.run(src)
        outcome = classify(r)
        counts[outcome] += 1
        stages[r.get("stage", outcome)] += 1
        kinds[f"{kind}: {outcome}"] += 1
        if r.get("seconds", 0) > slowest[0]:
            slowest = (r["seconds"], f"case {i}, {kind}, {r['stage']}")
        if r.get("rss_mib", 0) > peak[0]:
            peak = (r["rss_mib"], f"case {i}, {kind}, {r['stage']}")
        if outcome not in ("decoded", "clean error"):
            (work / f"{outcome.replace(' ', '-')}-{i}.cvq").write_bytes(data)
            print(f"{outcome} on case {i} ({kind}): {r.get('exit')} {r.get('message')!r}", file=sys.stderr)
        if args.verbose and i % 500 == 0:
            print(f"{i} cases, {time.time() - start:.0f} s: {dict(counts)}", file=sys.stderr)
    w.stop()
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".out")]
    print(report(args, counts, stages, kinds, slowest, peak, time.time() - start, len(leftovers), work))
    print(f"worker restarts: {w.restarts}")
    bad = counts["crash"] + counts["hang"] + counts["memory limit"]
    return 0 if bad == 0 and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
