"""Dense retrieval as a pipeline stage: DocNADE or sequence-autoencoder vectors over FAISS.

:class:`DenseRetriever` (``irkit rank --model docnade|seqae``, ``docnade(faiss=DIR)`` in a pipeline):

* ``transform(queries)``: encode the topics with the FAISS index's encoder (or
  ``encoder``) and return the ``hits`` nearest documents;
* ``transform(run)``: score the run's candidates with the document vectors stored in
  ``faiss`` (or encoded on the fly from the Lucene index's stored text when there is
  no FAISS index). With ``alpha``: ``alpha * dense + (1 - alpha) * candidate score``,
  both :func:`irkit.pipeline.minmax` normalised per topic.

A topic with no word the encoder knows has no meaningful vector: dense retrieval
returns nothing for it, and reranking keeps its candidates' order; either way a
warning names it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.frames import run_frame
from irkit.pipeline import Transformer, is_run, minmax, ranked
from irkit.progress import log
from irkit.registry import Context


@dataclass
class DenseOptions:
    """``-O`` options of ``docnade`` and ``seqae``."""

    faiss: Path | None = None  # FAISS index folder (irkit faiss build); needed to retrieve
    encoder: Path | None = None  # encoder folder (default: the one the FAISS index records)
    alpha: float | None = None  # reranking: mix with the candidates' scores

    def __post_init__(self) -> None:
        if self.alpha is not None and not 0.0 <= float(self.alpha) <= 1.0:
            raise InputError(f"alpha must be between 0 and 1 (got {self.alpha})")


class DenseRetriever(Transformer):
    """Dense retrieval over FAISS, or reranking of candidates, with a DocNADE or SeqAE encoder."""

    encoder_flag = "-O encoder=MODEL"  # how a user names the encoder, in messages

    def __init__(self, kind: str, faiss: str | os.PathLike[str] | None = None,
                 encoder: str | os.PathLike[str] | None = None, alpha: float | None = None,
                 index: Any = None, hits: int = 1000, threads: int | None = None):  # fmt: skip
        from irkit.dense.faiss_index import FaissIndex

        self.name, self.kind = kind, kind
        self.options = DenseOptions(
            None if faiss is None else Path(faiss), None if encoder is None else Path(encoder), alpha
        )
        self.lucene, self.hits = index, int(hits)
        self.faiss = FaissIndex(faiss, threads=threads) if faiss else None
        encoder_path = encoder or (self.faiss.encoder if self.faiss else None)
        flag = self.encoder_flag
        if encoder_path is None:
            raise IrkitError(
                f"{flag} is required (the FAISS index records none)"
                if self.faiss
                else f"-O faiss=DIR (or {flag} with --rerank) is required"
            )
        if self.faiss is not None and not encoder and not Path(encoder_path).exists():
            raise InputError(f"the encoder recorded in the FAISS index is gone ({encoder_path}); pass {flag}", faiss)
        self.encoder = self._load_encoder(encoder_path, threads)
        if self.faiss is not None and self.encoder.dim != self.faiss.dim:
            raise InputError(
                f"the encoder makes {self.encoder.dim}-dimensional vectors but the FAISS index holds "
                f"{self.faiss.dim}-dimensional ones",
                faiss,
            )
        self.alpha = alpha

    def _load_encoder(self, path: str | os.PathLike[str], threads: int | None) -> Any:
        from irkit.dense.encoders import load_encoder

        return load_encoder(path, self.kind, threads=threads or 1)

    def _encode_queries(self, queries: pd.DataFrame, reranking: bool) -> tuple[list[str], np.ndarray]:
        from irkit.dense.vocab import analyzer

        queries = queries.drop_duplicates("qid")
        tokens = analyzer().many(list(queries["query"]), desc="analysing topics", quiet=self.quiet)
        known = np.array([self.encoder.known(t) > 0 for t in tokens], dtype=bool)
        if not known.all():
            lost = list(queries["qid"][~known])
            what = "their candidates keep their order" if reranking else "they get no results"
            log(f"{len(lost)} topic(s) have no word the {self.kind} encoder knows; {what}: {lost[:5]}", self.quiet)
        qids = list(queries["qid"][known])
        qvec = self.encoder.encode_tokens([t for t, k in zip(tokens, known, strict=True) if k], quiet=self.quiet)
        return qids, qvec

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not is_run(frame):
            return self._retrieve(frame)
        if "query" not in frame.columns:
            raise IrkitError(f"{self.kind} needs the query text beside the run (bm25 >> {self.kind})")
        return self._rerank(frame)

    def _retrieve(self, queries: pd.DataFrame) -> pd.DataFrame:
        if self.alpha is not None:
            raise IrkitError("alpha mixes dense scores with --rerank candidates; to fuse whole runs use `irkit fuse`")
        if self.faiss is None:
            raise IrkitError("-O faiss=DIR is required for dense retrieval (or --rerank RUN to score candidates)")
        qids, qvec = self._encode_queries(queries, reranking=False)
        if not qids:
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
        scores, docnos = self.faiss.search(qvec, self.hits)
        n = scores.shape[1]
        run = pd.DataFrame({"qid": np.repeat(qids, n), "docno": docnos.ravel(), "score": scores.ravel()})
        return run_frame(run[run["docno"].notna()])

    def _rerank(self, cand: pd.DataFrame) -> pd.DataFrame:
        qids, qvec = self._encode_queries(cand[["qid", "query"]], reranking=True)
        scored = cand[cand["qid"].isin(qids)].reset_index(drop=True)
        kept = cand[~cand["qid"].isin(qids)]
        unique = sorted(set(scored["docno"]))
        if self.faiss is not None:
            dvec = self.faiss.vectors(unique)
        else:
            from irkit.index import LuceneIndex

            if self.lucene is None:
                raise IrkitError("--index is required for this model")
            lucene = self.lucene if isinstance(self.lucene, LuceneIndex) else LuceneIndex(self.lucene)
            dvec = self.encoder.encode(lucene.texts(unique), quiet=self.quiet)
        row_of = {d: i for i, d in enumerate(unique)}
        q_of = {q: i for i, q in enumerate(qids)}
        qi = np.array([q_of[q] for q in scored["qid"]], dtype=np.int64)
        di = np.array([row_of[d] for d in scored["docno"]], dtype=np.int64)
        if self.faiss is not None:
            dense = self.faiss.score(qvec[qi], dvec[di])
        else:
            dense = np.einsum("nd,nd->n", qvec[qi], dvec[di]).astype(np.float64)
        if self.alpha is None:
            out = scored.assign(score=dense)
        else:
            a = float(self.alpha)
            out = scored.assign(score=a * minmax(scored.assign(score=dense)) + (1 - a) * minmax(scored))
        cols = ["qid", "docno", "score", "query"]
        return ranked(pd.concat([out[cols], kept[cols]], ignore_index=True))


def _builder(kind: str):
    def build(options: DenseOptions, context: Context) -> DenseRetriever:
        return DenseRetriever(kind, options.faiss, options.encoder, options.alpha, index=context.index,
                              hits=context.hits, threads=context.threads)  # fmt: skip

    build.__doc__ = f"The registry's builder of ``{kind}``."
    return build


build_docnade = _builder("docnade")
build_seqae = _builder("seqae")
