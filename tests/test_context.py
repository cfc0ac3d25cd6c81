import torch

from cvqncodec.context import KERNEL_OFFSETS, ContextModel, WavefrontEvaluator, causal_offsets


def test_every_causal_tap_lowers_the_wavefront_index():
    def t(o):
        return 4 * o[0] + 2 * o[1] + o[2]
    assert all(t(o) <= -1 for o in causal_offsets("A"))
    assert all(t(o) <= 0 for o in causal_offsets("B"))
    assert len(causal_offsets("A")) == 13 and len(causal_offsets("B")) == 14
    assert len(KERNEL_OFFSETS) == 27


def test_masked_model_is_causal_in_raster_order():
    torch.manual_seed(0)
    cm = ContextModel(5, 6, 1)
    v = torch.randn(1, 3, 4, 5)
    base = cm(v)
    c, h, w = 1, 2, 2
    v2 = v.clone()
    v2[0, c, h, w] += 1.0  # change one position: only later positions may change
    diff = (cm(v2) - base).abs().amax(dim=1)[0]
    flat = diff.reshape(-1)
    idx = (c * 4 + h) * 5 + w
    assert torch.all(flat[: idx + 1] == 0)
    assert flat[idx + 1:].max() > 0


def test_wavefront_evaluator_matches_dense_convolution():
    torch.manual_seed(0)
    cm = ContextModel(5, 8, 2)
    mu = torch.linspace(-2, 2, 5)
    ev = WavefrontEvaluator(cm, mu)
    sym = torch.randint(0, 5, (4, 6, 7))
    order, sizes = ev.coding_order(tuple(sym.shape))
    assert int(sizes.sum()) == sym.numel()
    in_order = sym.reshape(-1)[order]
    out, cdf = ev.run(tuple(sym.shape), lambda a, b, _c: in_order[a:b])
    assert torch.equal(out, sym)
    with torch.no_grad():
        probs = torch.softmax(cm(mu[sym][None]), dim=1)[0]  # (L, C, H, W)
    from cvqncodec.entropy import probabilities_to_cdf
    dense = probabilities_to_cdf(probs.reshape(5, -1).t()[order])
    # Mathematically equal; float rounding may move a CDF entry by one unit at most.
    assert (dense.int() - cdf.int()).abs().max() <= 1
