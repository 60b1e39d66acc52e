"""Names that ``irkit generate train MODEL`` accepts, each pointing at a recipe.

A recipe is a subclass of :class:`irkit.generative.recipe.Recipe` (heavy
imports inside its methods), the one base that images, text and audio share:

``train(data, output, *, epochs, device, seed, quiet, options) -> dict``
    trains on ``data`` (e.g. ``mnist`` or ``digits``) and saves a model folder
    at ``output`` with :func:`irkit.nn.save_model` (kind = the registry name);
    returns a summary (losses, timings) that the CLI prints.
``sample(model_dir, n, output, *, caption, seed, options) -> Path``
    writes samples (a PNG grid, WAV files, a text file) to ``output``.
``evaluate(model_dir, *, options) -> dict``
    test NLL or bound in nats (or bits for audio), with a ``protocol`` string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from irkit.errors import IrkitError


@dataclass(frozen=True)
class GenerativeEntry:
    name: str
    recipe: str  # "module:Class"
    help: str
    data: tuple[str, ...]  # values --data accepts; the first is the default


_ENTRIES: dict[str, GenerativeEntry] = {}


def register(entry: GenerativeEntry) -> GenerativeEntry:
    if entry.name in _ENTRIES:
        raise IrkitError(f"generative model {entry.name!r} is registered twice")
    _ENTRIES[entry.name] = entry
    return entry


def names() -> list[str]:
    return list(_ENTRIES)


def get(name: str) -> GenerativeEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        known = ", ".join(names()) or "none yet"
        raise IrkitError(f"unknown generative model {name!r}; known: {known}") from None


def recipe(name: str) -> Any:
    import importlib

    module, _, attr = get(name).recipe.partition(":")
    return getattr(importlib.import_module(module), attr)()


# Built-in generative models: one line each.
# fmt: off
register(GenerativeEntry("sentence-vae", "irkit.generative.text.sentence_vae:Recipe", "Sentence VAE (Bowman et al.): LSTM encoder/decoder, KL annealing, word dropout", ("abstracts",)))
register(GenerativeEntry("dcnn-vae", "irkit.generative.text.dcnn_vae:Recipe", "VAE with a dilated causal CNN decoder (Yang et al. 2017)", ("abstracts",)))
register(GenerativeEntry("hier-ae", "irkit.generative.text.hier_ae:Recipe", "Hierarchical LSTM autoencoder of paragraphs with attention (Li et al. 2015)", ("abstracts",)))
register(GenerativeEntry("lstm-lm", "irkit.generative.text.lstm_lm:Recipe", "LSTM language model (the text VAEs' baseline)", ("abstracts",)))
register(GenerativeEntry("vae", "irkit.generative.images.vae:Recipe", "VAE (Kingma & Welling), Burda et al.'s MLPs, 1 or 2 stochastic layers (-O layers=2)", ("mnist", "digits")))
register(GenerativeEntry("iwae", "irkit.generative.images.vae:IWAERecipe", "Importance-weighted autoencoder (Burda et al.): the k-sample bound (-O k=5), 1 or 2 layers", ("mnist", "digits")))
register(GenerativeEntry("vaegan", "irkit.generative.images.vaegan:Recipe", "VAE-GAN (Larsen et al.): reconstruction error in a discriminator layer's feature space", ("mnist", "digits")))
register(GenerativeEntry("avb", "irkit.generative.images.avb:Recipe", "Adversarial Variational Bayes (Mescheder et al.): black-box encoder, T(x, z) for the KL, adaptive contrast", ("mnist", "digits")))
register(GenerativeEntry("statistician", "irkit.generative.images.statistician:Recipe", "Neural Statistician (Edwards & Storkey): context c of a set; few-shot generation from 5 images", ("mnist", "digits")))
register(GenerativeEntry("wavenet", "irkit.generative.audio.wavenet:Recipe", "WaveNet (van den Oord et al.): dilated causal convs, mu-law softmax, voice + log-mel conditions, cached generation", ("speech",)))
register(GenerativeEntry("draw", "irkit.generative.images.draw:Recipe", "DRAW (Gregor et al.): recurrent VAE with Gaussian-filterbank read/write attention; -O frames=1 draws the canvas over steps", ("mnist", "digits")))
register(GenerativeEntry("draw-noattn", "irkit.generative.images.draw:NoAttentionRecipe", "DRAW without attention: reads and writes the whole image at every step", ("mnist", "digits")))
register(GenerativeEntry("aligndraw", "irkit.generative.images.aligndraw:Recipe", "AlignDRAW (Mansimov et al.): caption-conditioned DRAW, BiLSTM + alignment, learned prior; --caption", ("mnist-captions",)))
register(GenerativeEntry("sharpen", "irkit.generative.images.sharpen:Recipe", "LAPGAN-style sharpener (Denton et al.): a conditional GAN adds a pyramid level's residual; sample MODEL --sharpen", ("mnist-captions",)))
register(GenerativeEntry("pixelcnn", "irkit.generative.images.pixelcnn:Recipe", "PixelCNN (van den Oord et al.): masked convolutions (A then B), binary or -O levels=256 outputs", ("mnist", "digits")))
register(GenerativeEntry("pixelrnn-row", "irkit.generative.images.pixelrnn:RowRecipe", "PixelRNN with Row LSTM layers (van den Oord et al.), binary or -O levels=256", ("mnist", "digits")))
register(GenerativeEntry("pixelrnn-diag", "irkit.generative.images.pixelrnn:DiagonalRecipe", "PixelRNN with Diagonal BiLSTM layers (skewed maps), binary or -O levels=256", ("mnist", "digits")))
