"""``cvq bench``: rate-distortion and speed of CVQN models and conventional codecs over a folder of images.

Numerics and orchestration only (the click command is in ``bench_cli.py``).

Every measurement goes through the real path: CVQN images are encoded to ``.cvq`` bytes, parsed back
with :func:`container.unpack` and decoded; conventional codecs (Pillow and its plugins) are encoded to
and decoded from bytes in memory. bpp is ``len(bytes) * 8 / (H * W)`` of the whole file, headers
included. PSNR and MS-SSIM are measured on the 8-bit RGB values (:mod:`cvqncodec.metrics`).

One *task* is (model, image) or (conventional codec, image: the whole quality sweep); tasks run in this
process (``jobs=1``) or in a pool of spawned workers, each of which loads a model once and keeps it.
"""
from __future__ import annotations

import io
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .errors import CvqError, InputError, ModelError

#: Extensions treated as images when a folder is scanned (case-insensitive; not recursive).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"}
#: Bjøntegaard deltas need at least this many usable points on each curve.
BD_MIN_POINTS = 4


class BenchSetupError(CvqError):
    """A bench option that cannot be honoured here (e.g. --plot without matplotlib): usage error."""
    exit_code = 2


# --------------------------------------------------------------------------------------------------
# Records and rate points
# --------------------------------------------------------------------------------------------------

@dataclass
class Record:
    """One image coded at one setting."""
    codec: str          # curve name: "CVQN", "JPEG", ...
    setting: str        # model name, "q=50", "0.25 bpp", ...
    source: str         # what identifies the rate point: the model file, or the setting
    order: float        # sort key of the setting within its codec
    image: str
    height: int
    width: int
    num_bytes: int
    bpp: float
    psnr: float
    ms_ssim: float | None
    enc_s: float
    dec_s: float
    detail: str = ""    # weights id for CVQN


@dataclass
class Point:
    """Means over the images of one rate point (one model, one codec quality)."""
    codec: str
    setting: str
    source: str
    images: int
    bpp: float
    psnr: float
    ms_ssim: float | None
    enc_s: float
    dec_s: float

    @property
    def ms_ssim_db(self) -> float | None:
        """MS-SSIM in dB of the mean MS-SSIM (what a CompressAI-style plot of the JSON shows)."""
        from .metrics import ms_ssim_db
        return None if self.ms_ssim is None else ms_ssim_db(self.ms_ssim)


def _mean(values: Iterable[float]) -> float:
    v = list(values)
    return float(sum(v) / len(v)) if v else float("nan")


