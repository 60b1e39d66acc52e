"""DocNADE-LM: the n-gram units see exactly the previous n - 1 words, the model stays a
normalised autoregressive model, it learns word order that plain DocNADE cannot, and a
bad ``--ngram`` is refused with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from irkit.dense.docnade import DocNADE, DocNADEConfig, batches, perplexity
from irkit.errors import InputError


def irkit(*args) -> tuple[int, str]:
    """``irkit ARGS`` in a child process: (exit code, stderr + stdout)."""
    r = subprocess.run([sys.executable, "-m", "irkit", *map(str, args)], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stderr + r.stdout


def _model(n: int, v: int = 30, d: int = 8, seed: int = 0) -> DocNADE:
    torch.manual_seed(seed)
    m = DocNADE(DocNADEConfig(v, d, "tanh", ngram=n), np.arange(v, 0, -1.0))
    for p in (m.U, m.b, m.W_lm.weight, m.U_lm.weight):
        torch.nn.init.normal_(p, 0, 0.5)  # untrained trees and small weights would hide differences
    with torch.no_grad():
        m.W_lm.weight[v].zero_()
    return m.eval()


@pytest.mark.parametrize("n", [2, 3, 6])
def test_ngram_units_see_only_the_previous_n_minus_1_words(n):
    m = _model(n)
    doc = torch.tensor([[3, 7, 11, 2, 19, 5, 23, 13, 17, 29]])
    t = doc.shape[1]
    with torch.no_grad():
        base_lm, base_h = m.lm_units(doc), m.conditionals(doc)
        for j in range(t):
            changed = doc.clone()
            changed[0, j] = 1  # a word that the document does not hold
            lm_moved = (m.lm_units(changed) - base_lm).abs().amax(-1)[0] > 1e-6
            h_moved = (m.conditionals(changed) - base_h).abs().amax(-1)[0] > 1e-6
            want = [j + 1 <= i <= j + n - 1 for i in range(t)]  # i - n + 1 <= j <= i - 1
            assert lm_moved.tolist() == want, (j, lm_moved.tolist())
            # Through both paths: every later position (the bag of words), never word j itself or earlier.
            assert h_moved.tolist() == [i > j for i in range(t)]


def test_gradient_of_a_position_reaches_only_its_context_words():
    n = 4
    m = _model(n)
    doc = torch.tensor([[3, 7, 11, 2, 19, 5, 23]])
    for i in range(doc.shape[1]):
        m.zero_grad()
        m.lm_units(doc)[0, i].sum().backward()
        touched = set(torch.nonzero(m.W_lm.weight.grad.abs().sum(1)).flatten().tolist())
        assert touched == set(doc[0, max(0, i - n + 1) : i].tolist())


def test_conditionals_are_normalised_and_the_loss_is_their_likelihood():
    m = _model(3)
    doc = torch.tensor([[5, 1, 9, 9, 28], [2, 7, 30, 30, 30]])  # 30 pads the second document
    with torch.no_grad():
        h = m.conditionals(doc)
        p = m.log_probs(h[0]).exp()
        assert torch.allclose(p.sum(-1), torch.ones(5), atol=1e-5)
        nll, loss = m(doc)
        for r, k in ((0, 5), (1, 2)):
            lp = m.log_probs(h[r, :k])
            assert float(nll[r]) == pytest.approx(float(-lp[torch.arange(k), doc[r, :k]].sum()), rel=1e-5)
    assert float(loss) == pytest.approx(float(nll.sum() / 7), rel=1e-5)


def test_document_vector_is_the_bag_of_words_state():
    m = _model(3)
    with torch.no_grad():
        a = m.hidden(torch.tensor([[4, 8, 15, 16, 23]]))
        b = m.hidden(torch.tensor([[23, 15, 4, 16, 8, 30]]))
    assert torch.allclose(a, b, atol=1e-6)


def test_natural_order_batches_keep_the_words_in_place():
    docs = [[1, 2, 3, 4, 5, 6], [7, 8], [9]]
    rows = {tuple(int(t) for t in r if t != 99) for x in batches(docs, 99, 6, max_len=4, order="natural") for r in x}
    assert rows == {(1, 2, 3, 4), (7, 8), (9,)}
    with pytest.raises(InputError):
        batches(docs, 99, order="sorted")


def _fit(m: DocNADE, docs, epochs: int = 12) -> list[float]:
    opt = torch.optim.Adam(m.parameters(), lr=3e-2)
    losses = []
    m.train()
    for epoch in range(epochs):
        total = 0.0
        for t in batches(docs, m.pad, 400, seed=epoch, order="natural"):
            _, loss = m(t)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        losses.append(total)
    return losses


def test_training_lowers_the_loss_and_learns_word_order():
    # Each document walks a cycle: word w is always followed by w + 1 (mod 20), from a random start.
    # The bag of words of a prefix says little about the next word; the previous word says everything.
    rng = np.random.default_rng(0)
    docs = [list((rng.integers(0, 20) + np.arange(25)) % 20) for _ in range(40)]
    counts = np.bincount(np.concatenate(docs), minlength=20) + 1
    torch.manual_seed(0)
    lm = DocNADE(DocNADEConfig(20, 16, ngram=2), counts)
    torch.manual_seed(0)
    plain = DocNADE(DocNADEConfig(20, 16), counts)
    before = perplexity(lm, docs, order="natural", average="word")
    losses = _fit(lm, docs)
    _fit(plain, docs)
    assert losses[-1] < 0.5 * losses[0]
    after = perplexity(lm, docs, order="natural", average="word")
    plain_after = perplexity(plain, docs, order="natural", average="word")
    assert after < 0.5 * before
    assert after < 2.0 < plain_after  # near-deterministic with the previous word; not from the bag alone


def test_word_and_document_averages_differ_only_by_weighting():
    m = _model(2)
    docs = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11]]
    single = [perplexity(m, [d], order="natural") for d in docs]
    assert perplexity(m, docs, order="natural") == pytest.approx(float(np.exp(np.mean(np.log(single)))), rel=1e-6)
    words = perplexity(m, docs, order="natural", average="word")
    assert words == pytest.approx(float(np.exp((3 * np.log(single[0]) + 8 * np.log(single[1])) / 11)), rel=1e-6)


@pytest.mark.parametrize("n", [0, -2])
def test_a_bad_ngram_is_refused(n, tmp_path):
    with pytest.raises(InputError):
        DocNADE(DocNADEConfig(10, 4, ngram=n))
    code, text = irkit("train", "docnade", "-i", tmp_path, "-o", tmp_path / "m", "--ngram", str(n))
    assert code != 0
    assert "--ngram must be at least 1" in text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text
    assert not (tmp_path / "m").exists()


def test_ngram_help_says_what_n_is():
    code, text = irkit("train", "docnade", "--help")
    assert code == 0 and "--ngram" in text and "N-gram order" in text


def test_train_encode_and_reload_an_ngram_model(tmp_path, cranfield_index):
    from irkit.dense.encoders import load_encoder

    out = tmp_path / "dnlm"
    code, text = irkit("train", "docnade", "-i", cranfield_index.path, "-o", out, "--dim", 16, "--vocab", 2000, "--epochs", 2,
       "--max-docs", 300, "--holdout", 0.1, "--ngram", 3, "--lr", 0.02, "-q")  # fmt: skip
    assert code == 0, text
    meta = json.loads((out / "model.json").read_text())
    assert meta["config"]["ngram"] == 3
    ppl = [v["heldout_ppl"] for v in meta["training"]["validation"]]
    assert ppl[-1] < ppl[0] and ppl[-1] < meta["config"]["vocab_size"]
    assert meta["training"]["train_loss"][1] < meta["training"]["train_loss"][0]
    enc = load_encoder(out)
    assert enc.model.config.ngram == 3
    v = enc.encode_tokens([["flow", "wing"], ["wing", "flow"]])
    assert v.shape == (2, 16) and np.allclose(v[0], v[1], atol=1e-6)
