"""``irkit rank --model docnade|seqae``: dense retrieval over a FAISS index, or reranking.

* ``--faiss DIR``: encode the topics with the index's encoder (or ``--encoder``)
  and return the ``--hits`` nearest documents.
* ``--rerank RUN``: score only the top ``--depth`` candidates of RUN, with the
  document vectors stored in ``--faiss`` (or encoded on the fly from ``--index``'s
  stored text when there is no FAISS index). ``--alpha A`` then mixes
  ``A * dense + (1 - A) * candidate score``, both min-max normalised per topic.

A topic with no word the encoder knows has no meaningful vector: dense
retrieval returns nothing for it, and reranking keeps its candidates' order;
either way a warning names it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from irkit.errors import InputError, IrkitError
from irkit.frames import cut_run, queries_frame, rank_run, run_frame
from irkit.progress import log
from irkit.registry import RankRequest


def docnade(request: RankRequest) -> pd.DataFrame:
    return dense_rank("docnade", request)


def seqae(request: RankRequest) -> pd.DataFrame:
    return dense_rank("seqae", request)


def dense_rank(kind: str, request: RankRequest) -> pd.DataFrame:
    from irkit.dense.encoders import load_encoder
    from irkit.dense.faiss_index import FaissIndex
    from irkit.dense.vocab import analyzer

    faiss_path = request.option("faiss")
    index = FaissIndex(faiss_path, threads=request.threads) if faiss_path else None
    encoder_path = request.option("encoder") or (index.encoder if index else None)
    if encoder_path is None:
        raise IrkitError(
            "--encoder MODEL is required (the FAISS index records none)"
            if index
            else "--faiss DIR (or --encoder MODEL with --rerank) is required"
        )
    if index is not None and not request.option("encoder") and not Path(encoder_path).exists():
        raise InputError(
            f"the encoder recorded in the FAISS index is gone ({encoder_path}); pass --encoder", faiss_path
        )
    encoder = load_encoder(encoder_path, kind, threads=request.threads or 1)
    if index is not None and encoder.dim != index.dim:
        raise InputError(
            f"the encoder makes {encoder.dim}-dimensional vectors but the FAISS index holds {index.dim}-dimensional ones",
            faiss_path,
        )
    alpha = request.option("alpha")
    if alpha is not None and not 0.0 <= float(alpha) <= 1.0:
        raise InputError(f"--alpha must be between 0 and 1 (got {alpha})")

    queries = queries_frame(request.queries)
    tokens = analyzer().many(list(queries["query"]), desc="analysing topics", quiet=request.quiet)
    known = np.array([encoder.known(t) > 0 for t in tokens], dtype=bool)
    if not known.all():
        lost = list(queries["qid"][~known])
        what = "they get no results" if request.candidates is None else "their candidates keep their order"
        log(f"{len(lost)} topic(s) have no word the {kind} encoder knows; {what}: {lost[:5]}", request.quiet)
    qids = list(queries["qid"][known])
    qvec = encoder.encode_tokens([t for t, k in zip(tokens, known, strict=True) if k], quiet=request.quiet)

    if request.candidates is None:
        if alpha is not None:
            raise IrkitError("--alpha mixes dense scores with --rerank candidates; to fuse whole runs use `irkit fuse`")
        if index is None:
            raise IrkitError("--faiss DIR is required for dense retrieval (or --rerank RUN to score candidates)")
        if not qids:
            return run_frame(pd.DataFrame(columns=["qid", "docno", "score"]))
        scores, docnos = index.search(qvec, request.hits)
        n = scores.shape[1]
        run = pd.DataFrame({"qid": np.repeat(qids, n), "docno": docnos.ravel(), "score": scores.ravel()})
        return run_frame(run[run["docno"].notna()])

    cand = cut_run(run_frame(request.candidates), request.depth)
    missing = sorted(set(cand["qid"]) - set(queries["qid"]))
    if missing:
        raise InputError(f"the run has topics that the topics file lacks: {missing[:5]}")
    scored = cand[cand["qid"].isin(qids)].reset_index(drop=True)
    kept = cand[~cand["qid"].isin(qids)]
    unique = sorted(set(scored["docno"]))
    if index is not None:
        dvec = index.vectors(unique)
    else:
        from irkit.index import LuceneIndex

        lucene = LuceneIndex(request.require_index())
        dvec = encoder.encode(lucene.texts(unique), quiet=request.quiet)
    row_of = {d: i for i, d in enumerate(unique)}
    q_of = {q: i for i, q in enumerate(qids)}
    qi = np.array([q_of[q] for q in scored["qid"]], dtype=np.int64)
    di = np.array([row_of[d] for d in scored["docno"]], dtype=np.int64)
    if index is not None:
        dense = index.score(qvec[qi], dvec[di])
    else:
        dense = np.einsum("nd,nd->n", qvec[qi], dvec[di]).astype(np.float64)
    if alpha is None:
        out = scored.assign(score=dense)
    else:
        from irkit.dense.fusion import minmax

        a = float(alpha)
        out = scored.assign(score=a * minmax(scored.assign(score=dense))["score"] + (1 - a) * minmax(scored)["score"])
    return rank_run(
        run_frame(pd.concat([out[["qid", "docno", "score"]], kept[["qid", "docno", "score"]]], ignore_index=True))
    )
