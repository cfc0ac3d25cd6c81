"""cvqncodec from Python: ``encode(image) -> bytes`` and ``decode(data) -> PIL.Image``.

The same pipeline as ``cvq encode`` / ``cvq decode`` (:mod:`cvqncodec.codec`, images read by
:mod:`cvqncodec.imageio`), so the bytes are a ``.cvq`` file any ``cvq`` decodes. Models are loaded once per
weights file and device and kept (:func:`load_model`). Failures raise the exceptions of
:mod:`cvqncodec.errors` (InputError, BitstreamError, MismatchError, ModelError), ValueError for bad arguments.

    import cvqncodec
    data = cvqncodec.encode("photo.png", quality=3)   # or a PIL image, or a uint8 array
    image = cvqncodec.decode(data)                      # PIL image, mode "RGB" (or "L" for greyscale)
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from .imageio import LoadedImage
    from .weights import LoadedModel

#: What :func:`encode` takes: a PIL image, an image file's path or bytes, or an array (uint8 (H, W) or
#: (H, W, 3); anything ``PIL.Image.fromarray`` reads).
ImageLike = Union["Image.Image", str, os.PathLike, bytes, "np.ndarray"]


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, device: str) -> LoadedModel:
    """One weights file on one device, loaded once (a file replaced in place is loaded again)."""
    from .weights import load_weights

    loaded = load_weights(path)
    loaded.model.to(device)
    return loaded


def load_model(model: str | os.PathLike | None = None, quality: int | None = None, device: str = "cpu") -> LoadedModel:
    """The model ``model`` (a name from ``cvq models`` or a ``.safetensors`` file) or the one ``quality``
    (1..5) picks, by default cvqn-q3; loaded on first use and cached by file and device."""
    from .zoo import QUALITIES, quality_model, resolve_model

    if model is not None and quality is not None:
        raise ValueError("give model or quality, not both")
    if quality is not None and quality not in QUALITIES:
        raise ValueError(f"quality must be {QUALITIES[0]}..{QUALITIES[-1]}, not {quality!r}")
    path = resolve_model(os.fspath(model) if model is not None else (quality_model(quality) if quality else None))
    mtime = path.stat().st_mtime_ns if path.is_file() else 0
    return _load(str(path.resolve()), mtime, device)


def _given_or_loaded(model, quality: int | None, device: str) -> LoadedModel:
    """``model`` itself when it is a loaded model, else :func:`load_model`'s."""
    from .weights import LoadedModel

    if not isinstance(model, LoadedModel):
        return load_model(model, quality, device)
    if quality is not None:
        raise ValueError("give model or quality, not both")
    return model


def _model_named(name: str, device: str) -> LoadedModel:
    """The installed model a .cvq header names (by name only: a file never picks a path to load)."""
    from .zoo import resolve_model

    path = resolve_model(name, allow_path=False)
    return _load(str(path.resolve()), path.stat().st_mtime_ns, device)


def to_loaded_image(image: ImageLike) -> LoadedImage:
    """Any :data:`ImageLike` as the codec's input, converted as ``cvq encode`` converts files."""
    from PIL import Image

    from .imageio import decode_image, image_from_pil, load_image

    if isinstance(image, Image.Image):
        return image_from_pil(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image))
    if isinstance(image, (str, os.PathLike)):
        return load_image(os.fspath(image))
    try:
        im = Image.fromarray(image)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"cannot encode a {type(image).__name__}: {exc}") from None
    return image_from_pil(im)


def encode(
    image: ImageLike,
    quality: int | None = None,
    *,
    model: str | os.PathLike | LoadedModel | None = None,
    effort: int = 1,
    device: str = "cpu",
) -> bytes:
    """Encode an image into ``.cvq`` bytes: ``quality`` 1 (smallest) .. 5 (best), default 3, or a ``model``
    (name, weights file or :func:`load_model`'s result); ``effort`` > 1 refines the latent for this image
    (slower, smaller for the same quality; the format does not change)."""
    import torch

    from . import codec
    from .container import MAX_PIXELS
    from .errors import InputError

    img = to_loaded_image(image)
    _, _, h, w = img.tensor.shape
    if h * w > MAX_PIXELS:
        raise InputError(f"{w}x{h} is too large (the limit is {MAX_PIXELS / 1e6:.0f} MP)")
    loaded = _given_or_loaded(model, quality, device)
    if effort != 1:
        from .refine import RefineSettings

        return codec.encode(
            loaded, img.tensor, img.color_channels, device, refine=RefineSettings.for_effort(effort)
        ).data
    with torch.no_grad():
        return codec.encode(loaded, img.tensor, img.color_channels, device).data


def decode(
    data: bytes | str | os.PathLike, *, model: str | os.PathLike | LoadedModel | None = None, device: str = "cpu"
) -> Image.Image:
    """Decode ``.cvq`` bytes (or a ``.cvq`` file's path) into a PIL image: mode "RGB", or "L" for a greyscale
    original. The model is the installed one the file names, unless ``model`` is given."""
    import torch
    from PIL import Image

    from . import codec, container
    from .imageio import read_bytes, to_uint8

    raw = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else read_bytes(os.fspath(data))
    header, streams = container.unpack(raw)
    if model is None:
        loaded = _model_named(header.model_name, device)
    else:
        loaded = _given_or_loaded(model, None, device)
    with torch.no_grad():
        image, _ = codec.decode(loaded, header, streams, device)
    return Image.fromarray(to_uint8(image, header.color_channels))


def clear_cache() -> None:
    """Forget the loaded models (frees their memory)."""
    _load.cache_clear()


__all__ = ["ImageLike", "clear_cache", "decode", "encode", "load_model", "to_loaded_image"]
