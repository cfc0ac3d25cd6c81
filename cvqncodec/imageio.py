"""Image files in and out: mode conversion, size checks and atomic writes. No model code here."""

from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .container import MAX_PIXELS, image_size_problem
from .errors import InputError, OutputError, UsageError
from .photo_metadata import MAX_METADATA_ITEM, apply_orientation, image_metadata

#: Extensions treated as images when a folder is listed (case-insensitive; hidden files are skipped).
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".pgm", ".png", ".pnm", ".ppm", ".tif", ".tiff", ".webp")


@dataclass
class LoadedImage:
    #: (1, 3, H, W) float32 in [0, 1].
    tensor: torch.Tensor
    #: 1 for greyscale sources, 3 for colour.
    color_channels: int
    #: Conversions applied, for --verbose output.
    notes: list[str]
    #: ICC profile, EXIF (orientation reset) and XMP of the source: "icc", "exif", "xmp" -> bytes.
    metadata: dict[str, bytes] = field(default_factory=dict)
    #: What the user should hear about even without --verbose (e.g. frames not coded).
    warnings: list[str] = field(default_factory=list)


def read_bytes(path: str) -> bytes:
    """Read a file, or standard input for '-'."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def image_from_array(array: np.ndarray) -> LoadedImage:
    """uint8 (H, W) or (H, W, 3) array -> LoadedImage."""
    grey = array.ndim == 2
    if grey:
        array = np.repeat(array[:, :, None], 3, axis=2)
    t = torch.from_numpy(np.array(array, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(255.0).unsqueeze(0)
    return LoadedImage(t, 1 if grey else 3, [])


def decode_image(data: bytes, label: str = "input") -> LoadedImage:
    """Decode PNG/JPEG/WebP/... bytes to RGB, converting greyscale, palette, 16-bit and opaque alpha, applying
    the EXIF orientation and keeping the ICC profile, EXIF and XMP (:attr:`LoadedImage.metadata`)."""
    if not data:
        raise InputError(f"{label}: empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's warnings on damaged metadata: the pixels still decode
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        im, frames = open_image(data, label)
        im, notes = apply_orientation(im)
        img = image_from_pil(im, label)
        img.notes = notes + img.notes
        img.metadata, meta_notes = image_metadata(im, img.color_channels)
    img.notes += meta_notes
    if frames > 1 and im.format == "MPO":
        img.notes.append(f"MPO file: the first of {frames} images is coded")
    elif frames > 1:
        img.warnings.append(f"{label}: {frames} frames (animation or pages); only the first is coded")
    return img


def open_image(data: bytes, label: str) -> tuple[Image.Image, int]:
    """The first frame of an image file, loaded, and its number of frames; InputError (exit 3) for anything
    that is not a supported image of a size the format can carry."""
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        problem = image_size_problem(h, w)
        if problem is not None:
            raise InputError(f"{label}: {problem}")
        frames = frame_count(im)
        im.load()
    except (InputError, MemoryError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{label}: {too_large(exc)}") from None
    except UnidentifiedImageError:
        raise InputError(f"{label}: not a supported image file") from None
    except Exception as exc:  # Pillow's plugins raise many types on damaged files (OSError, TypeError, ...)
        raise InputError(f"{label}: cannot decode image: {exc or type(exc).__name__}") from None
    return im, frames


def too_large(exc: Exception) -> str:
    """Pillow's decompression-bomb error as cvq's 'too large' message."""
    m = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(m.group(1)) / 1e6:.0f} MP" if m else "over 89 MP"
    return f"too large ({size}; the limit is {MAX_PIXELS / 1e6:.0f} MP)"


def frame_count(im: Image.Image) -> int:
    """Frames of an animated or multi-page image (1 for still images; 2 when the count cannot be read)."""
    try:
        n = int(getattr(im, "n_frames", 1))
    except (OSError, EOFError, ValueError, SyntaxError, struct.error):
        n = 2
    with contextlib.suppress(OSError, EOFError, ValueError):
        im.seek(0)
    return max(1, n)


def image_from_pil(im: Image.Image, label: str = "image") -> LoadedImage:
    """A loaded PIL image -> LoadedImage, converting greyscale, palette, 16-bit and opaque alpha as
    :func:`decode_image` does (InputError for transparency)."""
    notes: list[str] = []
    mode = im.mode
    if mode == "P" or mode == "PA":
        notes.append("palette image converted to RGB")
        im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
        mode = im.mode
    if mode in ("RGBA", "LA", "La", "RGBa"):
        alpha = np.asarray(im.getchannel("A"))
        if alpha.min() < 255:
            raise InputError(
                f"{label}: image has transparency, which cvq does not code; flatten it onto a background first"
            )
        notes.append("opaque alpha channel dropped")
        im = im.convert("L" if mode.startswith("L") else "RGB")
        mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I") else 1.0
        a = np.clip(np.round(a / peak * 255.0), 0, 255).astype(np.uint8)
        notes.append(f"{mode} samples reduced to 8 bits")
        return _with_notes(image_from_array(a), notes)
    if mode == "1":
        im = im.convert("L")
        mode = "L"
    if mode == "L":
        return _with_notes(image_from_array(np.asarray(im, dtype=np.uint8)), notes)
    if mode != "RGB":
        notes.append(f"{mode} converted to RGB")
        im = im.convert("RGB")
    return _with_notes(image_from_array(np.asarray(im, dtype=np.uint8)), notes)


def _with_notes(img: LoadedImage, notes: list[str]) -> LoadedImage:
    img.notes = notes
    return img


def load_image(path: str) -> LoadedImage:
    return decode_image(read_bytes(path), "<stdin>" if path == "-" else path)


def list_images(
    folder: str | os.PathLike,
    limit: int | None = None,
    recursive: bool = False,
    suffixes: Sequence[str] = IMAGE_SUFFIXES,
    kind: str = "images",
) -> list[Path]:
    """Files of ``folder`` with one of ``suffixes`` (images by default; sorted by path; sub-folders too with
    ``recursive``; hidden files skipped), the first ``limit`` of them. InputError for a missing or unreadable
    folder, or one without such files (``kind`` names them in the message)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{folder}: not a folder")
    try:
        candidates = root.rglob("*") if recursive else root.iterdir()
        files = sorted(
            p for p in candidates if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
        )
    except OSError as exc:
        raise InputError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    if not files:
        raise InputError(f"{folder}: no {kind} ({', '.join(suffixes)})")
    return files[:limit] if limit else files


