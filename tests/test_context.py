import torch

from cvqncodec import context
from cvqncodec.container import tile_boxes
from cvqncodec.context import KERNEL_OFFSETS, ContextModel, ExactContextEvaluator, causal_offsets


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
    assert flat[idx + 1 :].max() > 0


def integer_model(
    levels: int = 5, filters: int = 8, blocks: int = 2, seed: int = 0
) -> tuple[ContextModel, torch.Tensor]:
    torch.manual_seed(seed)
    cm = ContextModel(levels, filters, blocks)
    mu = torch.linspace(-2, 2, levels)
    cm.build_integer_tables(mu)
    return cm, mu


def wavefront_cdfs(ev: ExactContextEvaluator, sym: torch.Tensor, tile: int | None = None) -> torch.Tensor:
    """The decoder's pass, fed the true symbols tile by tile (and checked to ask for them in coding order)."""
    order, _ = ev.coding_order(tuple(sym.shape), tile)
    in_order = sym.reshape(-1)[order]
    starts = [0]
    for h0, h1, w0, w1 in tile_boxes(sym.shape[1], sym.shape[2], tile):
        starts.append(starts[-1] + sym.shape[0] * (h1 - h0) * (w1 - w0))
    asked = [0] * (len(starts) - 1)

    def provide(k: int, a: int, b: int, cdf_tile: torch.Tensor) -> torch.Tensor:
        assert a == asked[k] and cdf_tile.shape[0] == b
        asked[k] = b
        return in_order[starts[k] + a : starts[k] + b]

    out, cdf = ev.run(tuple(sym.shape), provide, tile)
    assert torch.equal(out, sym) and asked == [b - a for a, b in zip(starts, starts[1:])]
    return cdf


def test_wavefront_and_layer_by_layer_passes_give_identical_cdfs():
    cm, _ = integer_model()
    ev = ExactContextEvaluator(cm)
    sym = torch.randint(0, 5, (4, 6, 7), generator=torch.Generator().manual_seed(1))
    order, sizes = ev.coding_order(tuple(sym.shape))
    assert sum(int(s.sum()) for s in sizes) == sym.numel() and len(sizes) == 1
    cdf = wavefront_cdfs(ev, sym)
    for chunk in (1, 7, 100, 1 << 16):  # any batch layout of the positions
        assert torch.equal(ev.all_cdfs(sym, chunk=chunk), cdf)


def test_tiles_are_coded_independently_and_both_passes_agree(monkeypatch):
    cm, _ = integer_model(blocks=1)
    ev = ExactContextEvaluator(cm)
    sym = torch.randint(0, 5, (3, 37, 45), generator=torch.Generator().manual_seed(4))
    order, sizes = ev.coding_order(tuple(sym.shape), 16)
    assert len(sizes) == 9 and sorted(order.tolist()) == list(range(sym.numel()))
    tiled = wavefront_cdfs(ev, sym, 16)
    assert torch.equal(ev.all_cdfs(sym, 16, chunk=500), tiled)
    monkeypatch.setattr(context, "BATCH_VOXELS", 1)  # one tile per batch: the same integers
    assert len(context.tile_batches(tuple(sym.shape), 16)) == 9
    assert torch.equal(wavefront_cdfs(ev, sym, 16), tiled)
    assert torch.equal(ev.all_cdfs(sym, 16), tiled)
    # Each tile's CDFs are those of the tile coded alone: no context crosses a tile border.
    first = 0
    for h0, h1, w0, w1 in tile_boxes(37, 45, 16):
        alone = ev.all_cdfs(sym[:, h0:h1, w0:w1].contiguous(), None)
        assert torch.equal(tiled[first : first + alone.shape[0]], alone)
        first += alone.shape[0]
    by_position, whole = torch.empty_like(tiled), torch.empty_like(tiled)
    by_position[order] = tiled
    whole[ev.coding_order(tuple(sym.shape), None)[0]] = ev.all_cdfs(sym, None)
    assert not torch.equal(by_position, whole)  # the untiled context differs at the borders


def test_integer_cdfs_follow_the_simulated_network_used_in_training():
    cm, mu = integer_model()
    ev = ExactContextEvaluator(cm)
    sym = torch.randint(0, 5, (3, 5, 6), generator=torch.Generator().manual_seed(2))
    order, _ = ev.coding_order(tuple(sym.shape))
    cdf = ev.all_cdfs(sym).to(torch.int64) & 0xFFFF
    cdf[:, -1] = 65536
    exact = (cdf[:, 1:] - cdf[:, :-1]).double() / 65536
    with torch.no_grad():
        probs = torch.softmax(cm(mu[sym][None])[0].reshape(5, -1).t()[order].double(), dim=1)
    assert (exact - probs).abs().max() < 1e-3


def test_cdfs_do_not_depend_on_the_thread_count():
    cm, _ = integer_model(filters=16, blocks=1)
    ev = ExactContextEvaluator(cm)
    sym = torch.randint(0, 5, (6, 20, 24), generator=torch.Generator().manual_seed(3))
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = wavefront_cdfs(ev, sym, 16)
        torch.set_num_threads(2)
        two = ev.all_cdfs(sym, 16, chunk=333)
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(one, two)


def test_tables_are_required():
    cm = ContextModel(3, 4, 1)
    try:
        ExactContextEvaluator(cm)
    except ValueError:
        return
    raise AssertionError("an evaluator was built without integer tables")
