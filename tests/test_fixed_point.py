"""The integer arithmetic of the context model (cvqncodec.fixed_point)."""

import torch

from cvqncodec import fixed_point as fp


def test_weight_shifts_use_the_largest_scale_that_fits():
    w = torch.tensor([[0.5, -0.25], [1e-3, 2e-3], [3.0, 0.0]])
    s = fp.weight_shifts(w)
    scaled = w.abs().amax(dim=1).double() * torch.pow(2.0, s.double())
    assert (scaled <= fp.WEIGHT_LIMIT).all()
    assert (scaled * 2 > fp.WEIGHT_LIMIT).all()  # one more bit would overflow
    assert int(fp.weight_shifts(torch.zeros(1, 3))[0]) == fp.MAX_SHIFT  # all-zero rows stay bounded


def test_round_ste_rounds_forward_and_passes_gradients():
    x = torch.tensor([0.4, 1.6, -2.5], requires_grad=True)
    y = fp.round_ste(x)
    assert y.tolist() == torch.round(x.detach()).tolist()
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_requantize_is_round_half_up_by_a_power_of_two():
    acc = torch.tensor([5.0, 6.0, -6.0, 1023.0], dtype=torch.float64)
    out = fp.requantize(acc, fp.inverse_scales(torch.tensor(2), "cpu"))
    assert out.tolist() == [1.0, 2.0, -1.0, 256.0]  # floor(x / 4 + 1/2)


def test_logits_to_cdf_keeps_every_level_and_follows_the_logits():
    table = fp.exp_table()
    assert int(table[0]) == 1 << fp.CDF_PRECISION and int(table[-1]) >= 0
    logits = torch.tensor([[0, 0, 0], [640, 0, -10_000_000], [5, 5, 900]])
    cdf = fp.logits_to_cdf(logits, table).to(torch.int64) & 0xFFFF
    cdf[:, -1] = 1 << fp.CDF_PRECISION
    mass = cdf[:, 1:] - cdf[:, :-1]
    assert (mass >= 1).all() and (cdf[:, 0] == 0).all()
    assert abs(int(mass[0, 0]) - int(mass[0, 2])) <= 1  # equal logits, equal masses
    assert mass[1, 0] > mass[1, 1] > mass[1, 2]  # larger logit, larger mass
    assert int(mass[2].argmax()) == 2


def test_input_table_is_the_rounded_means():
    mu = torch.tensor([-1.5, 0.0, 0.3333])
    assert fp.input_table(mu).tolist() == [-1536, 0, round(0.3333 * 1024)]
