"""Photo metadata on input: EXIF orientation applied (and reset in the EXIF kept), ICC profiles (sRGB ones
dropped: an untagged image means sRGB), EXIF and XMP carried into the .cvq metadata section (docs/FORMAT.md)."""

from __future__ import annotations

import io
import re
import struct

import numpy as np
from PIL import Image

#: EXIF orientation -> (Pillow transpose, what it does), as djxl and every viewer apply it.
ORIENTATIONS = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT, "mirrored left-right"),
    3: (Image.Transpose.ROTATE_180, "rotated 180°"),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, "mirrored top-bottom"),
    5: (Image.Transpose.TRANSPOSE, "transposed"),
    6: (Image.Transpose.ROTATE_270, "rotated 90° clockwise"),
    7: (Image.Transpose.TRANSVERSE, "transversed"),
    8: (Image.Transpose.ROTATE_90, "rotated 90° counter-clockwise"),
}
ORIENTATION_TAG = 0x0112


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 .. 8; 1 when absent or unreadable)."""
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except (OSError, SyntaxError, ValueError, struct.error, TypeError):
        return 1
    return value if isinstance(value, int) and value in ORIENTATIONS else 1


def apply_orientation(im: Image.Image) -> tuple[Image.Image, list[str]]:
    """The image as viewers show it (EXIF orientation applied), and a note when it was turned; a
    tiff:Orientation in the XMP is removed (:func:`image_metadata` resets the EXIF's)."""
    orientation = exif_orientation(im)
    if orientation == 1:
        return im, []
    method, what = ORIENTATIONS[orientation]
    w, h = im.size
    out = im.transpose(method)
    out.info = dict(im.info)
    out.format = im.format
    if "xmp" in out.info:
        out.info["xmp"] = _strip_xmp_orientation(out.info["xmp"])
    return out, [f"EXIF orientation {orientation} applied ({what}): stored {w}x{h}, coded {out.width}x{out.height}"]


def _strip_xmp_orientation(xmp: bytes | str) -> bytes | str:
    for pattern in (r'\s*tiff:Orientation="[0-9]"', r"<tiff:Orientation>[0-9]</tiff:Orientation>"):
        xmp = re.sub(pattern, "", xmp) if isinstance(xmp, str) else re.sub(pattern.encode(), b"", xmp)
    return xmp


def _tiff_exif(raw: bytes) -> bytes:
    """EXIF bytes without JPEG's 'Exif\\0\\0' prefix: a TIFF header and IFDs."""
    return raw[6:] if raw.startswith(b"Exif\x00\x00") else raw


def reset_exif_orientation(raw: bytes) -> bytes | None:
    """EXIF bytes (TIFF structure, any prefix removed) with the orientation of IFD0 set to 1, everything else
    byte for byte; None when the structure cannot be read (the EXIF is then dropped, never rotated twice)."""
    data = bytearray(_tiff_exif(raw))
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, ifd)
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind, n = struct.unpack_from(order + "HHI", data, entry)
            if tag == ORIENTATION_TAG:
                if kind != 3 or n != 1:
                    return None
                struct.pack_into(order + "H", data, entry + 8, 1)
    except struct.error:
        return None
    return bytes(data)


def is_srgb_profile(icc: bytes) -> bool:
    """Whether an RGB ICC profile maps colours as sRGB does (within 2/255 on a 6x6x6 grid, through
    LittleCMS): such a profile is not stored, since an untagged decoded image means sRGB. False when it
    cannot be told (the profile is then kept, which is never wrong)."""
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        v = np.linspace(0, 255, 6).round().astype(np.uint8)
        grid = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
        out = ImageCms.profileToProfile(
            Image.fromarray(grid, "RGB"),
            profile,
            ImageCms.createProfile("sRGB"),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
        )
    except Exception:  # ImportError, PyCMSError, OSError, ...: cannot tell
        return False
    return out is not None and int(np.abs(np.asarray(out, dtype=np.int16) - grid).max()) <= 2


#: Largest metadata item carried (larger ones are dropped with a note).
MAX_METADATA_ITEM = 1 << 24


def image_metadata(im: Image.Image, color_channels: int) -> tuple[dict[str, bytes], list[str]]:
    """The ICC profile (when it describes the coded pixels: RGB, or grey for greyscale), EXIF (orientation
    already reset) and XMP of a decoded image, and notes on what was dropped."""
    notes: list[str] = []
    found: dict[str, bytes] = {}
    icc = im.info.get("icc_profile")
    if icc:
        space = bytes(icc[16:20]).decode("ascii", "replace").strip() if len(icc) >= 128 else "?"
        if space == "RGB" and color_channels == 3 and is_srgb_profile(bytes(icc)):
            notes.append("sRGB ICC profile not stored (decoded images are sRGB)")
        elif space == ("GRAY" if color_channels == 1 else "RGB"):
            found["icc"] = bytes(icc)
        else:
            notes.append(
                f"ICC profile dropped: it is for {space!r} data, the coded pixels are "
                f"{'grey' if color_channels == 1 else 'RGB'}"
            )
    exif = im.info.get("exif")
    if exif:
        exif = reset_exif_orientation(exif)
        if exif is None:
            notes.append("EXIF dropped: not readable")
        else:
            found["exif"] = exif
    xmp = im.info.get("xmp")
    if xmp:
        found["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else bytes(xmp)
    for kind, value in list(found.items()):
        if len(value) > MAX_METADATA_ITEM:
            del found[kind]
            notes.append(f"{kind.upper()} dropped: {len(value)} bytes (the limit is {MAX_METADATA_ITEM})")
    if found:
        notes.append(f"metadata: {', '.join(f'{k.upper()} ({len(v)} bytes)' for k, v in found.items())}")
    return found, notes
