import json
import tarfile

import pytest

from irkit.errors import InputError
from irkit.io.documents import detect_format, iter_documents, read_documents


def test_pyserini_jsonl(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text(json.dumps({"id": "d1", "contents": "hello"}) + "\n\n" + json.dumps({"id": 2, "contents": "x"}) + "\n")
    assert detect_format(f) == "jsonl"
    df = read_documents(f)
    assert list(df.docno) == ["d1", "2"] and list(df.text) == ["hello", "x"]


def test_malformed_json_names_file_and_line(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text(json.dumps({"id": "d1", "contents": "a"}) + "\n" + '{"id": "d2", "contents": \n')
    with pytest.raises(InputError) as e:
        list(iter_documents(f))
    assert str(e.value).startswith(f"{f}:2:")


def test_beir_corpus_folder(tmp_path):
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"_id": "b1", "title": "T", "text": "body"}) + "\n")
    assert detect_format(tmp_path) == "beir"
    assert list(iter_documents(tmp_path)) == [("b1", "T\nbody")]


def test_trec_sgml_with_and_without_text_tags(tmp_path):
    f = tmp_path / "c.trec"
    f.write_text(
        "<DOC>\n<DOCNO>1</DOCNO>\nplain words here\n</DOC>\n"
        "<DOC>\n<DOCNO> FT-2 </DOCNO>\n<DATE>1990</DATE><HEADLINE>Head</HEADLINE><TEXT>Body &amp; more</TEXT><X>skip</X>\n</DOC>\n"
    )
    docs = dict(iter_documents(f))
    assert docs["1"] == "plain words here"
    assert "Head" in docs["FT-2"] and "Body & more" in docs["FT-2"] and "skip" not in docs["FT-2"]


def test_trec_doc_without_docno(tmp_path):
    f = tmp_path / "c.trec"
    f.write_text("<DOC>\n<DOCNO>1</DOCNO>\na\n</DOC>\n\n<DOC>\nno id\n</DOC>\n")
    with pytest.raises(InputError, match=r":6: <DOC> without a <DOCNO>"):
        list(iter_documents(f))


def test_smart_title_and_abstract_crlf(tmp_path):
    f = tmp_path / "cran.all"
    f.write_bytes(
        b".I 1\r\n.T\r\ntitle one\r\n.A\r\nauthor\r\n.B\r\nsrc\r\n.W\r\nabstract one\r\n.I 2\r\n.T\r\n.W\r\nonly abstract\r\n"
    )
    assert detect_format(f) == "smart"
    assert list(iter_documents(f)) == [("1", "title one\nabstract one"), ("2", "only abstract")]


def test_smart_text_before_record(tmp_path):
    f = tmp_path / "bad.all"
    f.write_text(".I 1\n.W\nok\n")
    f.write_text("stray\n.I 1\n.W\nok\n")
    with pytest.raises(InputError):
        detect_format(f)


def test_html_tarball_strips_tags_like_htmlcollection(tmp_path):
    page = "<html>\n<pre>\nAlgebraic a < b Language &amp; Co\n</pre>\n</html>\n"
    src = tmp_path / "CACM-0007.html"
    src.write_text(page)
    tgz = tmp_path / "c.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(src, arcname="CACM-0007.html")
    assert detect_format(tgz) == "archive"  # each member told apart as it is read
    [(docno, text)] = list(iter_documents(tgz))
    assert docno == "CACM-0007"
    # tags go, a bare "<" in text stays, entities are decoded
    assert "html" not in text and "pre" not in text
    assert "a < b" in text and "Language & Co" in text


def test_unknown_format_and_missing_path(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("just words\n")
    with pytest.raises(InputError, match="--format"):
        detect_format(f)
    with pytest.raises(InputError, match="no such file"):
        list(iter_documents(tmp_path / "nope"))
    with pytest.raises(InputError, match="unknown document format"):
        list(iter_documents(f, "pdf"))


def test_real_collections_counts(cacm, cranfield, vaswani):
    assert sum(1 for _ in iter_documents(cacm.docs)) == 3204
    cran = list(iter_documents(cranfield.docs))
    assert len(cran) == 1400 and sum(1 for _, t in cran if not t) == 2
    assert sum(1 for _ in iter_documents(vaswani.docs)) == 11429
