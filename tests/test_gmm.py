import math

import torch

from cvqncodec.gmm import GMMQuantizer


def test_means_start_evenly_around_zero():
    q = GMMQuantizer(5)
    assert torch.allclose(q.mu, torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))


def test_hard_forward_is_mean_with_largest_responsibility():  # Eq. 3
    torch.manual_seed(0)
    q = GMMQuantizer(4)
    q.pi_logits.data = torch.tensor([0.0, 2.0, -1.0, 0.5])
    q.log_sigma.data = torch.tensor([0.1, -0.5, 0.3, -0.2])
    z = torch.randn(1000) * 2
    z_hat, sym, _ = q(z)
    z_hat = z_hat.detach()
    for v, s, zz in zip(z_hat[:50], sym[:50], z[:50]):
        resp = [
            q.pi_logits.softmax(0)[j]
            * torch.exp(-0.5 * ((zz - q.mu[j]) / q.log_sigma[j].exp()) ** 2)
            / q.log_sigma[j].exp()
            for j in range(4)
        ]
        assert int(s) == int(torch.stack(resp).argmax())
        assert float(v) == float(q.mu[s].detach())  # exactly the mean, not a rounding of it


def test_backward_is_soft_assignment_gradient():  # Eq. 4, straight-through
    q = GMMQuantizer(3)
    z = torch.linspace(-2, 2, 9, requires_grad=True)
    z_hat, _, _ = q(z)
    z_hat.sum().backward()
    g_ste = z.grad.clone()
    z2 = z.detach().clone().requires_grad_(True)
    resp = torch.softmax(q.log_joint(z2), dim=-1)
    (resp * q.mu).sum(-1).sum().backward()
    assert torch.allclose(g_ste, z2.grad)


def test_nll_matches_mixture_density():  # Eq. 5
    q = GMMQuantizer(3)
    z = torch.tensor([0.3, -1.2, 2.0])
    _, _, nll = q(z)
    pi = torch.softmax(q.pi_logits, 0)
    s = q.log_sigma.exp()
    dens = (pi * torch.exp(-0.5 * ((z[:, None] - q.mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))).sum(1)
    assert torch.allclose(nll, -dens.log().mean(), atol=1e-6)
