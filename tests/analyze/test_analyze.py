"""Channel influence (Sec. 2, Eq. 6) and `cvq analyze`: numerics, report files, dataset mode, bad input."""
import copy
import csv
import io
import json
import math
import sys

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from cvqncodec import report
from cvqncodec.analysis import analyze_images, channel_influence
from cvqncodec.cli import main
from cvqncodec.model import pad_to_multiple
from cvqncodec.train import update_re_importance
from cvqncodec.weights import load_weights

from tests.helpers import image_tensor, make_weights, synthetic_image

SIDE = 161  # MS-SSIM needs >= 161 px per side (metrics.MS_SSIM_MIN_SIDE)


pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def zero_group_model(tiny_model):
    """The tiny model with the quantizers of groups 1 and 3 forced to their middle level, whose mean is
    exactly 0: every channel of these groups is all zero in Z-hat, whatever the image."""
    model = copy.deepcopy(tiny_model.model)
    for g in (0, 2):
        q = model.controller.quantizers[g]
        mid = q.levels // 2
        with torch.no_grad():
            q.mu[mid] = 0.0
            q.pi_logits.fill_(-1e4)
            q.pi_logits[mid] = 1e4
    return model


@pytest.fixture(scope="module")
def zero_group_result(zero_group_model):
    return channel_influence(zero_group_model, image_tensor(SIDE, SIDE, seed=3), rate=True)


def test_zeroing_an_all_zero_channel_costs_exactly_nothing(zero_group_model, zero_group_result):
    r = zero_group_result
    zeroed = (r["group"] != 1).nonzero().flatten().tolist()
    others = (r["group"] == 1).nonzero().flatten().tolist()
    assert len(zeroed) == 4 and len(others) == 4
    assert all(not r["z_hat"][c].any() for c in zeroed)
    for key in ("psnr_loss", "ms_ssim_loss", "ms_ssim_db_loss"):
        assert r[key].shape == (8,)
        assert all(r[key][c].item() == 0.0 for c in zeroed), key
        assert torch.isfinite(r[key][others]).all(), key  # MS-SSIM defined at 161 px
    assert r["z_hat"][others].any()
    assert 0 < r["base_ms_ssim"].item() < 1 and math.isfinite(r["base_psnr"].item())


def test_re_importance_of_eq6_is_the_same_computation(zero_group_model, zero_group_result):
    model = copy.deepcopy(zero_group_model)
    crop = synthetic_image(SIDE, SIDE, seed=3)
    update_re_importance(model, [crop], torch.device("cpu"), size=SIDE)
    expected = zero_group_result["ms_ssim_loss"].float()
    assert torch.equal(model.controller.re_importance, expected)


def test_channel_bits_add_up_to_the_context_model_estimate(tmp_path):
    lm = load_weights(make_weights(tmp_path / "re.safetensors", importance="re", seed=1))
    model = lm.model
    image = image_tensor(40, 72, seed=2)
    r = channel_influence(model, image, rate=True)
    perm = model.controller.fixed_order()
    assert torch.equal(r["permutation"], perm)
    assert not torch.equal(perm, torch.arange(8))  # a real permutation is exercised

    latent = model.quantize(pad_to_multiple(image))
    total, offset = 0.0, 0
    for g, (q, cm, s) in enumerate(zip(model.controller.quantizers, model.context_models, latent.groups)):
        bps = cm.bits_per_symbol(q.dequantize(s[None]), s[None])[0].double()
        total += bps.sum().item()
        for j in range(s.shape[0]):
            c = perm[offset + j].item()
            assert r["group"][c] == g and r["levels"][c] == q.levels
            assert r["bits"][c].item() == pytest.approx(bps[j].sum().item(), rel=1e-9)
        offset += s.shape[0]
    assert r["bits"].sum().item() == pytest.approx(total, rel=1e-9)
    assert (r["bits"] > 0).all()


