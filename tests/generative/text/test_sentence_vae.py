"""A small sentence VAE fits a few sentences; its homotopy endpoints decode to them."""

import torch

from irkit.generative.text.common import interpolate, pad_sentences
from irkit.generative.text.data import Vocab
from irkit.generative.text.sentence_vae import SentenceVAE, SentenceVAEConfig

TEXTS = (
    "the flow over the wing is laminar",
    "a compiler for the algol language",
    "shock waves in hypersonic flow",
    "storage allocation in a time sharing system",
)
SENTENCES = [t.split(" ") for t in TEXTS]


def test_homotopy_endpoints_decode_to_the_two_sentences():
    torch.manual_seed(0)
    vocab = Vocab.build(SENTENCES)
    cfg = SentenceVAEConfig(
        vocab_size=len(vocab), embed=16, hidden=48, latent=4, dropout=0.0, word_dropout=0.0, kl_warmup=100000
    )
    model = SentenceVAE(cfg)
    tokens, lengths = pad_sentences([vocab.encode(s) for s in SENTENCES])
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        _, loss = model(tokens, lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        mu, _ = model.posterior(tokens, lengths)
        for a, b in ((0, 1), (2, 3)):
            path = model.generate(interpolate(mu[a], mu[b], 5), max_len=12)
            decoded = [vocab.decode(row) for row in path.tolist()]
            assert decoded[0] == " ".join(SENTENCES[a])
            assert decoded[-1] == " ".join(SENTENCES[b])
            assert len(decoded) == 5
