"""The densities and bounds every generative model uses, defined once.

Diagonal Gaussians (log-density, KL, reparameterised draws), Bernoulli images,
``log mean exp`` for importance-weighted bounds and Burda et al.'s active units.
All sums run over the last dimension (or the last three for images), so the
same functions serve one sample ``(B, d)`` and ``k`` samples ``(k, B, d)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def log_mean_exp(t: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """``log (1/k) sum_i exp(t_i)`` over ``dim``: the importance-weighted bound from log weights."""
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])


def normal_log_prob(z: torch.Tensor, mean: torch.Tensor | None = None, logvar: torch.Tensor | None = None):
    """Diagonal Gaussian ``log N(z; mean, exp(logvar))`` summed over the last dimension; N(0, I) by default."""
    if mean is None:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return -0.5 * ((z - mean).pow(2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor, mean_p=None, logvar_p=None) -> torch.Tensor:
    """``KL(N(mean, e^logvar) || N(mean_p, e^logvar_p))`` summed over the last dimension; the prior is N(0, I)
    by default."""
    if mean_p is None:
        return 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(-1)
    return 0.5 * (logvar_p - logvar + (logvar.exp() + (mean - mean_p).pow(2)) * torch.exp(-logvar_p) - 1).sum(-1)


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """A draw of ``N(mean, exp(logvar))`` that gradients flow through."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``log p(x)`` of images (``(..., c, h, w)``, broadcast against ``logits``), summed over c, h, w."""
    # x log s(l) + (1 - x) log(1 - s(l)) = x l - softplus(l): no expanded copy of x for k samples
    return (logits * x).flatten(-3).sum(-1) - F.softplus(logits).flatten(-3).sum(-1)


def active_units(means, threshold: float = 0.01) -> int:
    """Burda et al.'s active units: latent dimensions ``u`` with ``Cov_x(E_q[u | x]) > threshold``.

    ``means`` is ``(n, d)``: the posterior mean of each of ``n`` inputs.
    """
    means = np.asarray(means.detach().cpu() if torch.is_tensor(means) else means, dtype=np.float64)
    if len(means) < 2:
        return 0
    return int((means.var(0) > threshold).sum())