def summarize(records: Sequence[Record], codec_order: Sequence[str] | None = None) -> dict[str, list[Point]]:
    """Group records into rate points: {codec: [Point sorted by mean bpp]}, codecs in ``codec_order``."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r.codec, r.source), []).append(r)
    curves: dict[str, list[Point]] = {}
    for (codec, source), rs in groups.items():
        ms = [r.ms_ssim for r in rs if r.ms_ssim is not None]
        curves.setdefault(codec, []).append(Point(
            codec, rs[0].setting, source, len(rs), _mean(r.bpp for r in rs), _mean(r.psnr for r in rs),
            _mean(ms) if ms else None, _mean(r.enc_s for r in rs), _mean(r.dec_s for r in rs)))
    for codec, points in curves.items():
        labels = [p.setting for p in points]
        for p in points:  # two model files with the same internal name: tell them apart
            if labels.count(p.setting) > 1:
                p.setting = f"{p.setting} ({p.source})"
        points.sort(key=lambda p: p.bpp)
    order = list(codec_order or []) + sorted(c for c in curves if c not in (codec_order or []))
    return {c: curves[c] for c in order if c in curves}


def _json_number(x: float | None) -> float | None:
    """JSON has no inf/NaN: such values are written as null."""
    return None if x is None or not math.isfinite(x) else float(x)


def compressai_results(curves: dict[str, list[Point]], descriptions: dict[str, str]) -> dict | list[dict]:
    """CompressAI-style results: one object per codec, a list of them when there are several."""
    objs = []
    for codec, points in curves.items():
        objs.append({
            "name": codec,
            "description": descriptions.get(codec, codec),
            "results": {
                "bpp": [_json_number(p.bpp) for p in points],
                "psnr-rgb": [_json_number(p.psnr) for p in points],
                "ms-ssim-rgb": [_json_number(p.ms_ssim) for p in points],
                "encoding_time": [_json_number(p.enc_s) for p in points],
                "decoding_time": [_json_number(p.dec_s) for p in points],
            },
        })
    return objs[0] if len(objs) == 1 else objs


# --------------------------------------------------------------------------------------------------
# Bjøntegaard delta rate
# --------------------------------------------------------------------------------------------------

@dataclass
class BDResult:
    #: Average rate difference of test against anchor in percent (negative: test needs fewer bits).
    value: float | None
    #: Why there is no value, or how it was computed.
    note: str
    #: Quality interval the rates were averaged over.
    interval: tuple[float, float] | None = None


def _usable(rates: Sequence[float], dists: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """Points sorted by rate keeping only those better than every lower-rate point (a monotone curve)."""
    pts = sorted((r, d) for r, d in zip(rates, dists)
                 if d is not None and math.isfinite(d) and r is not None and math.isfinite(r) and r > 0)
    out_r, out_d = [], []
    for r, d in pts:
        if not out_d or (d > out_d[-1] and r > out_r[-1]):
            out_r.append(r)
            out_d.append(d)
    return out_r, out_d


def bd_rate_cubic(rate_anchor: Sequence[float], dist_anchor: Sequence[float], rate_test: Sequence[float],
                  dist_test: Sequence[float]) -> float:
    """Bjøntegaard's original BD-rate (VCEG-M33): fit log10(rate) as a cubic polynomial of the quality for
    each curve, integrate both over the common quality interval, return (10^mean difference - 1) x 100 %."""
    la, lt = np.log10(np.asarray(rate_anchor, float)), np.log10(np.asarray(rate_test, float))
    da, dt = np.asarray(dist_anchor, float), np.asarray(dist_test, float)
    pa, pt = np.polyfit(da, la, 3), np.polyfit(dt, lt, 3)
    lo, hi = max(da.min(), dt.min()), min(da.max(), dt.max())
    ia, it = np.polyint(pa), np.polyint(pt)
    avg = ((np.polyval(it, hi) - np.polyval(it, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (hi - lo)
    return float((10.0 ** avg - 1.0) * 100.0)


def bd_rate(rate_anchor: Sequence[float], dist_anchor: Sequence[float | None], rate_test: Sequence[float],
            dist_test: Sequence[float | None], method: str = "akima", names: tuple[str, str] = ("anchor", "test"),
            unit: str = "dB") -> BDResult:
    """BD-rate of the test curve against the anchor (negative: the test codec saves bits).

    Uses the ``bjontegaard`` package (``method``: 'akima', 'pchip' or 'cubic'); without it, the cubic
    polynomial fit of :func:`bd_rate_cubic`. Only curves with >= 4 usable points (monotone in quality)
    that overlap in quality get a value; the rates are averaged over the common quality interval.
    """
    ra, da = _usable(rate_anchor, dist_anchor)
    rt, dt = _usable(rate_test, dist_test)
    for (name, r) in ((names[1], rt), (names[0], ra)):
        if len(r) < BD_MIN_POINTS:
            return BDResult(None, f"{name} has {len(r)} usable point{'s' if len(r) != 1 else ''}, "
                                  f"needs >= {BD_MIN_POINTS}")
    lo, hi = max(da[0], dt[0]), min(da[-1], dt[-1])
    if hi <= lo:
        return BDResult(None, f"no overlap: {names[1]} {dt[0]:.2f}-{dt[-1]:.2f} {unit}, "
                              f"{names[0]} {da[0]:.2f}-{da[-1]:.2f} {unit}")
    try:
        import bjontegaard
    except ImportError:
        bjontegaard = None
    if bjontegaard is None:
        return BDResult(bd_rate_cubic(ra, da, rt, dt), "cubic fit (bjontegaard package not installed)", (lo, hi))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bjontegaard.bd_rate(ra, da, rt, dt, method=method, require_matching_points=False, min_overlap=0)
    return BDResult(float(value), f"bjontegaard {getattr(bjontegaard, '__version__', '?')}, {method}", (lo, hi))


# --------------------------------------------------------------------------------------------------
# Matched-bpp comparison
# --------------------------------------------------------------------------------------------------

@dataclass
class Match:
    ours: str           # our rate point (model)
    codec: str
    images: int
    bpp_ours: float
    bpp_theirs: float
    ms_ssim_diff: float          # mean over images of ours - theirs
    ms_ssim_db_diff: float       # the same in dB


def match_bpp(records: Sequence[Record], ours: str, codecs: Sequence[str]) -> list[Match]:
    """Per image and per rate point of ``ours``, the setting of each codec with the nearest bpp; returns
    the paired MS-SSIM differences (ours - theirs) and both mean bpps, averaged over the images where
    MS-SSIM is defined."""
    from .metrics import ms_ssim_db
    by_image: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        by_image.setdefault((r.codec, r.image), []).append(r)
    ours_points: dict[str, list[Record]] = {}
    for r in records:
        if r.codec == ours:
            ours_points.setdefault(r.source, []).append(r)
    out = []
    for source, rs in ours_points.items():
        for codec in codecs:
            pairs = []
            for r in rs:
                cands = [c for c in by_image.get((codec, r.image), []) if c.ms_ssim is not None]
                if r.ms_ssim is None or not cands:
                    continue
                best = min(cands, key=lambda c: (abs(c.bpp - r.bpp), c.order))
                pairs.append((r, best))
            if not pairs:
                continue
            out.append(Match(rs[0].setting, codec, len(pairs), _mean(a.bpp for a, _ in pairs),
                             _mean(b.bpp for _, b in pairs), _mean(a.ms_ssim - b.ms_ssim for a, b in pairs),
                             _mean(ms_ssim_db(a.ms_ssim) - ms_ssim_db(b.ms_ssim) for a, b in pairs)))
    return out


# --------------------------------------------------------------------------------------------------
# Conventional codecs (in-process, through Pillow and plugins)
# --------------------------------------------------------------------------------------------------

class Conventional:
    """A Pillow-driven codec and its quality sweep."""
    key = ""
    label = ""
    fmt = ""
    #: pip package that provides it, when it is not Pillow itself.
    package: str | None = None
    chroma = "4:4:4"
    settings: tuple = ()

    def setting_label(self, s) -> str:
        return f"q={s}"

    def unavailable(self) -> str | None:
        """None when usable here, else why not (one line)."""
        return None

    def load(self) -> None:
        """Register the Pillow plugin (in every process that codes)."""

    def save_options(self, s, image, threads: int | None) -> dict:
        raise NotImplementedError

    def versions(self) -> str:
        import PIL
        return f"Pillow {PIL.__version__}"

    def description(self) -> str:
        return (f"{self.label} via {self.versions()}; {self.chroma}; settings "
                f"{', '.join(self.setting_label(s) for s in self.settings)}")

    def encode(self, image, s, threads: int | None = None) -> bytes:
        buf = io.BytesIO()
        image.save(buf, format=self.fmt, **self.save_options(s, image, threads))
        return buf.getvalue()


class JPEG(Conventional):
    key, label, fmt = "jpeg", "JPEG", "JPEG"
    chroma = "4:4:4, optimized Huffman tables"
    settings = (1, 5, 10, 15, 20, 30, 45, 60, 75, 90)

    def save_options(self, s, image, threads):
        return {"quality": s, "subsampling": 0, "optimize": True}

    def versions(self):
        from PIL import features
        return f"{super().versions()} (libjpeg-turbo {features.version('libjpeg_turbo') or '?'})"


class WebP(Conventional):
    key, label, fmt = "webp", "WebP", "WEBP"
    chroma = "4:2:0 (lossy WebP has no 4:4:4), method 6"
    settings = (0, 5, 10, 20, 35, 50, 65, 80, 90, 95)

    def unavailable(self):
        from PIL import features
        return None if features.check("webp") else "this Pillow was built without WebP"

    def save_options(self, s, image, threads):
        return {"quality": s, "method": 6}

    def versions(self):
        from PIL import features
        return f"{super().versions()} (libwebp {features.version('webp')})"


class JPEG2000(Conventional):
    key, label, fmt = "jpeg2000", "JPEG 2000", "JPEG2000"
    chroma = "4:4:4, 9/7 wavelet, ICT colour transform, raw J2K codestream, target rates"
    #: Target bpp (OpenJPEG's rate control hits them closely).
    settings = (0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)

    def setting_label(self, s):
        return f"{s:g} bpp"

    def unavailable(self):
        from PIL import features
        return None if features.check("jpg_2000") else "this Pillow was built without OpenJPEG"

    def save_options(self, s, image, threads):
        bits = 8 * len(image.getbands())
        side = min(image.size)
        return {"quality_mode": "rates", "quality_layers": [bits / s], "irreversible": True,
                "mct": 1 if image.mode == "RGB" else 0, "no_jp2": True,
                "num_resolutions": max(1, min(6, int(math.log2(side)) + 1))}

    def versions(self):
        from PIL import features
        return f"{super().versions()} (OpenJPEG {features.version('jpg_2000')})"


def _pillow_has_avif() -> bool:
    from PIL import features
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(features.check("avif"))
        except Exception:  # older Pillow: unknown feature
            return False


class AVIF(Conventional):
    key, label, fmt = "avif", "AVIF", "AVIF"
    package = "pillow-avif-plugin"
    chroma = "4:4:4, speed 6"
    settings = (0, 5, 10, 20, 30, 40, 50, 60, 75, 90)

    def unavailable(self):
        if _pillow_has_avif():
            return None
        try:
            import pillow_avif  # noqa: F401
        except ImportError:
            return "this Pillow has no AVIF and pillow-avif-plugin is not installed (pip install pillow-avif-plugin)"
        return None

    def load(self):
        if not _pillow_has_avif():
            import pillow_avif  # noqa: F401

    def save_options(self, s, image, threads):
        opts = {"quality": s, "subsampling": "4:4:4", "speed": 6}
        if threads:
            opts["max_threads"] = threads
        return opts

    def versions(self):
        if _pillow_has_avif():
            from PIL import _avif, features
            return f"{super().versions()} (libavif {features.version('avif')}; {_avif.codec_versions()})"
        from importlib.metadata import version
        return f"{super().versions()} + pillow-avif-plugin {version('pillow-avif-plugin')}"


class HEIF(Conventional):
    key, label, fmt = "heif", "HEIF (HEVC)", "HEIF"
    package = "pillow-heif"
    chroma = "4:4:4, x265 defaults (HEVC intra, the stand-in for BPG)"
    settings = (0, 5, 10, 15, 20, 30, 40, 50, 60, 70)

    def unavailable(self):
        try:
            import pillow_heif
        except ImportError:
            return "pillow-heif is not installed (pip install pillow-heif)"
        if not pillow_heif.libheif_info().get("HEIF"):
            return "pillow-heif has no HEVC encoder (x265)"
        return None

    def load(self):
        import pillow_heif
        pillow_heif.register_heif_opener()

    def save_options(self, s, image, threads):
        return {"quality": s, "chroma": 444}

    def versions(self):
        import pillow_heif
        info = pillow_heif.libheif_info()
        return (f"{super().versions()} + pillow-heif {pillow_heif.__version__} (libheif {info.get('libheif')}, "
                f"{info.get('HEIF')})")


class JXL(Conventional):
    key, label, fmt = "jxl", "JPEG XL", "JXL"
    package = "pillow-jxl-plugin"
    chroma = "XYB (no chroma subsampling), effort 7"
    settings = (0, 5, 10, 20, 30, 45, 60, 75, 85, 92)

    def unavailable(self):
        try:
            import pillow_jxl  # noqa: F401
        except ImportError:
            return "pillow-jxl-plugin is not installed (pip install pillow-jxl-plugin)"
        return None

    def load(self):
        import pillow_jxl  # noqa: F401

    def save_options(self, s, image, threads):
        opts = {"quality": s, "effort": 7}
        if threads:
            opts["num_threads"] = threads
            from pillow_jxl import JpegXLImagePlugin
            JpegXLImagePlugin.DECODE_THREADS = 0  # 0: no parallelism (the plugin's own convention)
        return opts

    def versions(self):
        from importlib.metadata import version
        return f"{super().versions()} + pillow-jxl-plugin {version('pillow-jxl-plugin')}"


CODECS: dict[str, Conventional] = {c.key: c for c in (JPEG(), WebP(), JPEG2000(), AVIF(), HEIF(), JXL())}
ALIASES = {"jpg": "jpeg", "j2k": "jpeg2000", "jp2": "jpeg2000", "jpeg-2000": "jpeg2000", "openjpeg": "jpeg2000",
           "heic": "heif", "hevc": "heif", "bpg": "heif", "jpegxl": "jxl", "jpeg-xl": "jxl"}


def parse_codecs(text: str | None) -> list[str]:
    """'jpeg,webp' / 'all' -> codec keys (ValueError naming an unknown one)."""
    if not text:
        return []
    out = []
    for name in (t.strip().lower() for t in text.split(",")):
        if not name:
            continue
        if name == "all":
            out.extend(CODECS)
            continue
        key = ALIASES.get(name, name)
        if key not in CODECS:
            raise ValueError(f"unknown codec {name!r} (choose from {', '.join(CODECS)}, or all)")
        out.append(key)
    return list(dict.fromkeys(out))


def code_conventional(codec: Conventional, array: np.ndarray, image_name: str,
                      threads: int | None = None) -> list[Record]:
    """Run ``codec``'s whole sweep on one uint8 (H, W, 3) image."""
    import torch
    from PIL import Image
    from .metrics import bpp, ms_ssim, psnr

    h, w = array.shape[:2]
    ref = torch.from_numpy(array).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
    image = Image.fromarray(array)  # no metadata: nothing but the pixels is coded
    records = []
    for i, s in enumerate(codec.settings):
        start = time.perf_counter()
        data = codec.encode(image, s, threads)
        enc = time.perf_counter() - start
        start = time.perf_counter()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            out = np.array(im if im.mode == "RGB" else im.convert("RGB"))
        dec = time.perf_counter() - start
        if out.shape != array.shape:
            raise RuntimeError(f"{codec.label} decoded {out.shape} from {array.shape}")
        rec = torch.from_numpy(out).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
        records.append(Record(codec.label, codec.setting_label(s), codec.setting_label(s), float(i), image_name,
                              h, w, len(data), bpp(len(data), h, w), psnr(ref, rec), ms_ssim(ref, rec), enc, dec))
    return records


