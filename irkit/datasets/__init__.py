"""Built-in collections, shipped inside the package so that irkit works offline on a fresh clone.

``irkit.datasets.get("cranfield")`` gives a :class:`Dataset` with ``documents()``,
``topics()`` and ``qrels()`` frames and the paths of its files; ``names()`` lists
them; ``irkit datasets`` prints the table. The files under ``irkit/datasets/data/``
are the collections' original files (documents gzipped; see each ``SOURCE.txt``
for the origin, checksums and licence note, and ``data/README.md``).

Each collection's quirks are handled here, in one place:

* **CACM**: the qrels name 55 documents without zero padding (``CACM-756`` for
  ``CACM-0756``). ``qrels()`` returns them **raw** by default, as distributed and as
  Anserini's ``cacm.yaml`` regression scores them (55 judgements then match no
  document); ``qrels(ids="normalised")`` maps them to the collection's ids. On the
  command line, ``--qrels cacm`` is the raw file and ``--normalise-ids --index DIR``
  maps it.
* **Cranfield**: ``cran.qry`` numbers queries ``.I 001..365`` with gaps, but the qrels
  number them 1..225 by position, so ``topics()`` numbers them by position. Grades run
  1 (complete answer) .. 4 (minimum interest) plus one ``-1`` line per query;
  ``qrels()`` reads them as the ``cranfield`` qrels format explicitly: gain
  ``5 - rel`` for 1..4, 0 for -1 and 5 (:func:`irkit.io.trec.cranfield_gain`).
* **Vaswani**: none (Terrier's TREC conversion of NPL).
* **MNIST**: only the 10,000 t10k images and labels (the 60k training images are not
  available); :mod:`irkit.generative.images.data` splits them.

Wherever the command line takes a collection, topics or qrels path, a built-in name
works too (:func:`resolve`); an existing path of the same name wins. So does an
ir_datasets name, ``irds:NAME`` (``get("irds:cranfield")``; :mod:`irkit.interop.irds`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from irkit.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from irkit.interop.irds import IrdsDataset

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("documents", "topics", "qrels")


class _Packaged:
    """What every built-in dataset has: its folder under ``data/``, its files' paths, its size."""

    name: str
    FILES: ClassVar[tuple[str, ...]]  # kinds; kind K's file name is the field ``K_file``

    @property
    def root(self) -> Path:
        return DATA / self.name

    @property
    def paths(self) -> dict[str, Path]:
        """``{kind: path}`` for each of :attr:`FILES`, and ``"source"``: SOURCE.txt."""
        return {**{k: self.root / getattr(self, f"{k}_file") for k in self.FILES}, "source": self.root / "SOURCE.txt"}

    def located(self) -> dict[str, Path]:
        """Like :attr:`paths`, but found by :func:`locate` (a copy under ``$IRKIT_DATA`` when that is set)."""
        return {k: locate(f"{self.name}/{getattr(self, f'{k}_file')}") for k in self.FILES}

    def size(self) -> int:
        """Bytes the dataset's files take inside the package."""
        return sum(f.stat().st_size for f in self.root.iterdir() if f.is_file())