def readable_images(files: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """The files that load as images (decoded once each, then dropped), and a note for every one that does
    not: ``cvq bench`` and ``cvq analyze --dataset`` skip those instead of stopping. InputError when none is
    left."""
    ok, notes = [], []
    for path in files:
        try:
            load_image(str(path))
        except InputError as exc:
            notes.append(f"skipped {exc}")
        else:
            ok.append(path)
    if files and not ok:
        raise InputError(f"no readable images among {len(files)} files ({notes[0]}{', ...' if len(notes) > 1 else ''})")
    return ok, notes


def as_decoded(x: torch.Tensor, color_channels: int) -> torch.Tensor:
    """A reconstruction (N, 3, H, W) as ``cvq decode`` writes it: greyscale sources become the mean of the
    three channels (repeated in all three, so metrics compare like with like)."""
    if color_channels == 1:
        return x.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    return x


def to_uint8(x: torch.Tensor, color_channels: int = 3) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> uint8 (H, W, 3), or (H, W) for greyscale (mean of the channels)."""
    a = as_decoded(x.detach().float().cpu().clamp(0, 1), color_channels)[0]
    a = torch.round(a * 255.0).to(torch.uint8).permute(1, 2, 0).numpy()
    return a[:, :, 0] if color_channels == 1 else a


#: Output image formats by extension (``cvq decode``): Pillow's format names.
OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".ppm": "PPM",
    ".pnm": "PPM",
    ".pgm": "PPM",
    ".bmp": "BMP",
}
#: How each format is written: JPEG at quality 95 without chroma subsampling, WebP lossless.
SAVE_OPTIONS: dict[str, dict[str, object]] = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}}


def encode_image(array: np.ndarray, fmt: str = "PNG", metadata: dict[str, bytes] | None = None) -> bytes:
    """uint8 (H, W) or (H, W, 3) -> image file bytes in Pillow format ``fmt`` (see SAVE_OPTIONS), with the
    ``metadata`` the format can carry (:func:`writable_metadata`; the rest is left out)."""
    buf = io.BytesIO()
    options = {**SAVE_OPTIONS.get(fmt, {}), **metadata_options(fmt, metadata or {})}
    Image.fromarray(array).save(buf, format=fmt, **options)
    return buf.getvalue()


#: Metadata each output format carries, and the largest item it takes (JPEG: one APP1 marker).
METADATA_FORMATS: dict[str, dict[str, int]] = {
    "PNG": {"icc": MAX_METADATA_ITEM, "exif": MAX_METADATA_ITEM, "xmp": MAX_METADATA_ITEM},
    "JPEG": {"icc": MAX_METADATA_ITEM, "exif": 65533 - 6, "xmp": 65504},
    "WEBP": {"icc": MAX_METADATA_ITEM, "exif": MAX_METADATA_ITEM, "xmp": MAX_METADATA_ITEM},
    "TIFF": {"icc": MAX_METADATA_ITEM, "exif": MAX_METADATA_ITEM, "xmp": MAX_METADATA_ITEM},
}


def writable_metadata(fmt: str, metadata: dict[str, bytes]) -> dict[str, bytes]:
    """The items of ``metadata`` that format ``fmt`` can carry (for a note on the others)."""
    limits = METADATA_FORMATS.get(fmt, {})
    return {k: v for k, v in metadata.items() if v and len(v) <= limits.get(k, -1)}


def metadata_options(fmt: str, metadata: dict[str, bytes]) -> dict[str, object]:
    """Pillow save options writing ``metadata`` (ICC profile, EXIF as TIFF bytes, XMP) in format ``fmt``."""
    items = writable_metadata(fmt, metadata)
    options: dict[str, object] = {}
    if "icc" in items:
        options["icc_profile"] = items["icc"]
    if fmt == "TIFF" and ("exif" in items or "xmp" in items):
        exif = Image.Exif()
        if "exif" in items:
            exif.load(items["exif"])
        if "xmp" in items:
            exif[700] = items["xmp"]
        options["exif"] = exif
    elif fmt == "PNG" and "xmp" in items:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", items["xmp"].decode("utf-8", "replace"), zip=False)
        options["pnginfo"] = info
    elif "xmp" in items:
        options["xmp"] = items["xmp"]
    if "exif" in items and fmt != "TIFF":
        options["exif"] = (b"Exif\x00\x00" if fmt == "JPEG" else b"") + items["exif"]
    return options


def format_of_extension(path: str) -> str | None:
    """Pillow format name for an output path's extension, None for an extension with no format."""
    return OUTPUT_FORMATS.get(Path(path).suffix.lower())


def format_for(path: str) -> str:
    """Pillow format name for an output path ('-': PNG on stdout); UsageError (exit 2) for a missing or
    unknown extension: a file is never written in another format than its name says."""
    if path == "-":
        return "PNG"
    fmt = format_of_extension(path)
    if fmt is None:
        known = ", ".join(sorted(OUTPUT_FORMATS))
        raise UsageError(f"{path}: no image format for extension {Path(path).suffix or '(none)'!r} (use {known})")
    return fmt


def check_output(path: str, force: bool) -> None:
    """Refuse an existing output unless ``force``; call before doing any work."""
    if path == "-":
        return
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{path}: is a directory")
    if p.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force to overwrite)")
    if not p.parent.exists() and str(p.parent) not in ("", "."):
        raise OutputError(f"{path}: folder {p.parent} does not exist")
    check_writable(path)


def check_writable(path: str) -> None:
    """OutputError (exit 6) unless a file can be created next to ``path`` (read-only file system, no
    permission, ...): tried by creating and removing a temporary file, so that no work is wasted."""
    if path == "-":
        return
    folder = Path(path).parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".cvq-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from None


def write_atomic(path: str, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` (stdout for '-') via a temporary file and rename: no half-written files."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    check_output(path, force)
    target = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".part", dir=target.parent or ".")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