# --------------------------------------------------------------------------------------------------
# Tasks and workers
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    kind: str       # "cvqn" or a key of CODECS
    target: str     # model file for "cvqn"
    image: str      # image path
    label: str      # curve name for "cvqn"


#: Per-process state: device, thread limit and the models loaded so far (each is loaded once).
_STATE: dict = {"device": "cpu", "threads": None, "models": {}}


def init_worker(device: str, threads: int | None) -> None:
    _STATE.update(device=device, threads=threads, models={})
    if threads:
        import torch
        torch.set_num_threads(threads)


def _model(path: str):
    """Load (once per process) and warm up a model: the first call's one-off costs are not timed."""
    lm = _STATE["models"].get(path)
    if lm is None:
        import torch
        from . import codec, container
        from .weights import load_weights
        lm = load_weights(path)
        lm.model.to(_STATE["device"])
        with torch.no_grad():
            res = codec.encode(lm, torch.rand(1, 3, 32, 32), 3, _STATE["device"])
            codec.decode(lm, *container.unpack(res.data), device=_STATE["device"])
        _STATE["models"][path] = lm
    return lm


def code_cvqn(task: Task) -> list[Record]:
    import torch
    from . import codec, container
    from .imageio import load_image
    from .metrics import bpp, ms_ssim, psnr

    lm = _model(task.target)
    dev = _STATE["device"]
    img = load_image(task.image)
    x = img.tensor
    _, _, h, w = x.shape
    with torch.no_grad():
        start = time.perf_counter()
        res = codec.encode(lm, x, img.color_channels, dev)
        enc = time.perf_counter() - start
        start = time.perf_counter()
        header, streams = container.unpack(res.data)
        rec, latent = codec.decode(lm, header, streams, dev)
        dec = time.perf_counter() - start
    if not all(torch.equal(a.cpu().to(torch.int64), b.cpu().to(torch.int64))
               for a, b in zip(res.latent.groups, latent.groups)):
        raise RuntimeError(f"{task.image}: the decoded latent differs from the encoder's ({lm.name})")
    rec = rec.clamp(0, 1)
    if img.color_channels == 1:  # what `cvq decode` writes: the mean of the channels, as greyscale
        rec = rec.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return [Record(task.label, lm.name, task.target, 0.0, Path(task.image).name, h, w, len(res.data),
                   bpp(len(res.data), h, w), psnr(x, rec), ms_ssim(x, rec), enc, dec, lm.weights_id.hex())]