@dataclass(frozen=True)
class Dataset(_Packaged):
    """A built-in test collection: documents, topics and qrels files with their formats."""

    FILES: ClassVar[tuple[str, ...]] = KINDS

    name: str
    title: str
    documents_file: str
    topics_file: str
    qrels_file: str
    documents_format: str
    topics_format: str
    qrels_format: str
    # Counts as published (SOURCE.txt); tests/datasets checks them against the files.
    n_documents: int
    n_topics: int
    n_judged: int
    n_qrels: int
    source: str
    licence: str
    quirks: str = ""
    extra: tuple[str, ...] = field(default=())

    def path(self, kind: str) -> Path:
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
        return self.paths[kind]

    def format(self, kind: str) -> str:
        """The reader format of one file (``documents``, ``topics`` or ``qrels``)."""
        return {"documents": self.documents_format, "topics": self.topics_format, "qrels": self.qrels_format}[kind]

    def documents(self) -> pd.DataFrame:
        """The documents frame (``docno, text``)."""
        return self._documents.copy()

    @cached_property
    def _documents(self) -> pd.DataFrame:
        from irkit.io.documents import read_documents

        return read_documents(self.paths["documents"], self.documents_format)

    def topics(self) -> pd.DataFrame:
        """The queries frame (``qid, query``); Cranfield's qids are positions (see the module doc)."""
        from irkit.io.topics import read_topics

        return read_topics(self.paths["topics"], self.topics_format)

    def qrels(self, ids: str = "raw") -> pd.DataFrame:
        """The qrels frame (``qid, docno, label``).

        ``ids="raw"`` keeps the judged ids as the file writes them; ``"normalised"``
        maps ids that differ from the collection's only in zero padding (CACM).
        """
        from irkit.io.trec import normalise_docnos, read_qrels

        if ids not in ("raw", "normalised"):
            raise InputError(f"ids must be 'raw' or 'normalised', not {ids!r}")
        q = read_qrels(self.paths["qrels"], self.qrels_format)
        if ids == "normalised":
            q, _ = normalise_docnos(q, set(self._documents["docno"]))
        return q


@dataclass(frozen=True)
class ImageDataset(_Packaged):
    """MNIST's t10k images and labels (IDX, gzipped)."""

    FILES: ClassVar[tuple[str, ...]] = ("images", "labels")

    name: str
    title: str
    images_file: str
    labels_file: str
    n_images: int
    source: str
    licence: str

    def images(self) -> np.ndarray:
        """uint8 images, shape ``(n, 28, 28)``."""
        from irkit.io.idx import read_idx

        return read_idx(self.paths["images"])

    def labels(self) -> np.ndarray:
        from irkit.io.idx import read_idx

        return read_idx(self.paths["labels"])


_DATASETS: dict[str, Dataset | ImageDataset] = {
    "cacm": Dataset(
        "cacm",
        "CACM abstracts 1958-1979 (SMART)",
        "cacm.tar.gz",
        "topics.cacm.txt",
        "qrels.cacm.txt",
        "cacm-html",
        "cacm",
        "trec",
        3204,
        64,
        52,
        796,
        "github.com/castorini/anserini-data (CACM/)",
        "none stated; classic SMART collection, circulated freely for IR research",
        "qrels raw by default (55 unpadded ids such as CACM-756); qrels(ids='normalised') maps them",
    ),
    "cranfield": Dataset(
        "cranfield",
        "Cranfield 1400 aerodynamics abstracts",
        "cran.all.1400.gz",
        "cran.qry",
        "cranqrel",
        "smart",
        "smart",
        "cranfield",
        1400,
        225,
        225,
        1837,
        "ir.dcs.gla.ac.uk cran.tar.gz (via github.com/hamza-mughees/Apache-Lucene-Cranfield)",
        "none stated; Glasgow IR group distributes it freely for research",
        "query ids by position (1..225); gain 5 - rel for grades 1..4, 0 for -1",
        ("cranqrel.readme",),
    ),
    "vaswani": Dataset(
        "vaswani",
        "Vaswani (NPL) physics abstracts",
        "doc-text.trec.gz",
        "query-text.trec",
        "qrels",
        "trec",
        "trec",
        "trec",
        11429,
        93,
        93,
        2083,
        "github.com/terrier-org/terrier-core (share/vaswani_npl)",
        "NPL collection, Glasgow IR group; the repository is MPL 1.1",
    ),
    "mnist": ImageDataset(
        "mnist",
        "MNIST t10k handwritten digits (images + labels)",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        10000,
        "LeCun, Cortes and Burges (via github.com/RahulBaboota/MNIST)",
        "commonly CC BY-SA 3.0 (Y. LeCun and C. Cortes)",
    ),
}


def names(kind: str | None = None) -> list[str]:
    """Built-in dataset names; ``kind="text"`` gives the test collections only."""
    if kind == "text":
        return [n for n, d in _DATASETS.items() if isinstance(d, Dataset)]
    return list(_DATASETS)


