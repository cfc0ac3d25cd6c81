"""cvqncodec: a learned image codec implementing CVQN (channel-level variable quantization).

Zhong, Akutsu & Aizawa, "Channel-Level Variable Quantization Network for Deep Image Compression",
IJCAI 2020.

From Python: ``cvqncodec.encode(image, quality=3) -> bytes``, ``cvqncodec.decode(data) -> PIL.Image``,
``cvqncodec.load_model(...)`` (:mod:`cvqncodec.api`), and ``cvqncodec.register_pillow()`` or
``import cvqncodec.pillow_plugin`` for ``Image.open("x.cvq")`` / ``im.save("x.cvq")``. They are imported on
first use, so ``import cvqncodec`` stays light (no torch).
"""

__version__ = "0.4.1"

#: Lazily exported names -> (module, attribute).
_LAZY = {
    "encode": ("api", "encode"),
    "decode": ("api", "decode"),
    "load_model": ("api", "load_model"),
    "register_pillow": ("pillow_plugin", "register"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
