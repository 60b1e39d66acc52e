"""Hostile inputs of issue 21: each one is refused with a located line or read as its format says.

Archives and compressed files are read with bounded memory, parsers in linear
time, numbers as trec_eval 9.0.8 reads them, model files checked before a
parser trusts them, and option values checked before anything runs.
"""

from __future__ import annotations

import pytest

from irkit.errors import InputError, IrkitError

# ---- option and environment values ----------------------------------------------------------


@pytest.mark.parametrize(
    "measure",
    [
        "P@1e1",
        "P@1e20",
        "P@10.0",
        "P@0",
        "P@10000000000",
        "P@１",
        "x" * 100_000,
        "(" * 5000 + "P" + ")" * 5000,
        "nDCG(dcg=(((((1)))))))@10",
        "__import__('os')",
    ],
)
def test_a_bad_measure_name_is_one_line(measure):
    from irkit.evaluate import parse_measures

    with pytest.raises(InputError, match="measure"):
        parse_measures([measure])


def test_measure_names_with_parameters_still_parse():
    from irkit.evaluate import parse_measures

    got = [str(m) for m in parse_measures("nDCG@10 P(rel=2)@5 IPrec@0.5 nDCG(dcg='exp-log2')@10 AP")]
    assert got == ["nDCG@10", "P(rel=2)@5", "IPrec@0.5", "nDCG(dcg='exp-log2')@10", "AP"]


@pytest.mark.parametrize("heap", ["garbage", "1k", "2e9", "0", "99999999999999999g", "-4g"])
def test_a_bad_java_heap_is_refused_before_the_jvm_starts(heap):
    from irkit._java import check_heap

    with pytest.raises(IrkitError, match="IRKIT_JAVA_HEAP"):
        check_heap(heap)
    assert check_heap("512m") == "512m"


@pytest.mark.parametrize("measure", ["P_１", "ndcg_cut.1e1", "P_10000000000", "ndcg_cut.5,10,((("])
def test_a_bad_trec_eval_measure_name_is_one_line(measure):
    from irkit.evaluate import parse_measures

    with pytest.raises(InputError, match="measure"):
        parse_measures([measure])


def test_trec_eval_measure_names_still_parse():
    from irkit.evaluate import parse_measures

    assert [str(m) for m in parse_measures("map ndcg_cut_10 ndcg_cut.5,10 P_30")] == ["AP", "nDCG@10", "nDCG@5", "P@30"]


# ---- archives and compressed files: bounded, member by member ------------------------------


@pytest.fixture
def small_bounds(monkeypatch):
    """Bounds of 1 MiB, so a bomb is a few kilobytes and is caught in milliseconds."""
    from irkit.io import documents

    monkeypatch.setattr(documents, "RATIO_FLOOR", 2**20)
    monkeypatch.setattr(documents, "MAX_RECORD", 2**20)


def _tar(path, members, mode="w"):
    """A tarball of ``(TarInfo, bytes | None)``."""
    import io
    import tarfile

    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _member(name, data=None, type=None, linkname=""):
    import tarfile

    info = tarfile.TarInfo(name)
    if type is not None:
        info.type = type
    info.linkname = linkname
    return info, data


def test_a_gzipped_line_bomb_is_refused(tmp_path, small_bounds, monkeypatch):
    import gzip

    from irkit.io import documents
    from irkit.io.documents import read_documents

    monkeypatch.setattr(documents, "RATIO_FLOOR", 64 * 2**20)  # the line's bound, not the total's

    p = tmp_path / "docs.jsonl.gz"
    p.write_bytes(gzip.compress(b'{"id": "1", "contents": "' + b"a" * 5 * 2**20 + b'"}\n'))
    with pytest.raises(InputError, match="longer than 1 MiB") as e:
        read_documents(p, "jsonl")
    assert e.value.path == str(p) and e.value.line == 1


