import torch

from cvqncodec.context import ContextModel, WavefrontEvaluator
from cvqncodec.entropy import cdf_bits, decode_group, encode_group, probabilities_to_cdf


def test_cdf_keeps_every_level_and_is_contiguous():
    probs = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1 / 3, 1 / 3, 1 / 3], [1e-30, 1 - 2e-30, 1e-30]])
    cdf = probabilities_to_cdf(probs)
    assert cdf.dtype == torch.int16 and cdf.is_contiguous()
    c = cdf.to(torch.int64) & 0xFFFF
    c[:, -1] = 65536
    assert torch.all(c[:, 0] == 0)
    assert torch.all(c[:, 1:] - c[:, :-1] >= 1)


def test_group_round_trip_and_size_matches_cross_entropy():
    torch.manual_seed(0)
    cm = ContextModel(7, 8, 1)
    ev = WavefrontEvaluator(cm, torch.linspace(-3, 3, 7))
    sym = torch.randint(0, 7, (6, 9, 11))
    stream, cdf = encode_group(ev, sym)
    assert torch.equal(decode_group(ev, tuple(sym.shape), stream), sym)
    order, _ = ev.coding_order(tuple(sym.shape))
    ideal = cdf_bits(cdf, sym.reshape(-1)[order]) / 8
    assert ideal <= len(stream) <= ideal * 1.01 + 4


def test_out_of_range_symbols_are_refused():
    cm = ContextModel(3, 4, 1)
    ev = WavefrontEvaluator(cm, torch.linspace(-1, 1, 3))
    bad = torch.full((1, 2, 2), 3)
    try:
        encode_group(ev, bad)
    except ValueError:
        return
    raise AssertionError("out-of-range symbol accepted")
