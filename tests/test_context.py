import torch

from cvqncodec import container
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
    """The decoder's pass, fed the true symbols run by run (and checked to ask for them in coding order)."""
    order, sizes = ev.coding_order(tuple(sym.shape), tile)
    in_order = sym.reshape(-1)[order]
    starts = [0, *torch.tensor([int(s.sum()) for s in sizes]).cumsum(0).tolist()]
    asked = [0] * len(sizes)

    def provide(k: int, a: int, b: int, cdf_run: torch.Tensor) -> torch.Tensor:
        assert a == asked[k] and cdf_run.shape[0] == b
        asked[k] = b
        return in_order[starts[k] + a : starts[k] + b]

    out, cdf = ev.run(tuple(sym.shape), provide, tile)
    assert torch.equal(out, sym) and asked == [b - a for a, b in zip(starts, starts[1:])]
    return cdf


def by_position(ev: ExactContextEvaluator, sym: torch.Tensor, cdf: torch.Tensor, tile: int | None) -> torch.Tensor:
    """CDF rows in raster order of the volume."""
    out = torch.empty_like(cdf)
    out[ev.coding_order(tuple(sym.shape), tile)[0]] = cdf
    return out.reshape(*sym.shape, -1)


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
    assert len(sizes) == 1 and sorted(order.tolist()) == list(range(sym.numel()))  # one run of 9 tiles
    tiled = wavefront_cdfs(ev, sym, 16)
    assert torch.equal(ev.all_cdfs(sym, 16, chunk=500), tiled)
    # Each tile's CDFs are those of the tile coded alone: no context crosses a tile border.
    grid = by_position(ev, sym, tiled, 16)
    for h0, h1, w0, w1 in tile_boxes(37, 45, 16):
        part = sym[:, h0:h1, w0:w1].contiguous()
        assert torch.equal(grid[:, h0:h1, w0:w1], by_position(ev, part, ev.all_cdfs(part, None), None))
    whole = by_position(ev, sym, ev.all_cdfs(sym, None), None)
    assert not torch.equal(grid, whole)  # the untiled context differs at the borders
    monkeypatch.setattr(container, "RUN_VOXELS", 1)  # one tile per run: same CDFs, another coding order
    assert len(container.tile_runs(3, 37, 45, 16)) == 9
    assert torch.equal(by_position(ev, sym, wavefront_cdfs(ev, sym, 16), 16), grid)
    assert torch.equal(by_position(ev, sym, ev.all_cdfs(sym, 16), 16), grid)


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


def test_bf16_convolutions_stay_close_to_float32():
    cm, mu = integer_model(blocks=1)
    v = mu[torch.randint(0, 5, (1, 3, 6, 7), generator=torch.Generator().manual_seed(5))]
    with torch.no_grad():
        for simulate in (False, True):
            exact = cm(v, simulate_integer=simulate)
            rough = cm(v, simulate_integer=simulate, bf16=True)  # bf16 rounding: close, not equal
            assert rough.dtype == torch.float32 and rough.shape == exact.shape
            assert (rough - exact).abs().max() < 0.05 * exact.abs().max() + 0.05