def test_a_gzip_bomb_of_many_lines_is_refused(tmp_path, small_bounds):
    import gzip

    from irkit.io.documents import read_documents

    p = tmp_path / "cran.gz"
    p.write_bytes(gzip.compress(b".I 1\n.W\n" + (b" " * 1000 + b"\n") * 5000))
    with pytest.raises(InputError, match="decompression bomb") as e:
        read_documents(p, "smart")
    assert e.value.path == str(p)


@pytest.mark.parametrize("where", ["member", "trailer"])
def test_a_tar_gz_bomb_is_refused(tmp_path, small_bounds, where):
    import gzip

    from irkit.io.documents import read_documents

    plain = _tar(tmp_path / "x.tar", [_member("a.html", b"<p>x</p>" if where == "trailer" else b"a" * 5 * 2**20)])
    data = plain.read_bytes() + (b"\0" * 5 * 2**20 if where == "trailer" else b"")
    p = tmp_path / "c.tar.gz"
    p.write_bytes(gzip.compress(data))
    with pytest.raises(InputError, match="decompress") as e:
        read_documents(p)
    assert e.value.path == str(p)


def test_a_member_whose_pax_header_lies_about_its_size_is_refused(tmp_path):
    import tarfile

    from irkit.io.documents import read_documents

    info, data = _member("a.html", b"<p>hello</p>")
    info.pax_headers = {"size": str(10**15)}
    p = _tar(tmp_path / "c.tar", [(info, data)])
    with tarfile.open(p) as tar:
        assert tar.next().size == 10**15  # the forged size is what tarfile believes
    with pytest.raises(InputError, match="truncated or forged") as e:
        read_documents(p)
    assert "'a.html'" in str(e.value)


def test_junk_after_the_end_of_a_complete_tar_is_not_truncation(tmp_path):
    from irkit.io.documents import read_documents

    p = _tar(tmp_path / "c.tar", [_member("CACM-1.html", b"<p>one</p>")])
    p.write_bytes(p.read_bytes() + b"junk that is not the archive's" * 40)
    assert read_documents(p).values.tolist() == [["CACM-1", "one"]]


def test_a_tar_cut_before_its_end_is_truncated(tmp_path):
    from irkit.io.documents import read_documents

    p = _tar(tmp_path / "c.tar", [_member("CACM-1.html", b"<p>one</p>")] * 2)
    p.write_bytes(p.read_bytes()[:1536])  # pax header + header + data of the first member
    with pytest.raises(InputError, match="truncated"):
        read_documents(p)


def test_members_are_read_each_in_its_own_format(tmp_path):
    from irkit.io.documents import read_documents

    jsonl = b'{"id": "j1", "contents": "from jsonl"}\n{"id": "j2", "contents": "two"}\n'
    trec = b"<DOC>\n<DOCNO> t1 </DOCNO>\n<TEXT>from trec</TEXT>\n</DOC>\n"
    p = _tar(
        tmp_path / "mixed.tar",
        [_member("a/docs.jsonl", jsonl), _member("b.trec", trec), _member("c.html", b"<b>page</b>")],
    )
    got = read_documents(p).values.tolist()
    assert got == [["j1", "from jsonl"], ["j2", "two"], ["t1", "from trec"], ["c", "page"]]


def test_archive_links_are_read_or_counted(tmp_path, monkeypatch, capsys):
    import tarfile

    from irkit.io.documents import read_documents

    monkeypatch.setenv("IRKIT_QUIET", "0")
    p = _tar(
        tmp_path / "links.tar",
        [
            _member("d/a.html", b"<p>alpha</p>"),
            _member("d/hard.html", None, tarfile.LNKTYPE, "d/a.html"),
            _member("d/soft.html", None, tarfile.SYMTYPE, "a.html"),
            _member("d/out.html", None, tarfile.SYMTYPE, "../../etc/passwd"),
        ],
    )
    assert read_documents(p).values.tolist() == [["a", "alpha"], ["hard", "alpha"], ["soft", "alpha"]]
    assert "skipped 1 symbolic link member" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "type", "reason"),
    [
        ("dev.html", "3", "character device"),
        ("blk.html", "4", "block device"),
        ("fifo.html", "6", "FIFO"),
        ("/etc/abs.html", "0", "path out of the archive"),
        ("../up.html", "0", "path out of the archive"),
    ],
)
def test_archive_member_types_are_refused_by_name(tmp_path, name, type, reason):
    from irkit.io.documents import read_documents

    p = _tar(
        tmp_path / "bad.tar", [_member("ok.html", b"x"), _member(name, b"" if type == "0" else None, type.encode())]
    )
    with pytest.raises(InputError, match=reason) as e:
        read_documents(p)
    assert repr(name) in str(e.value)


