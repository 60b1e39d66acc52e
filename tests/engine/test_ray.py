"""``--engine ray`` gives the local output, on CACM and Cranfield, and survives a killed worker.

One local Ray cluster (2 CPUs, 127.0.0.1, no dashboard) serves the whole module: starting
Ray costs seconds on a shared 2-core machine. Every comparison is against the local engine
in the same process: run files byte for byte, vectors float32 for float32.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from irkit import engine, registry
from irkit.cli import run as irkit
from irkit.engine import EngineConfig
from irkit.errors import InputError, IrkitError
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, write_run
from irkit.retrieve import BM25

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    os.environ.pop("RAY_ADDRESS", None)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    from irkit.engine import cluster
    from irkit.engine.cluster import connect

    connect(cpus=2, quiet=True)  # irkit's own start: a local cluster on loopback, the JVM's signal handlers kept
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    # The module's cluster outlives the CLI calls below: `irkit rank/encode` stop only a cluster they started.
    cluster._started_here = False
    yield
    ray.shutdown()


def run_bytes(run: pd.DataFrame, path) -> bytes:
    write_run(run, path, tag="t", overwrite=True)
    return path.read_bytes()


@pytest.fixture(scope="module")
def collections(cacm_index, cranfield_index, cacm, cranfield):
    return {
        "cacm": (cacm_index, read_topics(cacm.topics)),
        "cranfield": (cranfield_index, read_topics(cranfield.topics)),
    }


@pytest.fixture(scope="module")
def local_bm25(collections):
    return {name: BM25(ix).search(q, quiet=True) for name, (ix, q) in collections.items()}


def rerank_frame(queries, run, depth=100):
    from irkit.cli.rank import rank_frame

    return rank_frame(queries, run, depth)


# ----------------------------------------------------------------------------------- BM25


@pytest.mark.parametrize("name", ["cacm", "cranfield"])
@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_bm25_is_byte_identical(name, shards, collections, local_bm25, tmp_path):
    ix, q = collections[name]
    if name == "cacm":  # the registry's stage on the engine: what `irkit rank --engine ray` runs
        run = engine.stage("bm25", EngineConfig("ray", shards=shards), index=ix.path).transform(q)
    elif shards == 2:  # the Python stage's engine argument: the local frame, frame for frame
        run = BM25(ix, engine="ray", shards=2).search(q, quiet=True)
        pd.testing.assert_frame_equal(run, local_bm25[name])
    else:  # as a pipeline stage, with its job's statistics
        stage = BM25(ix, engine=EngineConfig("ray", shards=shards))
        run = stage(q)
        assert stage.stats.items == len(q) and stage.stats.retries == 0
    local = local_bm25[name]
    assert len(run) == len(local) > 0.9 * 1000 * len(q) * (0.05 if name == "cacm" else 0.9)
    assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")


def test_written_shards_cli_and_foreign_shards(collections, local_bm25, cacm, tmp_path):
    ix, q = collections["cacm"]
    code, text = irkit("shard", ix.path, "--shards", 2, "--output", tmp_path / "cacm-shards", "-q")
    assert code == 0 and "wrote 2 shards" in text, text
    # `irkit rank --engine ray --index SHARDSET` through the CLI, byte-identical to local
    code, text = irkit("rank", "--index", tmp_path / "cacm-shards", "--topics", cacm.topics, "--engine", "ray",
                       "--output", tmp_path / "ray.run", "-q")  # fmt: skip
    assert code == 0, text
    write_run(local_bm25["cacm"], tmp_path / "local.run", tag="bm25")
    assert (tmp_path / "ray.run").read_bytes() == (tmp_path / "local.run").read_bytes()

    # a shard of another index (Cranfield) put in place of shard 1 is refused
    cran, _ = collections["cranfield"]
    assert irkit("shard", cran.path, "--shards", 2, "--output", tmp_path / "cran-shards", "-q")[0] == 0
    mixed = tmp_path / "mixed"
    shutil.copytree(tmp_path / "cacm-shards", mixed)
    shutil.rmtree(mixed / "shard-001")
    shutil.copytree(tmp_path / "cran-shards" / "shard-001", mixed / "shard-001")
    with pytest.raises(InputError, match="shard 1 belongs to another index"):
        BM25(mixed, engine="ray", hits=10).search(q, quiet=True)
    # without --engine ray, a shard set is named as one
    with pytest.raises(InputError, match=r"shard set .*: rank it with --engine ray"):
        BM25(tmp_path / "cacm-shards")

    # a shard folder the worker cannot see: the error names the shard, the node and the path
    shutil.rmtree(mixed / "shard-001")
    with pytest.raises(IrkitError, match=r"shard 1: the worker on node 127\.0\.0\.1 cannot open it: .*shard-001"):
        BM25(mixed, engine="ray", hits=10).search(q, quiet=True)


def killer(killed: list[int]):
    """An ``on_progress`` callback that, once the job starts, kill -9s the worker process of the
    first task it sees in flight (the job's ledger knows which pid runs which task)."""

    def kill(ledger) -> None:
        import ray

        deadline = time.time() + 60
        while time.time() < deadline:
            running = ray.get(ledger.in_flight.remote())
            if running:
                pid = next(iter(running.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.005)

    def on_progress(event) -> None:
        if event["key"] is None:  # the job has started: watch for a task in flight
            threading.Thread(target=kill, args=(event["ledger"],), daemon=True).start()

    return on_progress


def test_killed_shard_worker_is_restarted_and_its_batch_redone(collections, tmp_path):
    """kill -9 a shard actor while it scores a batch: Ray restarts it, the batch is redone,
    the run equals the undisturbed one, and the job counts the retry."""
    from irkit.engine.bm25 import search_shards

    ix, q = collections["cranfield"]
    # Cranfield's topics 4 times over, in batches of 300: long enough to be killed mid-way.
    many = pd.concat([q.assign(qid=q["qid"] + f"-{i}") for i in range(4)], ignore_index=True)
    local = BM25(ix).search(many, quiet=True)
    killed: list[int] = []
    stage = BM25(ix, engine=EngineConfig("ray", shards=2))
    run, stats = search_shards(stage, many, 1000, quiet=True, on_progress=killer(killed), batch=300)
    assert killed, "no task was seen running"
    assert stats.restarts >= 1 and stats.retries >= 1, stats.describe()
    assert "1 task retry" in stats.describe() or "task retries" in stats.describe()
    assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")


def test_unreachable_cluster_is_one_line(collections, cacm, tmp_path):
    ix, _ = collections["cacm"]
    code, text = irkit("rank", "--index", ix.path, "--topics", cacm.topics, "--engine", "ray",
                       "--ray-address", "127.0.0.1:9", "--output", tmp_path / "x.run", "-q")  # fmt: skip
    assert code == 2
    # The module's cluster may still print a message of an earlier test's killed worker
    # (a raylet line, asynchronously, into this capture): only irkit's lines count here.
    lines = [line for line in text.strip().splitlines() if "(raylet)" not in line]
    assert lines == [
        "irkit: error: cannot reach the Ray cluster at 127.0.0.1:9 (Connection refused); "
        "is `ray start --head` running there?"
    ]
    assert not (tmp_path / "x.run").exists()
    with pytest.raises(IrkitError, match="need --engine ray"):
        EngineConfig("local", shards=2)


# ---------------------------------------------------------------------------- reranking


@pytest.fixture(scope="module")
def desm_models(tmp_path_factory, collections):
    from irkit.rerank.desm import DESMConfig, train, training_texts

    out = {}
    for name, (ix, _) in collections.items():
        path = tmp_path_factory.mktemp("desm") / name
        train(training_texts(ix, quiet=True), DESMConfig(dim=32, window=5, epochs=2, seed=7), quiet=True).save(path)
        out[name] = path
    return out


@pytest.mark.parametrize("name", ["cacm", "cranfield"])
def test_desm_reranking_on_ray_equals_local(name, collections, local_bm25, desm_models, cacm, tmp_path):
    ix, q = collections[name]
    opts = {"model": desm_models[name], "alpha": 0.4}
    frame = rerank_frame(q, local_bm25[name])
    local = engine.stage("desm", index=ix.path, **opts).transform(frame)
    cfg = EngineConfig("ray", workers=2, shards=2)
    if name == "cacm":  # the registry's stage on the engine: what `irkit rank --engine ray` runs
        run = engine.stage("desm", cfg, index=ix.path, **opts).transform(frame)
    else:  # a pipeline of stages on Ray: BM25's engine argument, any registered model by engine.stage
        desm = engine.stage("desm", engine=cfg, index=ix, **opts)
        run = (BM25(ix, engine=cfg) % 100 >> desm)(q)
        assert repr(desm) == f"desm(model={desm_models[name]}, alpha=0.4)"
    assert len(run) == len(local) > 0
    assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")
    if name == "cacm":  # alpha=auto is tuned over every topic at once: on the driver, the local run
        qrels = read_qrels(cacm.qrels)
        tuned = {"model": desm_models[name], "alpha": "auto"}
        local = engine.stage("desm", index=ix.path, qrels=qrels, **tuned).transform(frame)
        run = engine.stage("desm", cfg, index=ix.path, qrels=qrels, **tuned).transform(frame)
        assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")


def test_killed_reranking_worker_is_restarted_and_its_topics_redone(collections, local_bm25, desm_models, tmp_path):
    """kill -9 a DESM worker while it reranks a group of topics: Ray restarts the actor, the group
    is redone, and the run equals the local one."""
    ix, q = collections["cranfield"]
    # Cranfield's topics 3 times over in 16 groups: enough work in flight to be killed mid-way.
    many = pd.concat([q.assign(qid=q["qid"] + f"-{i}") for i in range(3)], ignore_index=True)
    cand = local_bm25["cranfield"]
    cand = pd.concat([cand.assign(qid=cand["qid"] + f"-{i}") for i in range(3)], ignore_index=True)
    opts = {"model": desm_models["cranfield"], "alpha": 0.4}
    frame = rerank_frame(many, cand)
    local = engine.stage("desm", index=ix.path, **opts).transform(frame)
    killed: list[int] = []
    stage = engine.stage("desm", EngineConfig("ray", workers=2), index=ix.path, **opts)
    stage.on_progress, stage.tasks_per_worker = killer(killed), 8
    run = stage.transform(frame)
    assert killed, "no task was seen running"
    assert stage.stats.restarts >= 1 and stage.stats.retries >= 1, stage.stats.describe()
    assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")


@pytest.mark.parametrize("name", ["irgan", "lambdamart", "ql", "bm25+rm3"])
def test_topic_split_models_on_ray_equal_local(name, bench, tmp_path):
    """IRGAN and LambdaMART (each topic scored by the fold model that held it out, features computed
    by whichever worker gets it), QL and BM25+RM3 (each worker opens the Lucene index through
    Pyserini): the registry's stage, split by topic over 2 workers, writes the local run."""
    recipe = bench.recipe(name)
    assert registry.get(name).scale == "topic"
    frame = bench.frame(recipe)
    local = engine.stage(name, index=bench.index.path, hits=bench.hits, **recipe.options)
    stage = engine.stage(name, EngineConfig("ray", workers=2), index=bench.index.path, hits=bench.hits,
                         **recipe.options)  # fmt: skip
    run, expected = stage.transform(frame), local.transform(frame)
    assert len(run) == len(expected) > 0 and stage.stats.items == len(bench.queries)
    assert run_bytes(run, tmp_path / "ray.run") == run_bytes(expected, tmp_path / "local.run")


def test_a_pipeline_on_ray_equals_local(bench, tmp_path):
    """`irkit rank --pipeline EXPR --engine ray`: each registered model of the expression runs on the
    engine as its registry entry says (BM25 in shards, DESM by topic), the operators on the driver;
    the run file is the local one."""
    topics = tmp_path / "topics.tsv"
    topics.write_text("".join(f"{q}\t{t}\n" for q, t in zip(bench.queries["qid"], bench.queries["query"], strict=True)))
    expr = f"bm25 % 30 >> (0.6 * identity + 0.4 * desm(model={bench.root / 'desm'}))"
    common = ["rank", "--pipeline", expr, "-i", bench.index.path, "-t", topics, "-q"]
    assert irkit(*common, "-o", tmp_path / "local.run")[0] == 0
    code, text = irkit(*common, "--engine", "ray", "--workers", 2, "--shards", 2, "-o", tmp_path / "ray.run")
    assert code == 0, text
    local = (tmp_path / "local.run").read_bytes()
    assert len(local.splitlines()) == 30 * len(bench.queries) and (tmp_path / "ray.run").read_bytes() == local


@pytest.fixture(scope="module")
def dense_encoders(tmp_path_factory, collections):
    from irkit.dense.train import TrainOptions, train_encoder

    ix, _ = collections["cacm"]
    root = tmp_path_factory.mktemp("encoders")
    opts = TrainOptions(dim=16, vocab=2000, epochs=1, max_docs=300, embed_dim=16, quiet=True)
    for kind in ("docnade", "seqae"):
        train_encoder(kind, ix.path, root / kind, opts)
    return root


@pytest.mark.parametrize("kind", ["docnade", "seqae"])
def test_dense_reranking_on_ray_is_byte_identical(kind, collections, local_bm25, dense_encoders, cacm, tmp_path):
    """CACM's BM25 top 100 reranked without a FAISS index, so the queries and every candidate document
    are encoded: split by topic into two groups, this changed 104 to 410 of the 6,400 run lines (scores
    in the last float32 bit; docs/scale.md). Encoded in the local batches on Ray, nothing changes."""
    ix, q = collections["cacm"]
    model = dense_encoders / kind
    if kind == "docnade":  # the registry's stage on the engine, with the scores mixed with BM25's (alpha)
        frame = rerank_frame(q, local_bm25["cacm"])
        local = engine.stage(kind, index=ix.path, encoder=model, alpha=0.5).transform(frame)
        run = engine.stage(kind, EngineConfig("ray", workers=2), index=ix.path, encoder=model, alpha=0.5).transform(
            frame
        )
        assert len(run) == len(local) > 0.9 * 100 * run["qid"].nunique()
        assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local, tmp_path / "local.run")
    else:  # `irkit rank --model seqae --rerank RUN --engine ray`, the raw dense scores
        write_run(local_bm25["cacm"], tmp_path / "bm25.run", tag="bm25")
        common = ["rank", "--model", "seqae", "-O", f"encoder={model}", "--index", ix.path, "--topics", cacm.topics,
                  "--rerank", tmp_path / "bm25.run", "--depth", 100, "-q"]  # fmt: skip
        assert irkit(*common, "--output", tmp_path / "local.run")[0] == 0
        code, text = irkit(*common, "--engine", "ray", "--workers", 2, "--output", tmp_path / "ray.run")
        assert code == 0, text
        local = (tmp_path / "local.run").read_bytes()
        assert len(local.splitlines()) > 5000 and (tmp_path / "ray.run").read_bytes() == local


# ----------------------------------------------------------------------------- encoding


@pytest.mark.parametrize(("name", "via"), [("cacm", "python, a worker killed"), ("cranfield", "cli")])
def test_docnade_encoding_on_ray_is_float32_identical(name, via, collections, cranfield, tmp_path):
    """`irkit encode --engine ray` (Cranfield; then dense retrieval over the vectors' FAISS index on
    Ray) and, on CACM, the Python path with an encoder actor killed (kill -9) while it encodes a
    batch: Ray Data restarts the actor and redoes the batch, the vectors are still the local ones,
    and the job counts the retry."""
    from irkit.dense.encoders import load_encoder
    from irkit.dense.faiss_index import build_faiss, load_vectors, save_vectors
    from irkit.dense.train import TrainOptions, train_encoder
    from irkit.dense.vocab import index_tokens
    from irkit.engine.encoding import ray_encode_tokens

    ix, _ = collections[name]
    model = tmp_path / "dn"
    train_encoder("docnade", ix.path, model, TrainOptions(dim=16, vocab=2000, epochs=1, max_docs=300, quiet=True))
    batch = 16 if name == "cacm" else 64  # CACM: 200 batches, so that a kill lands mid-run
    local = engine.encode(model, ix.path, "local", batch_size=batch, quiet=True)
    if name == "cacm":
        killed: list[int] = []
        docnos, tokens = index_tokens(ix, quiet=True)
        vectors, stats = ray_encode_tokens(model, load_encoder(model), tokens, workers=2, batch_size=batch,
                                           quiet=True, on_progress=killer(killed))  # fmt: skip
        assert killed, "no batch was seen in flight"
        assert stats.restarts >= 1 and stats.retries >= 1, stats.describe()
        assert "task retr" in stats.describe() and stats.items == len(tokens)
        save_vectors(tmp_path / "v.npz", type(local)(vectors, docnos, local.meta))
    else:  # `irkit encode --engine ray`: Ray Data over 2 encoder actors, vectors written in docno order
        code, text = irkit("encode", "--model", model, "--index", ix.path, "--output", tmp_path / "v.npz",
                           "--batch-size", batch, "--engine", "ray", "--workers", 2, "-q")  # fmt: skip
        assert code == 0, text
    on_ray = load_vectors(tmp_path / "v.npz")
    assert on_ray.docnos == local.docnos and len(local.docnos) == ix.num_docs
    assert on_ray.vectors.dtype == np.float32 and np.array_equal(on_ray.vectors, local.vectors)
    faiss = build_faiss(tmp_path / "v.npz", tmp_path / "v.faiss")  # `irkit faiss build` takes them
    assert len(faiss) == len(local.docnos)
    if name == "cranfield":  # dense retrieval over it on Ray: queries encoded by actors, FAISS searched here
        topics, opts = read_topics(cranfield.topics), {"faiss": tmp_path / "v.faiss", "encoder": model}
        local_run = engine.stage("docnade", index=ix.path, hits=100, **opts).transform(topics)
        run = engine.stage("docnade", EngineConfig("ray", workers=1), index=ix.path, hits=100, **opts).transform(
            topics
        )  # 225 queries: one batch
        assert len(run) == len(local_run) > 100 * 200
        assert run_bytes(run, tmp_path / "ray.run") == run_bytes(local_run, tmp_path / "local.run")


def test_lucene_search_after_ray_init_keeps_the_jvm_alive(collections):
    # Ray's failure signal handler used to replace the JVM's SIGSEGV handler in the driver;
    # a long Lucene query in this process after ray.init then killed it (irkit/engine/cluster.py).
    import numpy as np

    from irkit.frames import queries_frame
    from irkit.retrieve import BM25

    assert os.environ.get("RAY_DISABLE_FAILURE_SIGNAL_HANDLER") == "1"
    index = collections["cacm"][0]
    words = sorted({w for t in index.texts()[:300] for w in t.split() if w.isalpha()})
    long = " ".join(np.random.default_rng(0).choice(words, 10_000))
    for _ in range(3):  # warm: JIT-compiled Lucene code is what raises SIGSEGV on purpose
        run = BM25(index, backend="lucene").search(queries_frame({"1": long, "2": "parallel algorithms"}))
    assert sorted(run["qid"].unique()) == ["1", "2"]
