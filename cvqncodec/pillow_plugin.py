"""A Pillow plugin for ``.cvq`` files: importing this module registers it (as ``import pillow_jxl`` does).

    import cvqncodec.pillow_plugin  # or: cvqncodec.register_pillow()
    from PIL import Image

    with Image.open("photo.cvq") as im:   # header only; pixels are decoded on first use
        im.save("photo.png")
    Image.open("photo.png").save("photo.cvq", quality=3)   # quality 1..5, or model="cvqn-q4" / a file

Opening reads only the header (size, mode); the image is decoded with the model the file names, on the CPU,
when its pixels are first needed. Saving takes ``quality`` (1..5, default 3), ``model`` (a name or weights
file) and ``effort`` (1..9, default 1), as ``cvq encode`` does. Greyscale images come back as mode "L".
Errors of the codec (a corrupt file, a missing model, transparency) are raised as OSError, as Pillow does.
Nothing here imports torch until an image is decoded or saved.
"""

from __future__ import annotations

from typing import IO

from PIL import Image, ImageFile

from . import container
from .errors import CvqError

FORMAT = "CVQ"
EXTENSION = ".cvq"
MIME = "image/x-cvq"


def _accept(prefix: bytes) -> bool:
    return prefix[: len(container.MAGIC)] == container.MAGIC


def _set_mode(im: ImageFile.ImageFile, mode: str) -> None:
    if isinstance(getattr(ImageFile.ImageFile, "mode", None), property):  # Pillow >= 10.1
        im._mode = mode
    else:  # pragma: no cover - older Pillow
        im.mode = mode


class CvqImageFile(ImageFile.ImageFile):
    """A ``.cvq`` file opened by Pillow: the header on open, the pixels through :class:`CvqDecoder`."""

    format = FORMAT
    format_description = "CVQN learned image codec"

    def _open(self) -> None:
        try:
            header, _ = container.unpack(self.fp.read())
        except CvqError as exc:
            raise OSError(f"cannot read .cvq file: {exc}") from exc
        self._size = (header.width, header.height)
        _set_mode(self, "L" if header.color_channels == 1 else "RGB")
        self.info["cvq_model"] = header.model_name
        tile = ("cvq", (0, 0, header.width, header.height), 0, None)
        self.tile = [ImageFile._Tile(*tile) if hasattr(ImageFile, "_Tile") else tile]


class CvqDecoder(ImageFile.PyDecoder):
    """Decodes a whole ``.cvq`` file (read from the image's file object) in one call."""

    _pulls_fd = True

    def decode(self, buffer: bytes) -> tuple[int, int]:
        from . import api

        try:
            image = api.decode(self.fd.read())
        except CvqError as exc:
            raise OSError(f"cannot decode .cvq file: {exc}") from exc
        self.set_as_raw(image.tobytes(), image.mode)
        return -1, 0


def _save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from . import api

    info = im.encoderinfo
    try:
        data = api.encode(im, info.get("quality"), model=info.get("model"), effort=info.get("effort", 1))
    except CvqError as exc:
        raise OSError(f"cannot write .cvq file: {exc}") from exc
    fp.write(data)


def register() -> None:
    """Register the ``.cvq`` opener, saver, extension and MIME type with Pillow (idempotent)."""
    Image.register_open(FORMAT, CvqImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, EXTENSION)
    Image.register_mime(FORMAT, MIME)
    Image.register_decoder("cvq", CvqDecoder)


register()