def run_task(task: Task) -> list[Record]:
    """Worker entry point (module level so that spawned processes can import it)."""
    if task.kind == "cvqn":
        return code_cvqn(task)
    from .imageio import load_image, to_uint8
    codec = CODECS[task.kind]
    codec.load()
    img = load_image(task.image)
    return code_conventional(codec, to_uint8(img.tensor, 3), Path(task.image).name, _STATE["threads"])


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------

def list_images(folder: str | os.PathLike, limit: int | None = None) -> list[Path]:
    """Image files directly in ``folder`` (by extension), sorted by name; the first ``limit`` of them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files[:limit] if limit else files


def default_models() -> list[Path]:
    from .zoo import available_models
    models = available_models()
    if not models:
        raise ModelError("no shipped models found (weights/, $CVQ_WEIGHTS, <prefix>/share/cvqncodec/weights); "
                         "give --model NAME|PATH")
    return list(models.values())


def resolve_models(names: Sequence[str]) -> list[Path]:
    from .zoo import resolve_model
    paths = []
    for name in names:
        p = resolve_model(name)
        if not p.is_file():
            raise ModelError(f"weights file not found: {p}")
        paths.append(p.resolve())
    return list(dict.fromkeys(paths))


@dataclass
class BenchResult:
    images: list[Path]
    records: list[Record]
    curves: dict[str, list[Point]]
    descriptions: dict[str, str]
    ours: str
    codecs: list[str] = field(default_factory=list)  # labels of the conventional codecs run


def available_codecs(keys: Sequence[str], note: Callable[[str], None]) -> list[str]:
    """The codecs of ``keys`` usable here; a one-line note for each skipped one."""
    out = []
    for key in keys:
        reason = CODECS[key].unavailable()
        if reason:
            note(f"cvq bench: skipping {key}: {reason}")
        else:
            out.append(key)
    return out


def run_bench(images: Sequence[Path], models: Sequence[Path], codecs: Sequence[str], *, name: str = "CVQN",
              device: str = "cpu", jobs: int = 1, progress: bool = True) -> BenchResult:
    """Code every image with every model and codec (``codecs``: available CODECS keys)."""
    from tqdm import tqdm

    tasks = [Task("cvqn", str(m), str(img), name) for m in models for img in images]
    tasks += [Task(key, key, str(img), CODECS[key].label) for key in codecs for img in images]
    records: list[Record] = []
    bar = tqdm(total=len(tasks), desc="cvq bench", unit="task", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, leave=False)
    try:
        if jobs <= 1:
            saved = dict(_STATE)
            init_worker(device, None)
            try:
                for t in tasks:
                    records.extend(run_task(t))
                    bar.update()
            finally:
                _STATE.clear()
                _STATE.update(saved)
        else:
            import multiprocessing
            if models:  # compile torchac's backend once here rather than in every worker at once
                from .entropy import torchac_module
                torchac_module()
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(jobs, initializer=init_worker, initargs=(device, 1)) as pool:
                for recs in pool.imap_unordered(run_task, tasks, chunksize=1):
                    records.extend(recs)
                    bar.update()
    finally:
        bar.close()
    labels = [CODECS[k].label for k in codecs]
    curves = summarize(records, [name] + labels)
    # Per-image rows in the order of the tables: codec, rate point (by mean bpp), image.
    rank = {(c, p.source): (i, j) for i, (c, points) in enumerate(curves.items()) for j, p in enumerate(points)}
    order = {Path(p).name: i for i, p in enumerate(images)}
    records.sort(key=lambda r: (rank[(r.codec, r.source)], order.get(r.image, 0)))
    from . import __version__
    ids = {}
    for r in records:
        if r.codec == name:
            ids.setdefault(r.setting, r.detail)
    descriptions = {name: f"cvqncodec {__version__} on {device}: " + ", ".join(
        f"{s} (weights {i})" for s, i in ids.items())}
    for k in codecs:
        descriptions[CODECS[k].label] = CODECS[k].description()
    return BenchResult(list(images), records, curves, descriptions, name, labels)


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------

def _fmt(x: float | None, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Fixed-width text table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def summary_table(curves: dict[str, list[Point]]) -> str:
    rows = [[p.codec, p.setting, str(p.images), _fmt(p.bpp, 4), _fmt(p.psnr, 2), _fmt(p.ms_ssim, 4),
             _fmt(p.ms_ssim_db, 2), _fmt(p.enc_s, 3), _fmt(p.dec_s, 3)]
            for points in curves.values() for p in points]
    return format_table(["codec", "setting", "images", "bpp", "PSNR", "MS-SSIM", "MS-SSIM dB", "enc s", "dec s"],
                        rows, left=2)


def per_image_table(records: Sequence[Record]) -> str:
    from .metrics import ms_ssim_db
    rows = [[r.codec, r.setting, r.image, str(r.num_bytes), _fmt(r.bpp, 4), _fmt(r.psnr, 2), _fmt(r.ms_ssim, 4),
             _fmt(None if r.ms_ssim is None else ms_ssim_db(r.ms_ssim), 2), _fmt(r.enc_s, 3), _fmt(r.dec_s, 3)]
            for r in records]
    return format_table(["codec", "setting", "image", "bytes", "bpp", "PSNR", "MS-SSIM", "MS-SSIM dB", "enc s",
                         "dec s"], rows, left=3)


def match_table(matches: Sequence[Match], ours: str) -> str:
    rows = [[m.ours, m.codec, str(m.images), _fmt(m.bpp_ours, 4), _fmt(m.bpp_theirs, 4), f"{m.ms_ssim_diff:+.4f}",
             f"{m.ms_ssim_db_diff:+.2f}"] for m in matches]
    return format_table([ours, "codec", "images", "bpp ours", "bpp theirs", "dMS-SSIM", "dMS-SSIM dB"], rows, left=2)


def bd_rates(curves: dict[str, list[Point]], ours: str, codecs: Sequence[str], method: str = "akima"
             ) -> list[tuple[str, BDResult, BDResult]]:
    """(codec, BD-rate in MS-SSIM dB, BD-rate in PSNR) of our curve against each codec's."""
    mine = curves.get(ours, [])
    out = []
    for codec in codecs:
        theirs = curves.get(codec, [])
        res = []
        for attr, unit in (("ms_ssim_db", "dB"), ("psnr", "dB")):
            res.append(bd_rate([p.bpp for p in theirs], [getattr(p, attr) for p in theirs],
                               [p.bpp for p in mine], [getattr(p, attr) for p in mine], method,
                               names=(codec, ours), unit=unit))
        out.append((codec, res[0], res[1]))
    return out