@pytest.mark.parametrize("h,w,grey", [(1, 1, False), (17, 33, True)])
def test_any_size_and_greyscale(tiny_model, h, w, grey):
    r = channel_influence(tiny_model.model, image_tensor(h, w), rate=True, color_channels=1 if grey else 3)
    assert torch.isfinite(r["psnr_loss"]).all() and torch.isfinite(r["bits"]).all()
    assert torch.isnan(r["ms_ssim_loss"]).all() and torch.isnan(r["ms_ssim_db_loss"]).all()
    assert math.isnan(r["base_ms_ssim"].item())
    assert r["z_hat"].shape == (8, math.ceil(h / 16), math.ceil(w / 16))


def test_averages_over_images(tiny_model):
    model = tiny_model.model
    a, b = image_tensor(20, 30, seed=1), image_tensor(33, 17, seed=2)
    s = analyze_images(model, [("a", a, 3), ("b", b, 3)])
    ra, rb = channel_influence(model, a, rate=True), channel_influence(model, b, rate=True)
    assert torch.allclose(s.bits, (ra["bits"] + rb["bits"]) / 2)
    assert torch.allclose(s.psnr_loss, (ra["psnr_loss"] + rb["psnr_loss"]) / 2)
    assert torch.isnan(s.ms_ssim_db_loss).all() and s.ms_ssim_images == 0
    assert sum(s.group_bits) == pytest.approx(s.total_bits)
    assert s.bpp == pytest.approx((ra["bits"].sum() / 600 + rb["bits"].sum() / 561).item() / 2)


def test_nan_mean_uses_the_images_where_ms_ssim_is_defined():
    from cvqncodec.analysis import _nanmean
    nan = float("nan")
    m = _nanmean([torch.tensor([1.0, nan, nan], dtype=torch.float64), torch.tensor([3.0, 2.0, nan],
                                                                                  dtype=torch.float64)])
    assert m[0].item() == 2.0 and m[1].item() == 2.0 and math.isnan(m[2].item())


@pytest.mark.parametrize("use_matplotlib", [False, True])
def test_influence_png_with_and_without_matplotlib(tiny_model, use_matplotlib):
    if use_matplotlib:
        pytest.importorskip("matplotlib")
    s = analyze_images(tiny_model.model, [("a", image_tensor(24, 40), 3)])
    data = report.influence_png(s, "t", use_matplotlib=use_matplotlib)
    assert Image.open(io.BytesIO(data)).format == "PNG"
    if use_matplotlib:
        data = report._influence_matplotlib([0.1] * 8, [0.2] * 8, [0] * 8, s, ("a", "b"), "t")
        assert Image.open(io.BytesIO(data)).format == "PNG"


def read_report(folder):
    rows = list(csv.DictReader(io.StringIO((folder / "influence.csv").read_text())))
    doc = json.loads((folder / "influence.json").read_text())
    for name in ("channels.png", "influence.png"):
        with Image.open(folder / name) as im:
            im.verify()
            assert im.format == "PNG"
    return rows, doc


@pytest.fixture()
def work(tmp_path, tiny_weights, monkeypatch):
    # As without matplotlib (an optional extra): influence.png is drawn with Pillow.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    Image.fromarray(synthetic_image(SIDE, SIDE + 3, seed=5)).save(tmp_path / "big.png")
    Image.fromarray(synthetic_image(30, 20, seed=6)).save(tmp_path / "small.png")
    return tmp_path, str(tiny_weights)


