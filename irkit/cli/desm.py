"""``irkit train desm``: gensim word2vec IN and OUT matrices for the DESM reranker (:mod:`irkit.rerank.desm`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import Force, Quiet, Seed
from irkit.rerank.desm import DESMConfig


def train_command(
    index: Annotated[Path, typer.Option("--index", "-i", help="Lucene index whose documents are the training text.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to write.")],
    corpus: Annotated[
        list[Path] | None, typer.Option(help="Extra plain-text file (one text per line); repeatable.")
    ] = None,
    dim: Annotated[int, typer.Option(help="Embedding dimensions.")] = DESMConfig.dim,
    window: Annotated[int, typer.Option(help="Context window (words each side).")] = DESMConfig.window,
    epochs: Annotated[int, typer.Option(help="Passes over the text.")] = DESMConfig.epochs,
    min_count: Annotated[int, typer.Option(help="Ignore words rarer than this.")] = DESMConfig.min_count,
    negative: Annotated[int, typer.Option(help="Negative samples per word (must be >= 1).")] = 5,
    skipgram: Annotated[bool, typer.Option("--skipgram/--cbow", help="Skip-gram or CBOW (the paper's).")] = False,
    words_only: Annotated[
        bool, typer.Option("--words-only/--all-tokens", help="Drop tokens with a digit and one-letter tokens.")
    ] = True,
    seed: Seed = 0,
    workers: Annotated[int, typer.Option(help="Training threads; 1 makes the vectors reproducible.")] = 1,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train DESM word embeddings (gensim word2vec, IN and OUT matrices) on an indexed collection."""
    from irkit.index.lucene import LuceneIndex
    from irkit.io.atomic import check_output
    from irkit.rerank.desm import train, training_texts

    check_output(output, force)
    idx = LuceneIndex(index)
    config = DESMConfig(dim=dim, window=window, epochs=epochs, min_count=min_count, negative=negative,
                        sg=int(skipgram), seed=seed, workers=workers, words_only=words_only)  # fmt: skip
    model = train(training_texts(idx, corpus or [], words_only=config.words_only, quiet=quiet), config, quiet=quiet)
    model.meta["index"] = str(idx.path.resolve())
    model.save(output, overwrite=force)
    m = model.meta
    typer.echo(
        f"trained DESM ({'skip-gram' if skipgram else 'CBOW'}): {len(model.vocab):,} words x {dim} dimensions "
        f"on {m['training_words']:,} words in {m['training_seconds']:.1f} s; wrote {output}"
    )
