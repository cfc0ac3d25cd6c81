"""Models by name: ``cvq models``, $CVQ_WEIGHTS (how a model of one's own decodes its files by name), what
``cvq train`` says about using its result, and ``cvq info`` / ``--help`` without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from cvqncodec import zoo
from cvqncodec.cli import main
from cvqncodec.cli.train import how_to_use
from tests.helpers import make_weights


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_models_lists_the_shipped_models():
    r = run("models", "--json")
    assert r.exit_code == 0
    names = [row["name"] for row in json.loads(r.stdout)]
    assert {zoo.quality_model(q) for q in zoo.QUALITIES} <= set(names)
    assert "$CVQ_WEIGHTS" in run("models", "--help").output


def test_no_models_is_an_error_that_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "weights_dirs", lambda: [tmp_path])
    r = run("models")
    assert r.exit_code == 7 and str(tmp_path) in r.stderr and "$CVQ_WEIGHTS" in r.stderr


def test_own_model_decodes_its_files_by_name_through_cvq_weights(work, tmp_path, monkeypatch):
    d, _ = work
    runs = tmp_path / "runs"
    for sub in ("a", "b"):
        (runs / sub).mkdir(parents=True)
    weights = make_weights(runs / "a" / "model.safetensors", name="mytiny")
    assert run("encode", d / "photo.png", "-m", weights).exit_code == 0
    r = run("decode", d / "photo.cvq", "-o", d / "out.png")
    assert r.exit_code == 7 and "no model named 'mytiny'" in r.stderr and "$CVQ_WEIGHTS" in r.stderr
    monkeypatch.setenv("CVQ_WEIGHTS", os.pathsep.join([str(runs / "b"), str(runs / "a")]))
    r = run("decode", d / "photo.cvq", "-o", d / "out.png")
    assert r.exit_code == 0, r.output
    assert "(mytiny)" in r.stderr
    assert "mytiny" in run("models").stdout


def test_train_says_how_to_use_the_result(tmp_path):
    (tmp_path / "run dir").mkdir()
    weights = make_weights(tmp_path / "run dir" / "model.safetensors", name="mine")
    text = how_to_use(weights)
    assert "model 'mine'" in text
    assert f"-m '{weights}'" in text
    assert f"export CVQ_WEIGHTS='{weights.resolve().parent}'" in text
    assert "no " in how_to_use(tmp_path / "missing.safetensors")


def _imports_torch(args: list[str], tmp_path) -> bool:
    """Run the cvq group in a fresh interpreter: was torch imported?"""
    code = (
        "import sys; from cvqncodec.cli import main\n"
        f"try: main({args!r}, prog_name='cvq')\n"
        "except SystemExit: pass\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return p.stderr.strip().splitlines()[-1] == "True"


def test_info_and_help_do_not_import_torch(work, tmp_path):
    d, w = work
    assert run("encode", d / "photo.png", "-m", w, "--quiet").exit_code == 0
    for args in (["info", str(d / "photo.cvq")], ["--help"], ["encode", "-h"], ["decode", "--help"]):
        assert not _imports_torch(args, tmp_path), args
