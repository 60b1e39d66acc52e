"""Vector files and FAISS index folders: exact search, approximate recall, docno mapping, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from irkit.dense.faiss_index import FaissIndex, Vectors, build_faiss, load_vectors, save_vectors
from irkit.errors import InputError, IrkitError


def _vectors(n: int = 600, d: int = 16, seed: int = 0) -> Vectors:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return Vectors(x, [f"D{i:04d}" for i in range(n)], {"encoder": None, "encoder_kind": "docnade"})


def _brute(q: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]


def test_vector_file_round_trip_and_atomic_refusal(tmp_path):
    v = _vectors(20, 4)
    path = save_vectors(tmp_path / "v.npz", v)
    back = load_vectors(path)
    assert back.docnos == v.docnos and np.array_equal(back.vectors, v.vectors)
    assert back.vectors.dtype == np.float32 and back.meta["encoder_kind"] == "docnade"
    with pytest.raises(IrkitError, match="exists"):
        save_vectors(path, v)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npz"]  # no temporary left behind


def test_bad_vector_files(tmp_path):
    with pytest.raises(InputError, match="docnos"):
        Vectors(np.zeros((3, 2), dtype=np.float32), ["a", "b"])
    with pytest.raises(InputError, match="twice"):
        Vectors(np.zeros((2, 2), dtype=np.float32), ["a", "a"])
    with pytest.raises(InputError, match="NaN"):
        Vectors(np.full((1, 2), np.nan), ["a"])
    bad = tmp_path / "bad.npz"
    bad.write_text("not numpy")
    with pytest.raises(InputError, match=str(bad)):
        load_vectors(bad)
    other = tmp_path / "other.npz"
    np.savez(other, something=np.zeros(3))
    with pytest.raises(InputError, match="lacks"):
        load_vectors(other)


def test_flat_index_is_exact_and_keeps_docnos_and_encoder(tmp_path):
    v = _vectors()
    enc = tmp_path / "enc"
    enc.mkdir()
    idx = build_faiss(v, tmp_path / "flat", encoder=str(enc))
    # .irkit-output marks a folder irkit wrote (what --force may replace; irkit/io/atomic.py)
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [
        ".irkit-output",
        "docnos.txt",
        "index.faiss",
        "meta.json",
    ]
    meta = json.loads((tmp_path / "flat" / "meta.json").read_text())
    assert (
        meta["dim"] == 16
        and meta["metric"] == "ip"
        and meta["type"] == "flat"
        and meta["encoder"] == str(enc.resolve())
    )
    q = v.vectors[:7] + 0.1
    scores, docnos = FaissIndex(tmp_path / "flat").search(q, 10)
    expected = _brute(q, v.vectors, 10)
    assert [[int(d[1:]) for d in row] for row in docnos] == expected.tolist()
    assert np.allclose(scores, np.take_along_axis(q @ v.vectors.T, expected, 1), atol=1e-5)
    assert np.allclose(idx.vectors(["D0003", "D0100"]), v.vectors[[3, 100]])


def test_hnsw_and_ivf_recall_against_flat(tmp_path):
    v = _vectors(2000, 16)
    q = _vectors(50, 16, seed=1).vectors
    _, exact = build_faiss(v, tmp_path / "flat").search(q, 20)
    for kind in ("hnsw", "ivf"):
        idx = build_faiss(v, tmp_path / kind, type=kind, nprobe=16)
        _, approx = idx.search(q, 20)
        recall = np.mean([len(set(a) & set(e)) / 20 for a, e in zip(approx, exact, strict=True)])
        assert recall > 0.8, kind
        assert np.allclose(idx.vectors(["D0042"]), v.vectors[42])


def test_l2_scores_are_negated_distances(tmp_path):
    v = _vectors(100, 8)
    scores, docnos = build_faiss(v, tmp_path / "l2", metric="l2").search(v.vectors[:3], 5)
    assert list(docnos[:, 0]) == ["D0000", "D0001", "D0002"]
    assert np.all(np.diff(scores, axis=1) <= 1e-6) and np.allclose(scores[:, 0], 0, atol=1e-5)


def test_dimension_mismatch_and_bad_folders(tmp_path):
    idx = build_faiss(_vectors(50, 16), tmp_path / "f")
    with pytest.raises(InputError, match=r"dimension 8.*dimension 16"):
        idx.search(np.zeros((2, 8), dtype=np.float32), 5)
    with pytest.raises(InputError, match="not in the FAISS index"):
        idx.vectors(["nope"])
    meta = tmp_path / "f" / "meta.json"
    meta.write_text(meta.read_text().replace('"dim": 16', '"dim": 32'))
    with pytest.raises(InputError, match="dimension"):
        FaissIndex(tmp_path / "f")
    with pytest.raises(InputError, match=r"no index\.faiss"):
        FaissIndex(tmp_path)
    with pytest.raises(InputError, match="unknown FAISS index type"):
        build_faiss(_vectors(5, 2), tmp_path / "x", type="pq")
    assert not (tmp_path / "x").exists()


def test_cli_build_says_what_it_built_and_quiet_says_nothing(tmp_path):
    from irkit.cli import run

    save_vectors(tmp_path / "v.npz", _vectors(50, 8))
    code, out = run("faiss", "build", tmp_path / "v.npz", "--output", tmp_path / "loud.faiss")
    assert code == 0 and "built a flat ip FAISS index of 50 8-d vectors" in out
    code, out = run("faiss", "build", tmp_path / "v.npz", "--output", tmp_path / "quiet.faiss", "-q")
    assert code == 0 and out == "" and (tmp_path / "quiet.faiss").is_dir()