def test_a_hard_link_to_a_missing_member_is_named(tmp_path):
    import tarfile

    from irkit.io.documents import read_documents

    p = _tar(tmp_path / "bad.tar", [_member("h.html", None, tarfile.LNKTYPE, "gone.html")])
    with pytest.raises(InputError, match=r"'h\.html' is a hard link to 'gone\.html'"):
        read_documents(p)


# ---- JSON, nulls, separators and ids ---------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "1", "contents": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 100 deep"),
        ('{"id": "1", "contents": null}', "'contents' is null, not a string"),
        ('{"id": null, "contents": "text"}', "document id is null, not a string"),
        ('{"id": "a b", "contents": "text"}', "has white space"),
        ('{"id": ["1"], "contents": "text"}', "not a string"),
    ],
)
def test_jsonl_documents_refuse_nulls_nesting_and_spaced_ids(tmp_path, line, reason):
    from irkit.io.documents import read_documents

    p = tmp_path / "docs.jsonl"
    p.write_text('{"id": "0", "contents": "fine"}\n' + line + "\n")
    with pytest.raises(InputError, match=reason) as e:
        read_documents(p, "jsonl")
    assert (e.value.path, e.value.line) == (str(p), 2)


def test_a_null_beir_query_id_is_refused(tmp_path):
    from irkit.io.topics import read_topics

    p = tmp_path / "queries.jsonl"
    p.write_text('{"_id": "1", "text": "one"}\n{"_id": null, "text": "two"}\n')
    with pytest.raises(InputError, match="query id is null") as e:
        read_topics(p, "beir")
    assert e.value.line == 2


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x85"])
def test_a_tsv_query_is_one_line_up_to_a_newline(tmp_path, sep):
    from irkit.io.topics import read_topics

    p = tmp_path / "q.tsv"
    p.write_text(f"1\tparallel{sep}algorithms\n2\tsorting\r\n", newline="")
    got = read_topics(p, "tsv")
    assert got.qid.tolist() == ["1", "2"]
    assert got["query"].iloc[0].startswith("parallel") and got["query"].iloc[0].endswith("algorithms")


@pytest.mark.parametrize(
    ("fmt", "text", "line"),
    [
        ("tsv", "1\tone\nq 2\ttwo\n", 2),
        ("trec", "<DOC>\n<DOCNO>a</DOCNO>\n</DOC>\n<DOC>\n<DOCNO> b c </DOCNO>\n</DOC>\n", 4),
        ("smart", ".I 1\n.W\nx\n.I 2 3\n.W\ny\n", 4),
    ],
)
def test_an_id_with_a_space_is_refused_where_it_is_read(tmp_path, fmt, text, line):
    from irkit.io.documents import read_documents
    from irkit.io.topics import read_topics

    p = tmp_path / f"f.{fmt}"
    p.write_text(text)
    with pytest.raises(InputError, match="white space") as e:
        read_topics(p, fmt) if fmt == "tsv" else read_documents(p, fmt)
    assert (e.value.path, e.value.line) == (str(p), line)


