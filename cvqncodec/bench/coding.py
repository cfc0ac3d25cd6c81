"""One image through the real path, measured into Records: a CVQN model (encode -> .cvq bytes -> parse ->
decode) or a conventional codec's whole quality sweep (encode -> bytes in memory -> decode)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .pillow_codecs import Conventional
from .records import Record

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ..imageio import LoadedImage
    from ..model import QuantizedLatent
    from ..weights import LoadedModel

T = TypeVar("T")


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def load_model(path: str, device: str) -> LoadedModel:
    """Load a model onto ``device`` and warm it up, so that one-off first-call costs are not timed."""
    import torch

    from .. import codec, container
    from ..weights import load_weights

    loaded = load_weights(path)
    loaded.model.to(device)
    with torch.no_grad():
        res = codec.encode(loaded, torch.rand(1, 3, 32, 32), 3, device)
        codec.decode(loaded, *container.unpack(res.data), device=device)
    return loaded


def _decode_cvq(loaded: LoadedModel, data: bytes, device: str) -> tuple[torch.Tensor, QuantizedLatent]:
    """What ``cvq decode`` does with a file's bytes: parse, then decode (image, latent)."""
    from .. import codec, container

    header, streams = container.unpack(data)
    return codec.decode(loaded, header, streams, device)


@dataclass
class RoundTrip:
    """One image through a codec's real path: the coded bytes, what decodes from them, the seconds."""

    data: bytes
    #: (1, 3, H, W) in [0, 1] as the codec's decoder writes it (greyscale sources: grey in all three).
    decoded: torch.Tensor
    enc_s: float
    dec_s: float


def cvqn_round_trip(loaded: LoadedModel, img: LoadedImage, device: str) -> RoundTrip:
    """Encode a loaded image to .cvq bytes, parse and decode them; checks that the latent survives."""
    import torch

    from .. import codec
    from ..imageio import as_decoded

    with torch.no_grad():
        res, enc = timed(codec.encode, loaded, img.tensor, img.color_channels, device)
        (rec, latent), dec = timed(_decode_cvq, loaded, res.data, device)
    if not all(
        torch.equal(a.cpu().to(torch.int64), b.cpu().to(torch.int64)) for a, b in zip(res.latent.groups, latent.groups)
    ):
        raise RuntimeError(f"the decoded latent differs from the encoder's ({loaded.name})")
    return RoundTrip(res.data, as_decoded(rec.clamp(0, 1), img.color_channels), enc, dec)  # as `cvq decode` writes


def code_cvqn(loaded: LoadedModel, image: str, label: str, source: str, device: str) -> list[Record]:
    """Code the image file ``image`` with a loaded model: one Record on the curve ``label``."""
    from ..imageio import load_image
    from ..metrics import bpp, chroma_spread, colour_error, ms_ssim, psnr

    img = load_image(image)
    x = img.tensor
    _, _, h, w = x.shape
    try:
        rt = cvqn_round_trip(loaded, img, device)
    except RuntimeError as exc:
        raise RuntimeError(f"{image}: {exc}") from None
    return [
        Record(
            label,
            loaded.name,
            source,
            0.0,
            Path(image).name,
            h,
            w,
            len(rt.data),
            bpp(len(rt.data), h, w),
            psnr(x, rt.decoded),
            ms_ssim(x, rt.decoded),
            rt.enc_s,
            rt.dec_s,
            loaded.weights_id.hex(),
            colour_error(x, rt.decoded),
            chroma_spread(x, rt.decoded),
        )
    ]


def _decode_rgb(data: bytes) -> np.ndarray:
    """Decode an image file's bytes to uint8 (H, W, 3)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return np.array(im if im.mode == "RGB" else im.convert("RGB"))


def conventional_round_trip(
    codec: Conventional, image: Image.Image, setting: float, threads: int | None = None
) -> tuple[bytes, np.ndarray, float, float]:
    """(bytes, decoded uint8 (H, W, 3), encode s, decode s) of a PIL image at one setting of ``codec``."""
    data, enc = timed(codec.encode, image, setting, threads)
    out, dec = timed(_decode_rgb, data)
    if out.shape != (image.height, image.width, 3):
        raise RuntimeError(f"{codec.label} decoded {out.shape} from {(image.height, image.width, 3)}")
    return data, out, enc, dec


def code_conventional(
    codec: Conventional, array: np.ndarray, image_name: str, threads: int | None = None
) -> list[Record]:
    """Run ``codec``'s whole sweep on one uint8 (H, W, 3) image: one Record per setting."""
    from PIL import Image

    from ..imageio import image_from_array
    from ..metrics import bpp, chroma_spread, colour_error, ms_ssim, psnr

    h, w = array.shape[:2]
    ref = image_from_array(array).tensor
    image = Image.fromarray(array)  # no metadata: nothing but the pixels is coded
    records = []
    for i, s in enumerate(codec.settings):
        data, out, enc, dec = conventional_round_trip(codec, image, s, threads)
        rec = image_from_array(out).tensor
        records.append(
            Record(
                codec.label,
                codec.setting_label(s),
                codec.setting_label(s),
                float(i),
                image_name,
                h,
                w,
                len(data),
                bpp(len(data), h, w),
                psnr(ref, rec),
                ms_ssim(ref, rec),
                enc,
                dec,
                colour_error=colour_error(ref, rec),
                chroma_spread=chroma_spread(ref, rec),
            )
        )
    return records
