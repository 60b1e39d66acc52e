"""DocNADE is checked for what it is: an autoregressive model with a normalised tree softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from irkit.dense.docnade import DocNADE, DocNADEConfig, batches, huffman_tree, perplexity
from irkit.errors import InputError


def _model(v: int = 40, d: int = 8, seed: int = 0, activation: str = "sigmoid") -> DocNADE:
    torch.manual_seed(seed)
    counts = np.random.default_rng(seed).zipf(1.5, v).astype(float)
    m = DocNADE(DocNADEConfig(v, d, activation), counts)
    # Untrained trees start at zero (every branch 1/2); random weights make the check bite.
    torch.nn.init.normal_(m.U, 0, 1.0)
    torch.nn.init.normal_(m.b, 0, 1.0)
    torch.nn.init.normal_(m.W.weight, 0, 0.5)
    with torch.no_grad():
        m.W.weight[v].zero_()
    return m.eval()


def test_huffman_codes_are_prefix_free_and_favour_frequent_words():
    counts = [50, 20, 10, 10, 5, 3, 1, 1]
    nodes, codes, lengths = huffman_tree(counts)
    words = ["".join(str(int(b)) for b in codes[w, : lengths[w]]) for w in range(len(counts))]
    assert len(set(words)) == len(words)
    for a in words:
        for b in words:
            assert a == b or not b.startswith(a)
    assert lengths[0] <= lengths[-1]
    assert nodes.max() == len(counts) - 2  # V - 1 inner nodes
    # Kraft equality: a full binary tree.
    assert sum(2.0**-n for n in lengths) == pytest.approx(1.0)


def test_tree_needs_two_words():
    with pytest.raises(InputError):
        huffman_tree([3])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_conditionals_sum_to_one_over_the_vocabulary(activation):
    m = _model(activation=activation)
    doc = torch.tensor([[3, 17, 3, 0, 39, 22]])
    with torch.no_grad():
        h = m.conditionals(doc)[0]  # one hidden state per position
        p = m.log_probs(h).exp()
    assert p.shape == (6, 40)
    assert torch.allclose(p.sum(-1), torch.ones(6), atol=1e-5)
    assert (p > 0).all()
    # Different prefixes give different distributions: the model is autoregressive.
    assert not torch.allclose(p[0], p[-1])


def test_training_loss_is_the_autoregressive_likelihood():
    m = _model()
    doc = torch.tensor([[5, 1, 9, 9, 30], [2, 7, 40, 40, 40]])  # 40 pads the second document
    with torch.no_grad():
        nll, loss = m(doc)
        for r, n in ((0, 5), (1, 2)):
            lp = m.log_probs(m.conditionals(doc)[r, :n])
            expected = -lp[torch.arange(n), doc[r, :n]].sum()
            assert float(nll[r]) == pytest.approx(float(expected), rel=1e-5)
    assert float(loss) == pytest.approx(float(nll.sum() / 7), rel=1e-5)


def test_document_vector_is_the_state_after_all_words_and_ignores_order():
    m = _model()
    doc = torch.tensor([[4, 8, 15, 16, 23]])
    with torch.no_grad():
        v = m.hidden(doc)
        after = m.conditionals(torch.tensor([[4, 8, 15, 16, 23, 0]]))[:, -1]  # state that predicts a 6th word
        shuffled = m.hidden(torch.tensor([[23, 15, 4, 16, 8]]))
        padded = m.hidden(torch.tensor([[4, 8, 15, 16, 23, 40, 40]]))
        empty = m.hidden(torch.full((1, 3), 40))
    assert torch.allclose(v, after, atol=1e-6)
    assert torch.allclose(v, shuffled, atol=1e-6)
    assert torch.allclose(v, padded, atol=1e-6)
    assert torch.allclose(empty, torch.sigmoid(m.c)[None])  # an empty document is g(c)


def test_batches_reorder_words_per_seed_and_skip_empty_documents():
    docs = [[1, 2, 3, 4, 5, 6], [], [7, 8], [9]]
    a = batches(docs, pad=99, batch_tokens=6, seed=1)
    b = batches(docs, pad=99, batch_tokens=6, seed=1)
    c = batches(docs, pad=99, batch_tokens=6, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    rows = sorted(tuple(sorted(int(t) for t in row if t != 99)) for x in a for row in x)
    assert rows == [(1, 2, 3, 4, 5, 6), (7, 8), (9,)]
    assert all(x.numel() <= 6 or x.shape[0] == 1 for x in a)
    first = lambda bs: next(row for x in bs for row in x if (row != 99).sum() == 6).tolist()  # noqa: E731
    assert first(a) != first(c) or first(a) != first(batches(docs, pad=99, batch_tokens=6, seed=3))


def test_a_few_steps_lower_perplexity():
    rng = np.random.default_rng(0)
    # Two "topics": documents draw from one half of the vocabulary each.
    docs = [list(rng.integers(0, 20, 30) + 20 * (i % 2)) for i in range(40)]
    m = DocNADE(DocNADEConfig(40, 16), np.bincount(np.concatenate(docs), minlength=40) + 1)
    before = perplexity(m, docs)
    opt = torch.optim.Adam(m.parameters(), lr=3e-2)
    m.train()
    for epoch in range(15):
        for t in batches(docs, m.pad, 400, seed=epoch):
            _, loss = m(t)
            opt.zero_grad()
            loss.backward()
            opt.step()
    after = perplexity(m, docs)
    assert after < 0.8 * before
    assert after < 30  # below the 40-word uniform distribution: it learnt the topics
