"""``irkit train classifier``: an LSTM classifier of fortunes, initialised randomly or from a pretrained
sequence autoencoder or language model (Dai & Le, 2015). Torch is imported inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, Quiet, number_in

INIT_HELP = (
    "random: PyTorch's initialisation; seqae: embedding and LSTM of a sequence autoencoder pretrained on the "
    "unlabelled text; lm: those of an LSTM language model pretrained on it."
)


def train_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write (atomically).")],
    init: Annotated[str, typer.Option(help=INIT_HELP, metavar="random|seqae|lm")] = "random",
    labels: Annotated[
        float,
        typer.Option(
            help="Fraction of the training labels used (per class, by --seed).", callback=number_in(0, 1, low_open=True)
        ),
    ] = 1.0,
    categories: Annotated[int, typer.Option(help="Classes: the N largest fortune categories.")] = 4,
    fortunes: Annotated[
        Path | None,
        typer.Option(help="Folder of fortune files (default $IRKIT_FORTUNES or /usr/share/games/fortunes)."),
    ] = None,
    collections: Annotated[
        bool,
        typer.Option(
            "--collections/--no-collections",
            help="Add the Cranfield, CACM and Vaswani abstracts ($IRKIT_DATA) to the unlabelled pretraining text.",
        ),
    ] = True,
    steps: Annotated[int, typer.Option(help="Fine-tuning updates (the same for every label fraction).")] = 300,
    lr: Annotated[
        float, typer.Option(help="Fine-tuning Adam learning rate.", callback=number_in(0, low_open=True))
    ] = 1e-3,
    pretrain_epochs: Annotated[int, typer.Option(help="[seqae|lm] Passes over the unlabelled text.")] = 2,
    pretrain_docs: Annotated[
        int, typer.Option(help="[seqae|lm] Pretrain on at most this many unlabelled texts (a seeded sample; 0: all).")
    ] = 20000,
    dim: Annotated[int, typer.Option(help="LSTM state size.")] = 128,
    embed_dim: Annotated[int, typer.Option(help="Word embedding size.")] = 64,
    vocab: Annotated[
        int, typer.Option(help="Largest vocabulary (from the unlabelled text; others become <unk>).")
    ] = 8000,
    max_len: Annotated[int, typer.Option(help="Words read per text (longer ones are cut).")] = 60,
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 32,
    threads: Annotated[int, typer.Option(help="Torch threads (0: all cores).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the train/test split, the label subset and the weights.")] = 0,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM classifier of the largest fortune categories; prints its test accuracy (Dai & Le, 2015)."""
    from irkit.generative.text.classifier import ClassifierOptions, train_classifier

    opts = ClassifierOptions(
        init=init, categories=categories, labels=labels, collections=collections, vocab=vocab, dim=dim,
        embed_dim=embed_dim, max_len=max_len, steps=steps, lr=lr, batch_size=batch_size,
        pretrain_epochs=pretrain_epochs, pretrain_docs=pretrain_docs, seed=seed, threads=threads,
        fortunes=str(fortunes) if fortunes else None, quiet=quiet,
    )  # fmt: skip
    s = train_classifier(opts, output, overwrite=force)
    typer.echo(
        f"saved classifier to {output} (init {s['init']}, {s['labelled']:,} labelled texts, test accuracy "
        f"{s['test_accuracy']:.4f}, majority class {s['chance']:.4f}, {s['seconds']:.0f} s)"
    )
