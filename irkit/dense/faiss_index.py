"""Document vectors on disk and FAISS indexes over them.

Vector file (``.npz``, written atomically): ``vectors`` float32 ``(n, d)``,
``docnos`` ``(n,)`` and ``meta`` (a JSON string: encoder kind and path, the
Lucene index it came from).

FAISS index folder (written atomically)::

    index.faiss   the FAISS index; row i is document docnos.txt line i
    docnos.txt    one docno per line
    meta.json     dim, metric, type, count, search parameters, encoder path

Metrics: ``ip`` (inner product; the encoders' vectors have unit length, so
this is cosine) and ``l2`` (scores are negated squared distances, so higher is
better for both). Types: ``flat`` (exact), ``hnsw`` (graph, approximate) and
``ivf`` (inverted lists over k-means cells, approximate).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from irkit.errors import InputError
from irkit.io.atomic import atomic_file, atomic_path

TYPES = ("flat", "ivf", "hnsw")
METRICS = ("ip", "l2")
INDEX_FILE, DOCNOS_FILE, META_FILE = "index.faiss", "docnos.txt", "meta.json"


@dataclass
class Vectors:
    vectors: np.ndarray
    docnos: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = check_matrix(self.vectors, "vectors")
        self.docnos = [str(d) for d in self.docnos]
        if len(self.docnos) != len(self.vectors):
            raise InputError(f"{len(self.vectors)} vectors but {len(self.docnos)} docnos")
        if len(set(self.docnos)) != len(self.docnos):
            raise InputError("a docno appears twice among the vectors")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def check_matrix(x: Any, what: str = "vectors", dim: int | None = None, path: Any = None) -> np.ndarray:
    """``x`` as a C-contiguous float32 ``(n, d)`` matrix of finite numbers."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise InputError(f"{what} must be a 2-d (n, dim) array, not shape {a.shape}", path)
    if not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{what} must be numbers, not {a.dtype}", path)
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise InputError(f"{what} hold NaN or infinite values", path)
    if dim is not None and a.shape[1] != dim:
        raise InputError(f"{what} have dimension {a.shape[1]}, but the FAISS index has dimension {dim}", path)
    return a


def save_vectors(path: str | os.PathLike[str], vectors: Vectors, overwrite: bool = False) -> Path:
    """Write a ``.npz`` vector file atomically."""
    with atomic_file(path, overwrite=overwrite, mode="wb") as fh:
        np.savez(
            fh,
            vectors=vectors.vectors,
            docnos=np.array(vectors.docnos, dtype=str),
            meta=np.array(json.dumps(vectors.meta)),
        )
    return Path(path)


def load_vectors(path: str | os.PathLike[str]) -> Vectors:
    p = Path(path)
    if not p.is_file():
        raise InputError("no such vector file (write one with `irkit encode`)", p)
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = {"vectors", "docnos"} - set(z.files)
            if missing:
                raise InputError(f"vector file lacks {sorted(missing)} (expected vectors, docnos, meta)", p)
            meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
            vectors, docnos = z["vectors"], z["docnos"].tolist()
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        # numpy's text for a non-archive suggests allowing pickles: never the remedy here.
        why = "not a NumPy .npz archive" if "pickle" in str(e) else str(e).strip().splitlines()[0]
        raise InputError(f"not a readable .npz vector file ({why})", p) from None
    try:
        return Vectors(check_matrix(vectors, "vectors", path=p), docnos, meta)
    except InputError as e:
        raise InputError(e.reason, p) from None


def _faiss(threads: int | None = None):
    import faiss

    if threads is not None and threads < 0:
        raise InputError(f"threads must be positive, or 0 for all cores (got {threads})")
    if threads:
        faiss.omp_set_num_threads(threads)
    return faiss


