"""The dilated decoder is causal and sees exactly its configured receptive field."""

import pytest
import torch

from irkit.generative.text.dcnn_vae import DCNNVAE, DCNNVAEConfig


@pytest.mark.parametrize(("kernel", "dilations", "field"), [(3, (1, 2), 7), (2, (1, 2, 4), 8), (3, (1, 2, 4, 8), 31)])
def test_output_depends_on_exactly_the_receptive_field(kernel, dilations, field):
    torch.manual_seed(0)
    cfg = DCNNVAEConfig(
        vocab_size=20, embed=6, hidden=12, latent=3, kernel_size=kernel, dilations=dilations, dropout=0.0
    )
    model = DCNNVAE(cfg).eval()
    assert model.receptive_field == field
    t = field + 12
    x = torch.randn(4, t, cfg.embed, requires_grad=True)
    z = torch.randn(4, cfg.latent)
    feats = model.decode_features(z, x)
    for i in (0, field // 2, field - 1, field + 5, t - 1):
        (grad,) = torch.autograd.grad(feats[:, i].sum(), x, retain_graph=True)
        seen = grad.abs().sum((0, 2)) > 0
        lo = max(0, i - field + 1)
        assert not seen[i + 1 :].any(), f"output {i} sees the future"
        assert not seen[:lo].any(), f"output {i} sees beyond the receptive field"
        assert seen[lo] and seen[i], f"output {i} misses its window [{lo}, {i}]"


def test_logits_follow_the_word_inputs_causally():
    torch.manual_seed(0)
    model = DCNNVAE(DCNNVAEConfig(vocab_size=20, embed=6, hidden=12, latent=3, dilations=(1, 2), dropout=0.0)).eval()
    z = torch.randn(1, 3)
    a = torch.tensor([[2, 5, 6, 7, 8, 9, 10, 11, 12, 13]])
    b = a.clone()
    b[0, 6] = 15
    la, lb = model.decode_logits(z, a), model.decode_logits(z, b)
    assert torch.allclose(la[:, :6], lb[:, :6])
    assert not torch.allclose(la[:, 6], lb[:, 6])
