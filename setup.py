"""Build script. The metadata is in setup.cfg; this adds the top-level ``weights/`` folder as package data
(installed as ``cvqncodec/weights_data/``, found with importlib.resources, so every install scheme has the
models: a venv, ``--user``, ``--target``, distro layouts)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["cvqncodec", "cvqncodec.*"]) + ["cvqncodec.weights_data"],
    package_dir={"cvqncodec.weights_data": "weights"},
    package_data={"cvqncodec.weights_data": ["*.safetensors", "*.md"]},
)
