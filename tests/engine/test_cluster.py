"""A two-node Ray cluster on this machine (``ray.cluster_utils.Cluster``, 127.0.0.1): sharded BM25
joins it by address, places one shard on each node, and writes the local run byte for byte."""

from __future__ import annotations

import os

import pytest

from irkit.engine import EngineConfig
from irkit.io.topics import read_topics
from irkit.io.trec import write_run
from irkit.retrieve import BM25

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    os.environ.pop("RAY_ADDRESS", None)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    yield c
    ray.shutdown()
    c.shutdown()


def test_two_nodes_one_shard_each_same_run(cluster, cacm_index, cacm, tmp_path, monkeypatch):
    from irkit.engine.cluster import connect

    monkeypatch.setenv("RAY_ADDRESS", cluster.address)  # joined by address, as on a real cluster
    line = connect(quiet=True)
    assert line.startswith(f"the Ray cluster at {cluster.address}: 2 node(s), 2 CPU(s)")
    assert cluster.address.startswith("127.0.0.1:")
    q = read_topics(cacm.topics)
    stage = BM25(cacm_index, engine=EngineConfig("ray", shards=2))
    run = stage.search(q, quiet=True)
    assert stage.stats.nodes == 2  # one CPU per node: the two shard actors cannot share a node
    local = BM25(cacm_index).search(q, quiet=True)
    write_run(run, tmp_path / "ray.run", tag="t")
    write_run(local, tmp_path / "local.run", tag="t")
    assert (tmp_path / "ray.run").read_bytes() == (tmp_path / "local.run").read_bytes()