def build_faiss(
    vectors: Vectors | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    type: str = "flat",
    metric: str = "ip",
    encoder: str | None = None,
    nlist: int | None = None,
    nprobe: int = 16,
    m: int = 32,
    ef_construction: int = 200,
    ef_search: int = 256,
    seed: int = 0,
    threads: int | None = None,
    overwrite: bool = False,
) -> FaissIndex:
    """Build a FAISS index folder from vectors (a :class:`Vectors` or a ``.npz`` path).

    ``encoder`` (default: the encoder recorded in the vector file) is stored
    so that ``irkit rank`` can encode queries without ``--encoder``.
    """
    if type not in TYPES:
        raise InputError(f"unknown FAISS index type {type!r}; choose from {', '.join(TYPES)}")
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    vec = vectors if isinstance(vectors, Vectors) else load_vectors(vectors)
    n, d = vec.vectors.shape
    if n == 0:
        raise InputError("no vectors to index")
    faiss = _faiss(threads)
    fmetric = faiss.METRIC_INNER_PRODUCT if metric == "ip" else faiss.METRIC_L2
    params: dict[str, Any] = {}
    if type == "flat":
        index = faiss.IndexFlatIP(d) if metric == "ip" else faiss.IndexFlatL2(d)
    elif type == "hnsw":
        index = faiss.IndexHNSWFlat(d, m, fmetric)
        index.hnsw.efConstruction = ef_construction
        params = {"m": m, "ef_construction": ef_construction, "ef_search": ef_search}
    else:
        # FAISS wants >= 39 training points per cell; ~4 sqrt(n) cells is its usual advice.
        nlist = nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        if nlist < 1 or nlist > n:
            raise InputError(f"--nlist must be between 1 and the number of vectors ({n})")
        quantizer = faiss.IndexFlatIP(d) if metric == "ip" else faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, fmetric)
        index.cp.seed = seed
        index.train(vec.vectors)
        params = {"nlist": nlist, "nprobe": min(nprobe, nlist)}
    index.add(vec.vectors)
    encoder = encoder or vec.meta.get("encoder")
    meta = {
        "dim": d,
        "metric": metric,
        "type": type,
        "count": n,
        "params": params,
        "encoder": str(Path(encoder).resolve()) if encoder else None,
        "encoder_kind": vec.meta.get("encoder_kind"),
        "source": vec.meta,
    }
    with atomic_path(output, overwrite=overwrite) as tmp:
        tmp.mkdir()
        faiss.write_index(index, str(tmp / INDEX_FILE))
        (tmp / DOCNOS_FILE).write_text("".join(f"{x}\n" for x in vec.docnos), encoding="utf-8")
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return FaissIndex(output, threads=threads)


class FaissIndex:
    """A FAISS index folder opened for search; it maps rows back to docnos."""

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError("no such FAISS index folder (build one with `irkit faiss build`)", self.path)
        for name in (INDEX_FILE, DOCNOS_FILE, META_FILE):
            if not (self.path / name).is_file():
                raise InputError(f"not a FAISS index folder (no {name})", self.path)
        try:
            self.meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise InputError(f"corrupt {META_FILE} ({e.msg})", self.path / META_FILE, e.lineno) from None
        self.docnos = np.array((self.path / DOCNOS_FILE).read_text(encoding="utf-8").split("\n")[:-1], dtype=object)
        self._faiss = _faiss(threads)
        try:
            self.index = self._faiss.read_index(str(self.path / INDEX_FILE))
        except RuntimeError as e:
            raise InputError(f"cannot read the FAISS index ({str(e).strip().splitlines()[-1]})", self.path) from None
        if self.index.d != self.meta.get("dim"):
            raise InputError(
                f"index.faiss has dimension {self.index.d} but meta.json says {self.meta.get('dim')}", self.path
            )
        if self.index.ntotal != len(self.docnos):
            raise InputError(
                f"index.faiss holds {self.index.ntotal} vectors but docnos.txt {len(self.docnos)}", self.path
            )
        params = self.meta.get("params", {})
        if self.meta.get("type") == "hnsw":
            self.index.hnsw.efSearch = int(params.get("ef_search", 256))
        elif self.meta.get("type") == "ivf":
            self.index.nprobe = int(params.get("nprobe", 16))
        self._rows: dict[str, int] | None = None
        self._direct_map = False

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def metric(self) -> str:
        return str(self.meta.get("metric", "ip"))

    @property
    def encoder(self) -> str | None:
        return self.meta.get("encoder")

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, docnos)``, each ``(n, k')`` with ``k' = min(k, size)``; higher scores are better."""
        q = check_matrix(queries, "query vectors", dim=self.dim)
        k = min(int(k), len(self))
        if k < 1:
            raise InputError("k must be at least 1")
        if self.meta.get("type") == "hnsw":
            # HNSW returns at most efSearch neighbours: widen the search for deep runs.
            self.index.hnsw.efSearch = max(int(self.meta.get("params", {}).get("ef_search", 256)), k)
        scores, rows = self.index.search(q, k)
        if self.metric == "l2":
            scores = -scores
        # Approximate indexes may return fewer than k hits (row -1).
        docnos = np.where(rows >= 0, self.docnos[np.maximum(rows, 0)], None)
        return scores.astype(np.float64), docnos

    def row(self, docno: str) -> int:
        if self._rows is None:
            self._rows = {d: i for i, d in enumerate(self.docnos)}
        try:
            return self._rows[docno]
        except KeyError:
            raise InputError(f"document {docno!r} is not in the FAISS index", self.path) from None

    def vectors(self, docnos: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``docnos`` (n, dim), for scoring given candidates."""
        rows = np.array([self.row(d) for d in docnos], dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.meta.get("type") == "ivf" and not self._direct_map:
            self._faiss.extract_index_ivf(self.index).make_direct_map()
            self._direct_map = True
        return np.asarray(self.index.reconstruct_batch(rows), dtype=np.float32).reshape(len(rows), self.dim)

    def score(self, queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """Row-wise similarity of query and document vectors in this index's metric."""
        q = check_matrix(queries, "query vectors", dim=self.dim)
        x = check_matrix(docs, "document vectors", dim=self.dim)
        if self.metric == "ip":
            return np.einsum("nd,nd->n", q, x).astype(np.float64)
        return -((q - x) ** 2).sum(1).astype(np.float64)