def _bd_cell(r: BDResult) -> str:
    if r.value is None:
        return f"n/a ({r.note})"
    return f"{r.value:+.1f} % (over {r.interval[0]:.2f}-{r.interval[1]:.2f} dB)"


def bd_table(rows: Sequence[tuple[str, BDResult, BDResult]], ours: str) -> str:
    notes = sorted({r.note for _, a, b in rows for r in (a, b) if r.value is not None})
    table = format_table(["anchor", f"BD-rate of {ours}, MS-SSIM dB", "BD-rate, PSNR"],
                         [[c, _bd_cell(a), _bd_cell(b)] for c, a, b in rows], left=3)
    return table + ("\n(negative: fewer bits for the same quality; " + "; ".join(notes) + ")" if notes else "")


def report(result: BenchResult, folder: str, per_image: bool = False, matched: bool = False,
           bd_method: str = "akima") -> str:
    """Everything printed on stdout."""
    n = len(result.images)
    parts = [f"Means over {n} image{'s' if n != 1 else ''} of {folder}; MS-SSIM dB = -10 log10(1 - mean MS-SSIM).",
             summary_table(result.curves)]
    if per_image:
        parts += ["", "Per image:", per_image_table(result.records)]
    if result.codecs and result.ours in result.curves:
        if matched:
            parts += ["", f"Matched bpp (per image, the setting of each codec nearest to {result.ours}'s bpp; "
                          "differences are ours - theirs):",
                      match_table(match_bpp(result.records, result.ours, result.codecs), result.ours)]
        parts += ["", "Bjøntegaard delta rate:", bd_table(bd_rates(result.curves, result.ours, result.codecs,
                                                                    bd_method), result.ours)]
    return "\n".join(parts)


