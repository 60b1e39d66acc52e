"""Shared recipe helpers: options, binary data and batches, importance sampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.distributions import bernoulli_log_prob, normal_log_prob
from irkit.generative.images.common import binary_split, epoch_batches, importance_nll
from irkit.generative.recipe import parse_options


def test_parse_options_types_and_unknown_keys():
    defaults = {"k": 5, "lr": 1e-3, "pixel": 1.0, "contrast": True, "binarize": "threshold"}
    got = parse_options({"k": "50", "lr": "3e-4", "contrast": "false", "binarize": "dynamic"}, defaults)
    assert got == {"k": 50, "lr": 3e-4, "pixel": 1.0, "contrast": False, "binarize": "dynamic"}
    with pytest.raises(InputError, match="unknown option 'kk'; known: binarize, contrast, k, lr, pixel"):
        parse_options({"kk": "1"}, defaults)
    with pytest.raises(InputError, match="expected bool"):
        parse_options({"contrast": "maybe"}, defaults)


def test_dynamic_binarisation_redraws_each_epoch():
    x, _ = binary_split("digits", "train", "dynamic")
    assert 0 < x.mean() < 1 and len(np.unique(x)) > 2  # grey levels: drawn per epoch
    test_a, _ = binary_split("digits", "test", "dynamic")
    test_b, _ = binary_split("digits", "test", "dynamic")
    assert set(np.unique(test_a)) == {0.0, 1.0} and np.array_equal(test_a, test_b)  # one fixed test draw
    batches = epoch_batches(x[:50], 50, seed=0, mode="dynamic")
    (e1,), (e2,), (e1_again,) = next(batches(1)), next(batches(2)), next(batches(1))
    assert set(torch.unique(e1).tolist()) == {0.0, 1.0}
    assert not torch.equal(e1, e2) and torch.equal(e1, e1_again)
    with pytest.raises(InputError):
        binary_split("digits", "train", "otsu")


def test_importance_nll_is_exact_log_mean_exp():
    # log w_i = i for i = 0..k-1: -log mean exp(i) in closed form, over several chunks
    k = 7

    def log_weights(x, kk, offset=[0]):  # noqa: B006 (a counter across chunks)
        out = torch.arange(offset[0], offset[0] + kk, dtype=torch.float64).expand(len(x), kk)
        offset[0] = (offset[0] + kk) % k
        return out

    nll = importance_nll(log_weights, torch.zeros(3, 1, 2, 2), k, batch=2, chunk=3)
    expected = -(math.log(sum(math.exp(i) for i in range(k))) - math.log(k))
    assert nll == pytest.approx([expected] * 3)


def test_log_densities():
    x = torch.tensor([[[[1.0, 0.0]]]])
    logits = torch.tensor([[[[0.0, 0.0]]]])
    assert bernoulli_log_prob(logits, x).item() == pytest.approx(2 * math.log(0.5))
    z = torch.zeros(1, 3)
    assert normal_log_prob(z).item() == pytest.approx(-1.5 * math.log(2 * math.pi))
    assert normal_log_prob(z, z, torch.zeros(1, 3)).item() == pytest.approx(normal_log_prob(z).item())
