"""The conventional codecs, in-process through Pillow and its plugins: how each one is called, its quality
sweep, and how it describes itself (versions) in the JSON."""

from __future__ import annotations

import io
import math
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


def _pillow() -> str:
    import PIL

    return f"Pillow {PIL.__version__}"


def _pillow_with(library: str, feature: str) -> str:
    """'Pillow X (libwebp Y)': Pillow and the version of the library it was built with for ``feature``."""
    from PIL import features

    return f"{_pillow()} ({library} {features.version(feature) or '?'})"


def _pillow_lacks(feature: str, library: str) -> str | None:
    """None when this Pillow was built with ``feature``, else why the codec is skipped."""
    from PIL import features

    return None if features.check(feature) else f"this Pillow was built without {library}"


def _pillow_and_plugin(package: str) -> str:
    from importlib.metadata import version

    return f"{_pillow()} + {package} {version(package)}"


def _not_installed(package: str) -> str:
    return f"{package} is not installed (pip install {package})"


def _pillow_has_avif() -> bool:
    from PIL import features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(features.check("avif"))
        except Exception:  # older Pillow: unknown feature
            return False


class Conventional:
    """A Pillow-driven codec and its quality sweep."""

    key = ""
    label = ""
    fmt = ""
    #: pip package that provides it, when it is not Pillow itself.
    package: str | None = None
    chroma = "4:4:4"
    settings: tuple[float, ...] = ()

    def setting_label(self, s: float) -> str:
        return f"q={s}"

    def unavailable(self) -> str | None:
        """None when usable here, else why not (one line)."""
        return None

    def load(self) -> None:
        """Register the Pillow plugin (in every process that codes)."""

    def save_options(self, s: float, image: Image.Image, threads: int | None) -> dict:
        raise NotImplementedError

    def versions(self) -> str:
        return _pillow()

    def description(self) -> str:
        return (
            f"{self.label} via {self.versions()}; {self.chroma}; settings "
            f"{', '.join(self.setting_label(s) for s in self.settings)}"
        )

    def encode(self, image: Image.Image, s: float, threads: int | None = None) -> bytes:
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
        return _pillow_with("libjpeg-turbo", "libjpeg_turbo")


class WebP(Conventional):
    key, label, fmt = "webp", "WebP", "WEBP"
    chroma = "4:2:0 (lossy WebP has no 4:4:4), method 6"
    settings = (0, 5, 10, 20, 35, 50, 65, 80, 90, 95)

    def unavailable(self):
        return _pillow_lacks("webp", "WebP")

    def save_options(self, s, image, threads):
        return {"quality": s, "method": 6}

    def versions(self):
        return _pillow_with("libwebp", "webp")


class JPEG2000(Conventional):
    key, label, fmt = "jpeg2000", "JPEG 2000", "JPEG2000"
    chroma = "4:4:4, 9/7 wavelet, ICT colour transform, raw J2K codestream, target rates"
    #: Target bpp (OpenJPEG's rate control hits them closely).
    settings = (0.03, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5)

    def setting_label(self, s):
        return f"{s:g} bpp"

    def unavailable(self):
        return _pillow_lacks("jpg_2000", "OpenJPEG")

    def save_options(self, s, image, threads):
        bits = 8 * len(image.getbands())
        side = min(image.size)
        return {
            "quality_mode": "rates",
            "quality_layers": [bits / s],
            "irreversible": True,
            "mct": 1 if image.mode == "RGB" else 0,
            "no_jp2": True,
            "num_resolutions": max(1, min(6, int(math.log2(side)) + 1)),
        }

    def versions(self):
        return _pillow_with("OpenJPEG", "jpg_2000")


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
            return f"this Pillow has no AVIF and {_not_installed(self.package)}"
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

            return f"{_pillow()} (libavif {features.version('avif')}; {_avif.codec_versions()})"
        return _pillow_and_plugin(self.package)


class HEIF(Conventional):
    key, label, fmt = "heif", "HEIF (HEVC)", "HEIF"
    package = "pillow-heif"
    chroma = "4:4:4, x265 defaults (HEVC intra, the stand-in for BPG)"
    settings = (0, 5, 10, 15, 20, 30, 40, 50, 60, 70)

    def unavailable(self):
        try:
            import pillow_heif
        except ImportError:
            return _not_installed(self.package)
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
        return (
            f"{_pillow()} + pillow-heif {pillow_heif.__version__} (libheif {info.get('libheif')}, {info.get('HEIF')})"
        )


class JXL(Conventional):
    key, label, fmt = "jxl", "JPEG XL", "JXL"
    package = "pillow-jxl-plugin"
    chroma = "XYB (no chroma subsampling), effort 7"
    settings = (0, 5, 10, 20, 30, 45, 60, 75, 85, 92)

    def unavailable(self):
        try:
            import pillow_jxl  # noqa: F401
        except ImportError:
            return _not_installed(self.package)
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
        return _pillow_and_plugin(self.package)