def results_json(result: BenchResult) -> str:
    return json.dumps(compressai_results(result.curves, result.descriptions), indent=2) + "\n"


def check_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BenchSetupError("--plot needs matplotlib (pip install matplotlib, or 'cvqncodec[bench]')") from None


def plot(curves: dict[str, list[Point]], ours: str, title: str = "", fmt: str = "png") -> bytes:
    """MS-SSIM (dB) vs bpp and PSNR vs bpp for every codec; the figure as bytes in ``fmt``."""
    check_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for codec, points in curves.items():
        mine = codec == ours
        style = dict(marker="o", linewidth=2.2 if mine else 1.2, markersize=5 if mine else 3.5, label=codec,
                     zorder=3 if mine else 2)
        ms = [(p.bpp, p.ms_ssim_db) for p in points if p.ms_ssim_db is not None and math.isfinite(p.ms_ssim_db)]
        if ms:
            axes[0].plot(*zip(*ms), **style)
        ps = [(p.bpp, p.psnr) for p in points if math.isfinite(p.psnr)]
        if ps:
            axes[1].plot(*zip(*ps), **style)
    # The range of interest: up to 1.5 x our highest rate (at least 1 bpp); higher-rate tails are cut.
    top = max((p.bpp for p in curves.get(ours, [])), default=0.0)
    most = max((p.bpp for points in curves.values() for p in points), default=1.0)
    for ax, ylabel in zip(axes, ("MS-SSIM (dB)", "PSNR RGB (dB)")):
        if most > max(1.0, 1.5 * top):
            ax.set_xlim(0, max(1.0, 1.5 * top))
        ax.set_xlabel("bpp")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150)
    return buf.getvalue()