def test_cli_writes_the_report(work):
    d, w = work
    out = d / "report"
    r = run("analyze", str(d / "big.png"), "--model", w, "-o", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(report.FILES)
    rows, doc = read_report(out)
    assert [int(x["channel"]) for x in rows] == list(range(8))
    assert list(rows[0]) == list(report.CSV_COLUMNS)
    assert all(math.isfinite(float(x[k])) for x in rows for k in report.CSV_COLUMNS)
    assert {int(x["group"]) for x in rows} == {1, 2, 3}
    assert len(doc["channels"]) == 8 and doc["images"] == 1 and doc["ms_ssim_images"] == 1
    assert doc["baseline"]["estimated_bits"] == pytest.approx(sum(float(x["bits"]) for x in rows))
    assert sum(g["bits"] for g in doc["groups"]) == pytest.approx(doc["baseline"]["estimated_bits"])
    summary = (out / "summary.txt").read_text()
    assert r.stdout == summary
    assert "most influential" in summary and "least influential" in summary and "bpp" in summary
    assert len(summary.splitlines()) <= 25

    # A non-empty folder is refused before any work; --force overwrites the report files.
    before = (out / "influence.csv").read_bytes()
    r = run("analyze", str(d / "small.png"), "--model", w, "-o", str(out))
    assert r.exit_code == 6 and "--force" in r.stderr
    assert (out / "influence.csv").read_bytes() == before
    r = run("analyze", "-", "--model", w, "-o", str(out), "--force", "-q",
            input=(d / "small.png").read_bytes())
    assert r.exit_code == 0 and r.stdout == ""
    rows, doc = read_report(out)
    assert doc["image"] == "<stdin>" and doc["ms_ssim_images"] == 0
    assert all(x["ms_ssim_loss"] == "nan" and x["ms_ssim_loss_db"] == "nan" for x in rows)
    assert all(c["ms_ssim_loss_db"] is None for c in doc["channels"])
    assert "n/a" in (out / "summary.txt").read_text()


def test_cli_dataset_mode(work):
    d, w = work
    data = d / "data"
    data.mkdir()
    (d / "small.png").rename(data / "a.png")
    Image.fromarray(synthetic_image(24, 40, seed=7)[:, :, 0]).save(data / "b.png")  # greyscale
    (data / "notes.txt").write_text("not an image, and not read")
    out = d / "nested" / "report"
    r = run("analyze", "--dataset", str(data), "--model", w, "-o", str(out))
    assert r.exit_code == 0, r.output
    rows, doc = read_report(out)
    assert len(rows) == 8
    assert doc["images"] == 2 and doc["ms_ssim_images"] == 0 and doc["image_names"] == ["a.png", "b.png"]
    assert doc["image_sizes"] == [[20, 30], [40, 24]]
    assert all(math.isfinite(float(x["psnr_loss_db"])) and float(x["bits"]) > 0 for x in rows)
    with Image.open(out / "channels.png") as im:  # the first image's latent
        assert im.size[0] > 100
    assert "2 images" in r.stdout


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 30])
def test_bad_input_exit_3_and_no_report(work, content):
    d, w = work
    (d / "bad.png").write_bytes(content)
    r = run("analyze", str(d / "bad.png"), "--model", w, "-o", str(d / "report"))
    assert r.exit_code == 3 and r.stderr.startswith("cvq: error:") and r.stderr.count("\n") == 1
    assert not (d / "report").exists()
    data = d / "data"
    data.mkdir()
    (d / "small.png").rename(data / "a.png")
    (d / "bad.png").rename(data / "b.png")
    r = run("analyze", "--dataset", str(data), "--model", w, "-o", str(d / "report"), "-q")
    assert r.exit_code == 3 and "b.png" in r.stderr
    assert not (d / "report").exists()


def test_missing_inputs_and_usage(work):
    d, w = work
    r = run("analyze", str(d / "nope.png"), "--model", w, "-o", str(d / "rep"))
    assert r.exit_code == 3 and not (d / "rep").exists()
    (d / "empty").mkdir()
    for args in (["--dataset", str(d / "empty")], ["--dataset", str(d / "missing")]):
        r = run("analyze", *args, "--model", w, "-o", str(d / "rep"))
        assert r.exit_code == 3 and not (d / "rep").exists()
    assert run("analyze", "--model", w, "-o", str(d / "rep")).exit_code == 2
    assert run("analyze", str(d / "small.png"), "--dataset", str(d), "-o", str(d / "rep")).exit_code == 2
    (d / "file").write_text("x")
    assert run("analyze", str(d / "small.png"), "--model", w, "-o", str(d / "file")).exit_code == 6
