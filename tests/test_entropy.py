import pytest
import torch

from cvqncodec.context import ContextModel, ExactContextEvaluator
from cvqncodec.entropy import cdf_bits, decode_group, encode_group
from cvqncodec.errors import BitstreamError
from cvqncodec.fixed_point import exp_table, logits_to_cdf


def test_cdf_keeps_every_level_and_is_contiguous():
    logits = torch.tensor([[0, -5000, -5000], [-9000, 0, 0], [7, 7, 7], [3, 1 << 40, -(1 << 40)]])
    cdf = logits_to_cdf(logits, exp_table())
    assert cdf.dtype == torch.int16 and cdf.is_contiguous()
    c = cdf.to(torch.int64) & 0xFFFF
    c[:, -1] = 65536
    assert torch.all(c[:, 0] == 0)
    assert torch.all(c[:, 1:] - c[:, :-1] >= 1)
    assert torch.equal(c[2], torch.tensor([0, 21845, 43691, 65536]))  # equal logits: equal masses


def built(levels: int, filters: int, seed: int) -> ContextModel:
    torch.manual_seed(seed)
    cm = ContextModel(levels, filters, 1)
    cm.build_integer_tables(torch.linspace(-(levels - 1) / 2, (levels - 1) / 2, levels))
    return cm


def test_group_round_trip_and_size_matches_cross_entropy():
    torch.manual_seed(0)
    ev = ExactContextEvaluator(built(7, 8, 0))
    sym = torch.randint(0, 7, (6, 9, 11))
    streams, cdf = encode_group(ev, sym)
    assert len(streams) == 1
    assert torch.equal(decode_group(ev, tuple(sym.shape), streams), sym)
    order, _ = ev.coding_order(tuple(sym.shape))
    ideal = cdf_bits(cdf, sym.reshape(-1)[order]) / 8
    assert ideal <= len(streams[0]) <= ideal * 1.01 + 4


def test_segments_and_tiles_round_trip(monkeypatch):
    from cvqncodec import container

    monkeypatch.setattr(container, "SEGMENT_SYMBOLS", 50)
    monkeypatch.setattr(container, "UNTILED_SEGMENT_SYMBOLS", 40)
    torch.manual_seed(3)
    ev = ExactContextEvaluator(built(5, 4, 3))
    sym = torch.randint(0, 5, (3, 20, 37))
    for tile in (None, 16):
        streams, _ = encode_group(ev, sym, tile)
        assert len(streams) == container.stream_counts([(5, 3)], 20, 37, tile)[0] > 6
        assert torch.equal(decode_group(ev, tuple(sym.shape), streams, tile), sym)
    with pytest.raises(BitstreamError, match="expected"):
        decode_group(ev, tuple(sym.shape), streams[:-1], 16)


def test_out_of_range_symbols_are_refused():
    ev = ExactContextEvaluator(built(3, 4, 0))
    bad = torch.full((1, 2, 2), 3)
    try:
        encode_group(ev, bad)
    except ValueError:
        return
    raise AssertionError("out-of-range symbol accepted")