@pytest.mark.parametrize("kind", ["run", "qrels", "jsonl", "tsv"])
def test_invalid_utf8_ids_are_refused_not_merged(tmp_path, kind):
    from irkit.io.documents import read_documents
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels, read_run

    p = tmp_path / kind
    lines = {
        "run": [b"1 Q0 d\xff 1 2.0 t", b"1 Q0 d\xfe 2 1.0 t"],
        "qrels": [b"1 0 d\xff 1", b"1 0 d\xfe 0"],
        "jsonl": [b'{"id": "d\xff", "contents": "x"}', b'{"id": "d\xfe", "contents": "y"}'],
        "tsv": [b"q\xff\tone", b"q\xfe\ttwo"],
    }[kind]
    p.write_bytes(b"\n".join(lines) + b"\n")
    read = {"run": read_run, "qrels": read_qrels, "jsonl": lambda x: read_documents(x, "jsonl"), "tsv": read_topics}
    with pytest.raises(InputError, match="UTF-8") as e:
        read[kind](p)
    assert (e.value.path, e.value.line) == (str(p), 1)


def test_invalid_utf8_in_document_text_is_a_replacement_character(tmp_path):
    from irkit.io.documents import read_documents

    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": "1", "contents": "caf\xe9"}\n')
    assert read_documents(p, "jsonl").text.tolist() == ["caf\ufffd"]


# ---- numbers as trec_eval 9.0.8 reads them ----------------------------------------------------


def test_conflicting_duplicate_judgements_are_refused(tmp_path):
    from irkit.io.trec import read_qrels

    p = tmp_path / "q"
    p.write_text("1 0 d1 1\n1 0 d2 0\n1 0 d1 1\n")
    assert read_qrels(p).values.tolist() == [["1", "d1", 1], ["1", "d2", 0]]  # the same judgement twice is one
    p.write_text("1 0 d1 1\n1 0 d2 0\n1 0 d1 0\n")
    with pytest.raises(InputError, match="judged 1 for topic 1 at line 1 and 0 here") as e:
        read_qrels(p)
    assert e.value.line == 3


@pytest.mark.parametrize("first", ["+1", "1.0", "01", "1."])
def test_how_a_three_column_qrels_is_read_does_not_depend_on_how_its_first_label_is_written(tmp_path, first):
    from irkit.io.trec import read_qrels

    p = tmp_path / "q"
    rest = "1 d2 2\n1 d3 -1\n2 d1 3\n2 d4 -1\n"
    p.write_text("1 d1 1\n" + rest)
    expected = read_qrels(p)
    p.write_text(f"1 d1 {first}\n" + rest)
    assert read_qrels(p).equals(expected)


def test_scores_equal_in_float32_are_ties_as_in_trec_eval_9(tmp_path):
    import pandas as pd
    import pytrec_eval

    from irkit.evaluate import evaluate
    from irkit.frames import qrels_frame, run_frame

    qrels = qrels_frame([("q", "a", 1), ("q", "b", 0)])
    for sa, sb in [(1.0000000001, 1.0), (1.0, 1.0000000001), (2.0, 1.0)]:
        run = run_frame(pd.DataFrame({"qid": ["q", "q"], "docno": ["a", "b"], "score": [sa, sb]}))
        ref = pytrec_eval.RelevanceEvaluator({"q": {"a": 1, "b": 0}}, {"map"}).evaluate({"q": {"a": sa, "b": sb}})
        assert evaluate(run, qrels, "AP").iloc[0, 0] == ref["q"]["map"]


# ---- parsers linear in their input: 1 MB adversarial files of each format ----------------------