def get(name: str) -> Dataset | ImageDataset | IrdsDataset:
    """The built-in dataset ``name`` (``cacm``, ``cranfield``, ``vaswani``, ``mnist``), or ``irds:NAME``.

    ``irds:NAME`` is ir_datasets' dataset ``NAME``, read from its cache
    (:class:`irkit.interop.irds.IrdsDataset`: the same ``documents()``, ``topics()``,
    ``qrels()`` and ``path(kind)``).
    """
    from irkit.interop.irds import IrdsDataset, is_irds

    if is_irds(name):
        return IrdsDataset.parse(name)
    try:
        return _DATASETS[name.lower()]
    except KeyError:
        raise InputError(f"unknown built-in dataset {name!r}; choose from {', '.join(_DATASETS)}") from None


def locate(relative: str | os.PathLike[str]) -> Path:
    """A file named as in the datasets layout (``cranfield/cran.all.1400``, with or without ``.gz``).

    Under ``$IRKIT_DATA`` when that is set (the tests and benchmarks point it at other
    copies), else the built-in copy. The built-in documents are gzipped, other copies
    may not be: the name with ``.gz`` added or removed is taken when only that file
    exists. Benchmarks name their inputs this way, so they run on a fresh clone with
    nothing beside it.
    """
    root = os.environ.get("IRKIT_DATA")
    if root and not Path(root).is_dir():
        raise InputError(f"IRKIT_DATA={root!r} is not a folder (it names a copy of the datasets folder, or unset it)")
    path = (Path(root) if root else DATA) / relative
    if path.exists():
        return path
    # The built-in copies gzip the larger files; other copies may hold them either way.
    other = path.with_suffix("") if path.suffix == ".gz" else path.with_name(path.name + ".gz")
    return other if other.exists() else path


def _log(message: str, quiet: bool) -> None:
    from irkit.progress import log

    log(message, quiet)


def resolve(
    value: str | os.PathLike[str], kind: str, *, quiet: bool = False, fields: Sequence[str] | None = None
) -> Path:
    """The path a command-line collection, topics or qrels argument means.

    An existing file or folder is used as is (and if it shares a built-in's name,
    irkit says so). Otherwise a built-in name (``cacm``, ``cranfield``,
    ``vaswani``) gives that dataset's file of ``kind``, and ``irds:NAME`` the file
    irkit reads ir_datasets' part from (documents: their ``default_text()``, or
    ``fields``); anything else is returned unchanged, so the reader reports the
    missing path as before.
    """
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    from irkit.interop.irds import IrdsDataset, is_irds

    if is_irds(value) and not Path(value).exists():
        return IrdsDataset.parse(value).path(kind, fields, quiet=quiet)
    if fields is not None:
        raise InputError("--fields chooses the fields of an irds: collection's documents")
    p = Path(value)
    name = str(value).lower()
    builtin = name in names("text")
    if p.exists():
        if builtin:
            _log(f"{value}: using the path {p.resolve()} (not the built-in {name} {kind})", quiet)
        return p
    if builtin:
        d = _DATASETS[name]
        assert isinstance(d, Dataset)
        path = d.path(kind)
        _log(f"{value}: using the built-in {name} {kind} ({path})", quiet)
        return path
    return p


def resolve_qrels(value: str | os.PathLike[str], format: str = "auto", *, quiet: bool = False) -> tuple[Path, str]:
    """:func:`resolve` for qrels, with the built-in's qrels format when ``format`` is ``auto``.

    Cranfield's three columns are then read as the ``cranfield`` format (grade
    mapping) explicitly, not by guessing from the column count; ``irds:NAME``
    qrels are TREC qrels with ir_datasets' labels.
    """
    path = resolve(value, "qrels", quiet=quiet)
    from irkit.interop.irds import is_irds

    if format == "auto" and is_irds(value) and not Path(value).exists():
        return path, "trec"
    if format == "auto":
        for d in _DATASETS.values():
            if isinstance(d, Dataset) and path.resolve() == d.paths["qrels"]:
                return path, d.qrels_format
    return path, format
