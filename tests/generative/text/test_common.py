"""The KL annealing schedule, word dropout, active units and the bounds of a sentence VAE."""

import itertools
import math

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.distributions import active_units
from irkit.generative.text.common import kl_weight, pad_sentences, score_latent, word_dropout
from irkit.generative.text.data import BOS, EOS, PAD, UNK
from irkit.generative.text.sentence_vae import SentenceVAE, SentenceVAEConfig


def test_logistic_kl_annealing_rises_from_zero_to_one():
    w = [kl_weight(s, "logistic", 1000) for s in range(0, 2001, 50)]
    assert (
        w[0] < 0.01 and abs(kl_weight(500, "logistic", 1000) - 0.5) < 1e-9 and kl_weight(1000, "logistic", 1000) > 0.99
    )
    assert all(b > a for a, b in itertools.pairwise(w))
    assert w[-1] <= 1.0


def test_linear_and_constant_schedules_and_bad_name():
    assert [kl_weight(s, "linear", 100) for s in (0, 25, 100, 500)] == [0.0, 0.25, 1.0, 1.0]
    assert kl_weight(0, "constant", 100) == 1.0 and kl_weight(0, "logistic", 0) == 1.0
    with pytest.raises(InputError, match="kl_schedule"):
        kl_weight(3, "cosine", 100)


def test_model_counts_updates_and_anneals_only_in_training():
    torch.manual_seed(0)
    model = SentenceVAE(SentenceVAEConfig(vocab_size=20, embed=8, hidden=8, latent=2, kl_warmup=10))
    tokens, lengths = pad_sentences([[5, 6, 7], [8, 9]])
    model.train()
    for _ in range(3):
        model(tokens, lengths)
    assert int(model.step) == 3 and model.kl_weight() == pytest.approx(kl_weight(3, "logistic", 10))
    model.eval()
    with torch.no_grad():
        out, loss = model(tokens, lengths)
    assert int(model.step) == 3  # evaluation does not advance the schedule
    assert float(loss) == pytest.approx(float((out["rec"] + out["kl"]).mean()), rel=1e-6)  # full KL weight


def test_word_dropout_rate_and_what_it_spares():
    g = torch.Generator().manual_seed(0)
    tokens, _ = pad_sentences([[10 + (i % 50)] * (5 + i % 20) for i in range(400)])
    inputs = tokens[:, :-1]
    dropped = word_dropout(inputs, 0.3, g)
    words = (inputs != BOS) & (inputs != PAD) & (inputs != EOS)
    rate = float((dropped[words] == UNK).float().mean())
    assert abs(rate - 0.3) < 0.02
    assert torch.equal(dropped[inputs == BOS], inputs[inputs == BOS])
    assert torch.equal(dropped[inputs == PAD], inputs[inputs == PAD])
    changed = dropped != inputs
    assert bool((dropped[changed] == UNK).all())
    assert torch.equal(word_dropout(inputs, 0.0, g), inputs)


def test_active_units_counts_dimensions_whose_mean_varies():
    rng = np.random.default_rng(0)
    means = np.stack([rng.normal(0, 1, 500), rng.normal(0, 0.05, 500), np.full(500, 3.0)], 1)
    assert active_units(means) == 1
    assert active_units(means, threshold=0.001) == 2


def test_importance_weighted_bound_is_tighter_than_the_elbo():
    torch.manual_seed(0)
    model = SentenceVAE(SentenceVAEConfig(vocab_size=30, embed=8, hidden=16, latent=4)).eval()
    data = [[int(w) for w in torch.randint(5, 30, (n,))] for n in range(3, 12)]
    r = score_latent(model, data, k=100, batch=8)
    assert r["tokens"] == sum(len(s) + 1 for s in data)
    assert r["nll_iw_nats"] < r["elbo_nats"]
    assert r["ppl_iw"] == pytest.approx(math.exp(r["nll_iw_nats"] * len(data) / r["tokens"]))


def test_free_bits_leave_small_kl_unpenalised():
    torch.manual_seed(0)
    tokens, lengths = pad_sentences([[5, 6, 7], [8, 9]])
    model = SentenceVAE(SentenceVAEConfig(vocab_size=20, embed=8, hidden=8, latent=2, kl_warmup=0, free_bits=50.0))
    out, loss = model(tokens, lengths)
    assert out["kl"].mean().item() < 50.0
    assert loss.item() == pytest.approx(out["rec"].mean().item() + 50.0, rel=1e-6)  # the KL term is the floor
    model.eval()
    with torch.no_grad():
        out, loss = model(tokens, lengths)
    assert float(loss) == pytest.approx(float((out["rec"] + out["kl"]).mean()), rel=1e-6)