MB = 2**20
ADVERSARIAL = {
    # format: (reader, suffix, bytes); each took more than 30 s at 200-400 KB with a backtracking scan
    "trec-unclosed-doc": ("documents-trec", b"<DOC>\n" * (MB // 6)),
    "trec-unclosed-text": ("documents-trec", b"<DOC><DOCNO>1</DOCNO>" + b"<TEXT>\n" * (MB // 7) + b"</DOC>\n"),
    "trec-unclosed-tag": ("documents-trec", b"<DOC><DOCNO>1</DOCNO><TEXT>" + b"<a" * (MB // 2) + b"</TEXT></DOC>\n"),
    "trec-unclosed-comment": (
        "documents-trec",
        b"<DOC><DOCNO>1</DOCNO><TEXT>" + b"<!--" * (MB // 4) + b"</TEXT></DOC>\n",
    ),
    "trec-spaced-docno": ("documents-trec", b"<DOC><DOCNO>1" + b" " * MB + b"</DOC>\n"),
    "smart-spaced-tag": ("documents-smart", b".I 1\n.T" + b" " * MB + b"x\n"),
    "smart-many-tags": ("documents-smart", b".I 1\n" + b".T \n" * (MB // 4)),
    "jsonl-nested": ("documents-jsonl", b'{"id": "1", "contents": ' + b"[" * (MB // 2) + b"]" * (MB // 2) + b"}\n"),
    "jsonl-escapes": ("documents-jsonl", b'{"id": "1", "contents": "' + b"\\\\" * (MB // 2) + b'"}\n'),
    "beir-nested": ("documents-beir", b'{"_id": "1", "text": ' + b"{" * (MB // 2) + b"\n"),
    "html-unclosed": ("documents-html", b"<a" * (MB // 4) + b"<!--" * (MB // 8)),
    "topics-trec-unclosed": ("topics-trec", b"<top>\n" * (MB // 6)),
    "topics-trec-num": ("topics-trec", b"<top><num>" + b" " * MB + b"</top>\n"),
    "topics-cacm-docno": ("topics-cacm", b"<DOC><DOCNO>x" + b" " * MB + b"y</DOCNO></DOC>\n"),
    "topics-tsv-separators": ("topics-tsv", b"1\t" + "a\u2028".encode() * (MB // 4) + b"\n"),
    "topics-beir-nested": ("topics-beir", b'{"_id": "1", "text": ' + b"[" * MB + b"\n"),
    "topics-smart-spaces": ("topics-smart", b".I 1\n.W" + b" " * MB + b"\n"),
    "qrels-long-line": ("qrels", b"1 0 d " + b"1" * MB + b"\n"),
    "run-long-field": ("run", b"1 Q0 d 1 " + b"9" * MB + b" t\n"),
    "letor-many-features": ("letor", b"0 qid:1 " + b"1:0.5 " * (MB // 6) + b"\n"),
    "letor-docid-spaces": ("letor", b"0 qid:1 1:0.5 #" + b"docid " * (MB // 6) + b"\n"),
}


@pytest.mark.parametrize("case", sorted(ADVERSARIAL))
def test_a_1mb_adversarial_file_is_read_in_linear_time(tmp_path, case):
    import io
    import tarfile
    import time

    from irkit.io.documents import read_documents
    from irkit.io.letor import read_letor
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels, read_run

    kind, data = ADVERSARIAL[case]
    p = tmp_path / "input"
    if kind == "documents-html":
        p = tmp_path / "pages.tar"
        with tarfile.open(p, "w") as tar:
            info = tarfile.TarInfo("page.html")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    else:
        p.write_bytes(data)
    read = {
        "documents": lambda fmt: read_documents(p, fmt),
        "topics": lambda fmt: read_topics(p, fmt),
        "qrels": lambda _: read_qrels(p, "trec"),
        "run": lambda _: read_run(p),
        "letor": lambda _: read_letor(p),
    }
    family, _, fmt = kind.partition("-")
    t0 = time.perf_counter()
    try:
        read[family]({"html": "auto"}.get(fmt, fmt))
    except InputError as e:
        assert e.path is not None and "\n" not in str(e)
    # Generous (a linear read of 1 MB takes well under a second; a quadratic one minutes).
    assert time.perf_counter() - t0 < 5, case


# ---- LightGBM model files checked before LightGBM's parser reads them ---------------------------


@pytest.fixture(scope="module")
def lgb_folder(tmp_path_factory):
    """A saved LambdaMART folder of one part: 5 features, 3 trees of 4 leaves."""
    import lightgbm as lgb
    import numpy as np

    from irkit.rerank.irgan import Part
    from irkit.rerank.lambdamart import LambdaMARTConfig, LambdaMARTModel

    rng = np.random.default_rng(0)
    x, y = rng.random((200, 5)), rng.integers(0, 3, 200)
    params = {"objective": "lambdarank", "verbose": -1, "num_leaves": 4, "min_data_in_leaf": 5, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, y, group=[20] * 10), num_boost_round=3)
    features = {"names": [f"f{i}" for i in range(5)], "source": "letor"}
    model = LambdaMARTModel(LambdaMARTConfig(), [Part("all", ["1"], [], [])], {"all": booster}, features, {})
    return model.save(tmp_path_factory.mktemp("lgb") / "m"), x


def _mangled(folder, tmp_path, edit):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(folder, copy)
    tree = copy / "all.txt"
    tree.write_text(edit(tree.read_text()))
    return copy


def _set(key, value, tree=0):
    """Replace ``key=...`` in tree ``tree`` (or the header when tree is None)."""

    def edit(text):
        start = 0 if tree is None else text.index(f"\nTree={tree}\n")
        i = text.index(f"\n{key}=", start) + 1
        return text[:i] + f"{key}={value}" + text[text.index("\n", i) :]

    return edit


CRAFTED = {
    # name: (edit, what the message says); "negative-child" and "short-split" loaded and ranked before (rc=0)
    "negative-child": (_set("left_child", "1 2 -99"), "child leaf 98"),
    "child-past-end": (_set("right_child", "-2 7 -4"), "child node 7"),
    "cycle": (_set("left_child", "1 0 -1"), "child node 0"),
    "short-split": (_set("split_feature", "3"), "split_feature has 1 entries"),
    "feature-99": (_set("split_feature", "99 1 2"), "feature outside 0..4"),
    "max-feature": (_set("max_feature_idx", "1000000", None), "max_feature_idx=1000000"),
    "leaves": (_set("num_leaves", "100000000"), "num_leaves"),
    "tree-sizes": (_set("tree_sizes", "1 2 99999999", None), None),  # dropped, not followed
    "nan-leaf": (_set("leaf_value", "nan 1 2 3"), "not finite"),
    "categorical": (_set("num_cat", "5"), "categorical"),
    "objective": (_set("objective", "custom", None), "not a ranking objective"),
    "unknown-key": (lambda t: t.replace("num_cat=0", "num_cat=0\nevil=1", 1), "'evil'"),
    "cut": (lambda t: t[: t.index("end of trees")], "truncated"),
    "no-trees": (lambda t: t[: t.index("Tree=0")] + "end of trees\n", "no trees"),
    "binary": (lambda t: "\x00\xff" + t, "not a LightGBM text model"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_lightgbm_model_is_refused_before_lightgbm_reads_it(lgb_folder, tmp_path, case):
    from irkit.rerank.lambdamart import LambdaMARTModel

    folder, x = lgb_folder
    edit, reason = CRAFTED[case]
    bad = _mangled(folder, tmp_path, edit)
    if reason is None:  # read without what LightGBM would trust: same predictions as the good model
        good = LambdaMARTModel.load(folder).boosters["all"].predict(x)
        assert (LambdaMARTModel.load(bad).boosters["all"].predict(x) == good).all()
        return
    with pytest.raises(InputError, match=reason) as e:
        LambdaMARTModel.load(bad)
    assert e.value.path == str(bad / "all.txt") and "\n" not in str(e.value)


def test_a_checked_lightgbm_model_predicts_as_lightgbm_read_it(lgb_folder):
    import lightgbm as lgb

    from irkit.rerank.lambdamart import LambdaMARTModel

    folder, x = lgb_folder
    direct = lgb.Booster(model_file=str(folder / "all.txt")).predict(x)
    assert (LambdaMARTModel.load(folder).boosters["all"].predict(x) == direct).all()


# ---- torch model folders: config and weights checked before anything is allocated -------------


def _seqae_folder(tmp_path, **config):
    from irkit.dense.seqae import SeqAE, SeqAEConfig
    from irkit.nn import save_model

    model = SeqAE(SeqAEConfig(vocab_size=50, dim=8, embed_dim=4))
    folder = save_model(
        tmp_path / "m", "seqae", {"vocab_size": 50, "dim": 8, "embed_dim": 4, **config}, model.state_dict()
    )
    return folder, model.state_dict()


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"dim": 10**12}, "Storage size calculation overflowed"),  # no 8 TB allocation tried
        ({"dim": 10**5}, r"decoder\.\S+ is of shape"),  # built on torch's meta device: nothing allocated
        ({"embed_dim": 5}, "is of shape"),
        ({"dim": "many"}, "describe no model irkit can build"),
        ({"surprise": 1}, "describe no model irkit can build"),
    ],
)
def test_a_config_that_does_not_fit_its_weights_is_one_line(tmp_path, config, reason):
    from irkit.dense.seqae import SeqAE, SeqAEConfig
    from irkit.nn import load_model
    from irkit.nn.checkpoint import fitted

    folder, _ = _seqae_folder(tmp_path, **config)
    meta, state = load_model(folder, "seqae")
    with pytest.raises(InputError, match=reason) as e:
        fitted(lambda: SeqAE(SeqAEConfig(**meta["config"])), state, folder)
    assert e.value.path == str(folder)


def test_weights_of_another_model_are_one_line(tmp_path):
    import torch

    from irkit.nn.checkpoint import fitted
    from irkit.rerank.irgan import Scorer

    with pytest.raises(InputError, match=r"conv1\.weight is of shape"):
        fitted(lambda: Scorer(5, 4), {"conv1.weight": torch.zeros(2)}, tmp_path)
    with pytest.raises(InputError, match="is missing"):
        fitted(lambda: Scorer(5, 4), {}, tmp_path)
    with pytest.raises(InputError, match="not a dict of tensors"):
        fitted(lambda: Scorer(5, 4), {"x": [1, 2]}, tmp_path)
    good = Scorer(5, 4).state_dict()
    assert fitted(lambda: Scorer(5, 4), good, tmp_path).state_dict().keys() == good.keys()


@pytest.mark.parametrize("name", ["model.json", "config.json"])
def test_a_model_json_nested_100k_deep_is_one_line(tmp_path, name):
    from irkit.nn import load_model
    from irkit.rerank.lambdamart import LambdaMARTModel

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / name).write_text('{"kind": "seqae", "config": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(InputError, match="nested more than 100 deep"):
        load_model(folder, "seqae") if name == "model.json" else LambdaMARTModel.load(folder)


# ---- option values refused before any work, naming the option and its range -------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["rank", "-i", "x", "-t", "cranfield", "-o", "o.run", "--hits", "2000000000"], "--hits"),
        (["rank", "-i", "x", "-t", "cranfield", "-o", "o.run", "--hits", "1e12"], "--hits"),
        (["rank", "-i", "x", "-t", "cranfield", "-o", "o.run", "--depth", "0"], "--depth"),
        (["rank", "-i", "x", "-t", "cranfield", "-o", "o.run", "--threads", "100000"], "--threads"),
        (["index", "cranfield", "-i", "idx", "--threads", "100000"], "--threads"),
        (["train", "docnade", "-i", "x", "-o", "m", "--lr", "nan"], "--lr"),
        (["train", "seqae", "-i", "x", "-o", "m", "--lr", "-1"], "--lr"),
        (["train", "docnade", "-i", "x", "-o", "m", "--holdout", "inf"], "--holdout"),
    ],
)
def test_a_bad_option_value_is_refused_before_any_work(cli, tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2 and says in err and "Traceback" not in err, err
    if args[-1] != "1e12":  # not an integer at all: click's own usage error names the option
        assert err.startswith(f"irkit: error: {says} ") and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_a_non_finite_model_option_is_one_line(cranfield_index, cranfield, tmp_path, cli):
    code, _, err = cli("rank", "-m", "ql", "-O", "mu=nan", "-i", cranfield_index.path, "-t", cranfield.topics,
                       "-o", tmp_path / "o.run")  # fmt: skip
    assert code == 2 and "mu=nan" in err and "finite" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.run").exists()


@pytest.mark.parametrize(("name", "value"), [("IRKIT_JAVA_HEAP", "garbage"), ("IRKIT_JAVA_HEAP", "1k")])
def test_a_bad_environment_value_is_one_line_before_any_work(cli, tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    code, _, err = cli("index", "cranfield", "-i", tmp_path / "idx")
    assert (
        code == 2
        and err.strip()
        == f"irkit: error: {name}={value!r}: expected a Java heap size of at least 64m, such as 512m or 4g"
    )
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize("garbage", ["file", "gzip"])
def test_irkit_data_pointing_at_garbage_is_one_line(tmp_path, monkeypatch, garbage):
    from irkit import datasets
    from irkit.io.documents import iter_smart_records

    if garbage == "file":
        (tmp_path / "f").write_text("x")
        monkeypatch.setenv("IRKIT_DATA", str(tmp_path / "f"))
        with pytest.raises(InputError, match=r"IRKIT_DATA=.* is not a folder"):
            datasets.get("cranfield").located()
        return
    (tmp_path / "cranfield").mkdir()
    (tmp_path / "cranfield" / "cran.all.1400.gz").write_bytes(b"not gzip at all" * 50)
    monkeypatch.setenv("IRKIT_DATA", str(tmp_path))
    docs = datasets.get("cranfield").located()["documents"]
    with pytest.raises(InputError, match="corrupt compressed file") as e:
        list(iter_smart_records(docs))
    assert e.value.path == str(docs)


# ---- the pipeline's text form: nesting bounded, a located line ----------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(" * 200 + "identity" + ")" * 200,
        "rrf(" * 150 + "identity" + ")" * 150,
        "(" * 100_000,
    ],
)
def test_a_deeply_nested_pipeline_is_one_located_line(text):
    import time

    from irkit.parse import parse

    t0 = time.perf_counter()
    with pytest.raises(IrkitError, match=r"nested more than 100 deep .* at column \d+ of '") as e:
        parse(text)
    assert len(str(e.value)) < 300 and time.perf_counter() - t0 < 5


def test_pipelines_nested_within_the_bound_parse():
    import time

    from irkit.parse import parse

    assert repr(parse("(" * 99 + "identity" + ")" * 99)) == "identity"
    # The 5,000-long chains: read in a loop and built as one flat Sum/FeatureUnion (a RecursionError
    # before; then a + or ** that copied the terms at each step: 4-7 s, quadratic).
    for op in (" ** ", " + "):
        chain = op.join(["identity"] * 5000)
        t0 = time.perf_counter()
        assert repr(parse(chain)) == chain
        assert time.perf_counter() - t0 < 2


def test_a_gzipped_tar_named_tar_is_read_and_a_spaced_page_name_refused(tmp_path):
    import gzip

    from irkit.io.documents import read_documents

    plain = _tar(tmp_path / "x.tar", [_member("CACM-1.html", b"<p>one</p>")])
    p = tmp_path / "c.tar"
    p.write_bytes(gzip.compress(plain.read_bytes()))  # told by its magic bytes, as tarfile did
    assert read_documents(p).values.tolist() == [["CACM-1", "one"]]
    bad = _tar(tmp_path / "s.tar", [_member("my page.html", b"<p>x</p>")])
    with pytest.raises(InputError, match="white space") as e:
        read_documents(bad)
    assert e.value.path == f"{bad}/my page.html"
