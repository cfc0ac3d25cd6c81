"""Image files in and out: mode conversion, size checks and atomic writes. No model code here."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .container import MAX_PIXELS
from .errors import InputError, OutputError

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
    """Decode PNG/JPEG/WebP/... bytes to RGB, converting greyscale, palette, 16-bit and opaque alpha."""
    if not data:
        raise InputError(f"{label}: empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(
                    f"{label}: {w}x{h} is too large ({w * h / 1e6:.0f} MP; the limit is {MAX_PIXELS / 1e6:.0f} MP)"
                )
            im.load()
        except InputError:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise InputError(f"{label}: not a supported image file") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{label}: cannot decode image: {exc}") from None
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


def list_images(folder: str | os.PathLike, limit: int | None = None, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (by extension, sorted by path; sub-folders too with ``recursive``), the
    first ``limit`` of them. InputError for a missing or unreadable folder, or one without images."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{folder}: not a folder")
    try:
        candidates = root.rglob("*") if recursive else root.iterdir()
        files = sorted(
            p for p in candidates if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        )
    except OSError as exc:
        raise InputError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return files[:limit] if limit else files


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


def encode_image(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def format_for(path: str) -> str:
    """Pillow format name from an output path's extension (PNG for stdout or unknown extensions)."""
    ext = Path(path).suffix.lower()
    return (
        {
            ".png": "PNG",
            ".ppm": "PPM",
            ".pgm": "PPM",
            ".bmp": "BMP",
            ".tif": "TIFF",
            ".tiff": "TIFF",
            ".webp": "WEBP",
        }.get(ext, "PNG")
        if path != "-"
        else "PNG"
    )


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


def write_atomic(path: str, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` (stdout for '-') via a temporary file and rename: no half-written files."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    check_output(path, force)
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".part", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
