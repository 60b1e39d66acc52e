"""Generative models beside the IR work: images, audio and text.

Every model is one torch file in the house style (dataclass config,
``forward(...) -> (output, loss)``, trained by :class:`irkit.nn.Trainer`), with
a *recipe* that knows its data, sampling and evaluation: a subclass of the one
base in :mod:`irkit.generative.recipe` (images, text and audio share it), with the
densities in :mod:`irkit.generative.distributions`. Recipes register in
:mod:`irkit.generative.registry`; ``irkit generate`` reads that registry.
"""
