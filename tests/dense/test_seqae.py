"""The sequence autoencoder reconstructs what it was trained on."""

from __future__ import annotations

import torch

from irkit.dense.seqae import EOS, PAD, SPECIALS, SeqAE, SeqAEConfig, batches, reconstruction_nll, tensors
from irkit.dense.vocab import Vocab
from irkit.nn import Trainer, TrainerConfig, seed_everything


def test_sequences_mark_their_ends_and_an_empty_document_still_has_one_token():
    t = tensors([[7, 8, 9], []], max_len=10)
    assert t["src"].tolist() == [[7, 8, 9, EOS], [EOS, PAD, PAD, PAD]]
    assert t["lengths"].tolist() == [4, 1]
    assert t["dec_in"][0].tolist() == [2, 7, 8, 9]
    assert t["target"][0].tolist() == [7, 8, 9, EOS]
    m = SeqAE(SeqAEConfig(vocab_size=12, dim=6, embed_dim=4))
    with torch.no_grad():
        v = m.encode(t["src"], t["lengths"])
    assert v.shape == (2, 6) and torch.isfinite(v).all()


def test_encoder_state_ignores_padding():
    seed_everything(0)
    m = SeqAE(SeqAEConfig(vocab_size=12, dim=6, embed_dim=4)).eval()
    alone = tensors([[5, 6]], 10)
    padded = tensors([[5, 6], [4, 4, 4, 4, 4, 4]], 10)
    with torch.no_grad():
        a = m.encode(alone["src"], alone["lengths"])[0]
        b = m.encode(padded["src"], padded["lengths"])[0]
    assert torch.allclose(a, b, atol=1e-6)


def test_reconstructs_a_training_sentence_better_after_training(cranfield_index):
    from irkit.dense.vocab import index_tokens

    first = sorted(cranfield_index.docnos, key=int)[:24]  # not Lucene's order: it varies between builds
    _, tokens = index_tokens(cranfield_index, docnos=first, quiet=True)
    vocab = Vocab.build(tokens, size=400, min_count=1, specials=SPECIALS)
    docs = [vocab.ids(t[:10], "<unk>") for t in tokens]
    sentence = docs[:1]
    seed_everything(0)
    model = SeqAE(SeqAEConfig(len(vocab), dim=48, embed_dim=32, max_len=10))
    probe = tensors(sentence, 10)

    def accuracy() -> float:
        out = model.reconstruct(probe["src"], probe["lengths"])
        return float((out == probe["target"]).float().mean())

    nll_before, acc_before = reconstruction_nll(model, sentence), accuracy()
    trainer = Trainer(TrainerConfig(epochs=60, lr=1e-2, device="cpu", seed=0, quiet=True))
    trainer.fit(model, lambda epoch: batches(docs, batch_size=16, max_len=10, seed=epoch))
    nll_after, acc_after = reconstruction_nll(model, sentence), accuracy()
    assert trainer.history.train_loss[-1] < trainer.history.train_loss[0]
    assert nll_after < 0.25 * nll_before
    assert acc_after > acc_before
    assert acc_after >= 0.8  # greedy decoding from the encoder's state gives the sentence back
