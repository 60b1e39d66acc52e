"""Property: every reader, fed a mutated or truncated real file, returns a frame or raises one InputError.

Seeds are the first lines of the real collections' own files (CACM, Cranfield,
Vaswani) and small LETOR and run files in their real layouts. hypothesis cuts,
deletes, inserts, replaces and duplicates bytes and lines; the reader must then
either give a well-formed frame or raise :class:`irkit.errors.InputError` that
names the file (and the line, where one line is at fault) - never any other
exception. Derandomised with few examples, so CI runs the same cases fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irkit.errors import InputError
from irkit.io.documents import read_documents
from irkit.io.letor import read_letor
from irkit.io.topics import read_topics
from irkit.io.trec import read_qrels, read_run

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


def _head(path: Path, lines: int) -> bytes:
    # The first lines of the text (the shipped collections are gzipped: their text, not the gzip bytes)
    import gzip

    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as fh:
        return b"".join(fh.readline() for _ in range(lines))


LETOR = (
    b"# features: bm25 tf idf\n"
    b"2 qid:10032 1:0.056537 2:0.000000 3:0.666667 #docid = GX029-35-5894638 inc = 0.0119 prob = 0.0392\n"
    b"0 qid:10032 1:0.279152 2:0.000000 3:0.000000 #docid = GX030-77-6315042 inc = 1 prob = 0.3460\n"
    b"1 qid:10033 1:0.130742 2:0.000000 3:0.333333 #docid = GX140-98-13566007 inc = 1 prob = 0.0731\n"
    b"0 qid:10033 2:0.5 #docid = GX256-43-0740276 inc = 0.0105 prob = 0.1007\n"
)
RUN = b"".join(
    f"{q} Q0 CACM-{d:04d} {r} {20.5 - r / 3:.6f} bm25\n".encode()
    for q in (1, 2)
    for r, d in enumerate((1410, 1572, 1605, 2020, 2358, 1410 + q), 1)
)


def _small_tar(source: Path, compress: bool) -> bytes:
    # The first CACM pages, re-archived: a real tarball small enough to mutate.
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(source) as src, tarfile.open(fileobj=buf, mode="w:gz" if compress else "w") as dst:
        for i, member in enumerate(src):
            if i >= 12:
                break
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    return buf.getvalue()


@pytest.fixture(scope="module")
def readers(cacm, cranfield, vaswani):
    c = {"cacm": cacm, "cranfield": cranfield, "vaswani": vaswani}
    return {
        "documents-tar": (_small_tar(c["cacm"].docs, False), ".tar", read_documents),
        "documents-targz": (_small_tar(c["cacm"].docs, True), ".tar.gz", read_documents),
        # name: (seed bytes, file suffix, reader)
        "documents-trec": (
            _head(c["vaswani"].docs, 39),
            ".trec",
            lambda p: read_documents(p, "trec"),
        ),  # 39: whole <DOC>s (a cut one is refused)
        "documents-smart": (_head(c["cranfield"].docs, 60), "", lambda p: read_documents(p, "smart")),
        "documents-auto": (_head(c["cranfield"].docs, 30), "", read_documents),
        "documents-jsonl": (
            b'{"id": "d1", "contents": "aerodynamics of a wing"}\n{"id": "d2", "contents": "slipstream"}\n',
            ".jsonl",
            read_documents,
        ),
        "documents-beir": (
            b'{"_id": "d1", "title": "wing", "text": "aerodynamics"}\n{"_id": "d2", "text": "slipstream"}\n',
            ".jsonl",
            lambda p: read_documents(p, "beir"),
        ),
        "topics-cacm": (_head(c["cacm"].topics, 40), ".txt", read_topics),
        "topics-smart": (_head(c["cranfield"].topics, 30), "", lambda p: read_topics(p, "smart")),
        "topics-trec": (_head(c["vaswani"].topics, 25), ".trec", lambda p: read_topics(p, "trec")),
        "topics-tsv": (b"1\tmeasurement of dielectric constant\n2\twaveguide fed microwave\n", ".tsv", read_topics),
        "topics-beir": (
            b'{"_id": "1", "text": "dielectric"}\n{"_id": "2", "text": "waveguide"}\n',
            ".jsonl",
            read_topics,
        ),
        "qrels-trec": (_head(c["vaswani"].qrels, 30), "", read_qrels),
        "qrels-cacm": (_head(c["cacm"].qrels, 30), ".txt", read_qrels),
        "qrels-cranfield": (_head(c["cranfield"].qrels, 30), "", lambda p: read_qrels(p, "cranfield")),
        "qrels-beir": (b"query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td3\t2\n", ".tsv", read_qrels),
        "runs": (RUN, ".run", read_run),
        "letor": (LETOR, ".txt", read_letor),
    }


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "delete", "insert", "replace", "dup-line", "swap-lines"]))
        n = len(data)
        if op == "cut":
            data = data[: draw(st.integers(0, n))]
        elif op == "delete" and n:
            i = draw(st.integers(0, n - 1))
            data[i : i + draw(st.integers(1, 40))] = b""
        elif op == "insert":
            i = draw(st.integers(0, n))
            noise = draw(
                st.one_of(
                    st.binary(min_size=1, max_size=12),
                    st.sampled_from(
                        [
                            b"\n",
                            b"\t",
                            b" ",
                            b"\xef\xbb\xbf",
                            b"\x00",
                            b"nan",
                            b"-1e400",
                            b"<DOC>",
                            b"</top>",
                            b".I",
                            b".X 1",
                            b"qid:",
                            b":",
                            b"#",
                            b'{"',
                            b"\r\n",
                            b"9" * 30,
                            b"\xff\xfe",
                        ]
                    ),
                )
            )
            data[i:i] = noise
        elif op == "replace" and n:
            i = draw(st.integers(0, n - 1))
            data[i] = draw(st.integers(0, 255))
        elif op in ("dup-line", "swap-lines"):
            lines = bytes(data).splitlines(keepends=True)
            if len(lines) >= 2:
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if op == "dup-line":
                    lines.insert(j, lines[i])
                else:
                    lines[i], lines[j] = lines[j], lines[i]
                data = bytearray(b"".join(lines))
    return bytes(data)


FRAME_COLUMNS = {
    "documents": ["docno", "text"],
    "topics": ["qid", "query"],
    "qrels": ["qid", "docno", "label"],
    "runs": ["qid", "docno", "score", "rank"],
}


def _check(name: str, reader, data: bytes, suffix: str, *, must_read: bool = False) -> None:
    """``data`` as a file read by ``reader``: a well-formed result, or one InputError naming the file
    (with ``must_read``, any error fails)."""
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"input{suffix}"
        p.write_bytes(data)
        try:
            out = reader(p)
        except InputError as e:
            if must_read:
                raise AssertionError(f"{name}: the reader refused a well-formed file: {e}") from e
            assert e.path == str(p), f"{name}: the error does not name the file: {e}"
            assert str(e).count("\n") == 0, f"{name}: not one line: {e!r}"
            assert e.line is None or 1 <= e.line <= data.count(b"\n") + 1, f"{name}: line {e.line} is not in the file"
            # Only a fault of the whole file (nothing in it) has no line.
            whole_file = ("empty", "no topics found", "no data lines", "no documents", "truncated")
            assert e.line is not None or any(w in e.reason for w in whole_file), f"{name}: no line: {e}"
            return
        if name == "letor":
            assert len(out) > 0 and out.values.shape == (len(out), out.n_features)
            return
        # a collection file may hold no documents (indexing says so); every other reader refuses emptiness
        assert isinstance(out, pd.DataFrame) and (len(out) > 0 or name.startswith("documents"))
        assert not must_read or len(out) > 0, f"{name}: the seed file read as empty"
        assert list(out.columns) == FRAME_COLUMNS[name.split("-")[0]]
        assert all(isinstance(x, str) and x for x in out.iloc[:, 0]), f"{name}: empty or non-str id"


READERS = [
    "documents-tar", "documents-targz", "documents-trec", "documents-smart", "documents-auto", "documents-jsonl", "documents-beir",
    "topics-cacm", "topics-smart", "topics-trec", "topics-tsv", "topics-beir",
    "qrels-trec", "qrels-cacm", "qrels-cranfield", "qrels-beir", "runs", "letor",
]  # fmt: skip


@pytest.mark.parametrize("name", READERS)
def test_seed_files_read_cleanly(name, readers):
    seed, suffix, reader = readers[name]
    _check(name, reader, seed, suffix, must_read=True)


@pytest.mark.parametrize("name", READERS)
def test_mutated_files_give_a_frame_or_one_input_error(name, readers):
    seed, suffix, reader = readers[name]

    @SETTINGS
    @given(data=mutated(seed))
    def prop(data: bytes) -> None:
        _check(name, reader, data, suffix)

    prop()


@pytest.mark.parametrize("name", READERS)
def test_every_truncation_point_gives_a_frame_or_one_input_error(name, readers):
    seed, suffix, reader = readers[name]

    @SETTINGS
    @given(cut=st.integers(0, len(seed)))
    def prop(cut: int) -> None:
        _check(name, reader, seed[:cut], suffix)

    prop()


# ---- numbers as trec_eval 9.0.8 reads them: atol for labels, atof for scores -------------------

_libc = __import__("ctypes").CDLL(None)
_libc.atof.restype, _libc.atof.argtypes = __import__("ctypes").c_double, [__import__("ctypes").c_char_p]
_libc.atol.restype, _libc.atol.argtypes = __import__("ctypes").c_long, [__import__("ctypes").c_char_p]
NUMBER_TEXT = st.one_of(
    st.from_regex(r"\A[+-]?[0-9]{1,4}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,2})?\Z"),
    st.text(alphabet="0123456789+-.eE_x\uff11\u0661\u00b2naif", min_size=1, max_size=8),
)


@SETTINGS
@given(text=NUMBER_TEXT)
def test_a_score_is_read_as_atof_reads_it_or_refused(text):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "run"
        p.write_text(f"1 Q0 d1 1 {text} t\n")
        try:
            score = read_run(p).score.iloc[0]
        except InputError as e:
            assert e.line == 1 and "score" in e.reason
            return
    assert score == _libc.atof(text.encode())


@SETTINGS
@given(text=NUMBER_TEXT)
def test_a_label_is_read_as_atol_reads_it_or_refused(text):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "qrels"
        p.write_text(f"1 0 d1 {text}\n")
        try:
            label = read_qrels(p, "trec").label.iloc[0]
        except InputError as e:
            assert e.line == 1 and "relevance" in e.reason
            return
    assert label == _libc.atol(text.encode())
