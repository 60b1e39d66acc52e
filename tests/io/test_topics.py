import json

import pytest

from irkit.errors import InputError
from irkit.io.topics import read_topics


def test_trec_topics_classic_and_vaswani_style(tmp_path):
    f = tmp_path / "t.trec"
    f.write_text(
        "<top>\n<num> Number: 301\n<title> International Organized Crime\n\n<desc> Description:\nIdentify orgs\n</top>\n"
        "<top>\n<num>7</num><title>\nMEASUREMENT OF DIELECTRIC\n</title>\n</top>\n"
    )
    q = read_topics(f)
    assert list(q.qid) == ["301", "7"]
    assert list(q["query"]) == ["International Organized Crime", "MEASUREMENT OF DIELECTRIC"]
    with pytest.raises(InputError, match=r":8: topic 7 has no <desc>"):
        read_topics(f, field="desc")
    f.write_text(f.read_text().split("<top>\n<num>7")[0])
    assert read_topics(f, field="desc")["query"][0] == "Identify orgs"


def test_smart_queries_numbered_by_position(tmp_path):
    f = tmp_path / "q.qry"
    f.write_bytes(b".I 001\r\n.W\r\nfirst query\r\n.I 004\r\n.W\r\nsecond\r\nquery\r\n")
    q = read_topics(f)
    assert list(q.qid) == ["1", "2"] and q["query"][1] == "second query"
    assert list(read_topics(f, smart_ids="field").qid) == ["001", "004"]


def test_empty_query_names_file_and_line(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("1\tok\n2\t   \n")
    with pytest.raises(InputError) as e:
        read_topics(f)
    assert str(e.value) == f"{f}:2: topic 2 has an empty query"


def test_duplicate_topic(tmp_path):
    f = tmp_path / "t.tsv"
    f.write_text("1\ta\n1\tb\n")
    with pytest.raises(InputError, match="appears twice"):
        read_topics(f)


def test_beir_and_tsv(tmp_path):
    b = tmp_path / "queries.jsonl"
    b.write_text(json.dumps({"_id": "q1", "text": "hello"}) + "\n")
    assert read_topics(b).iloc[0].tolist() == ["q1", "hello"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "q1"}\n')
    with pytest.raises(InputError, match=":1:"):
        read_topics(bad, "beir")


def test_real_topic_files(cacm, cranfield, vaswani):
    c = read_topics(cacm.topics)
    assert len(c) == 64 and c.qid.iloc[0] == "1"
    cr = read_topics(cranfield.topics)
    assert len(cr) == 225 and list(cr.qid[:3]) == ["1", "2", "3"] and cr.qid.iloc[-1] == "225"
    assert cr["query"].str.contains("\r").sum() == 0
    v = read_topics(vaswani.topics)
    assert len(v) == 93
