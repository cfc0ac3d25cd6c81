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
    streams, cdf = encode_group(ev, sym)
    assert len(streams) == 1
    assert torch.equal(decode_group(ev, tuple(sym.shape), streams), sym)
    order, _ = ev.coding_order(tuple(sym.shape))
    ideal = cdf_bits(cdf, sym.reshape(-1)[order]) / 8
    assert ideal <= len(streams[0]) <= ideal * 1.01 + 4


def test_segments_hold_whole_wavefronts_and_round_trip(monkeypatch):
    import cvqncodec.entropy as entropy
    sizes = torch.tensor([1, 2, 3, 5, 8, 13, 4, 1])
    bounds = entropy.segments(sizes, target=6)
    assert bounds == [(0, 6), (6, 19), (19, 32), (32, 37)]
    assert entropy.segments(torch.tensor([2]), target=6) == [(0, 2)]
    monkeypatch.setattr(entropy, "SEGMENT_SYMBOLS", 50)
    torch.manual_seed(3)
    cm = ContextModel(5, 4, 1)
    ev = WavefrontEvaluator(cm, torch.linspace(-2, 2, 5))
    sym = torch.randint(0, 5, (3, 8, 9))
    streams, _ = encode_group(ev, sym)
    assert len(streams) > 2
    assert torch.equal(decode_group(ev, tuple(sym.shape), streams), sym)


def test_out_of_range_symbols_are_refused():
    cm = ContextModel(3, 4, 1)
    ev = WavefrontEvaluator(cm, torch.linspace(-1, 1, 3))
    bad = torch.full((1, 2, 2), 3)
    try:
        encode_group(ev, bad)
    except ValueError:
        return
    raise AssertionError("out-of-range symbol accepted")
