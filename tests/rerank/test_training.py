"""Training data of the learned rerankers: the option checks both trainers share, and the labels."""

import pytest

from irkit.errors import InputError
from irkit.rerank.training import labelled_features, letor_features


def _letor(path, labels):
    path.write_text("".join(f"{y} qid:{i // 3} 1:{i}.0 2:{i % 3}.0 #docid = d{i}\n" for i, y in enumerate(labels)))
    return path


def test_a_letor_file_brings_features_and_judgements(tmp_path):
    feats, judgements = letor_features(_letor(tmp_path / "a.txt", [1, 0, 0, 0, 2, 0]))
    assert feats.n_features == 2 and sorted(judgements["label"]) == [0, 0, 0, 0, 1, 2]
    with pytest.raises(InputError, match="no candidate is judged relevant"):
        letor_features(_letor(tmp_path / "b.txt", [0] * 6))


@pytest.mark.parametrize("trainer", ["irgan", "lambdamart"])
def test_both_trainers_refuse_the_same_option_mixes_in_one_line(tmp_path, cli, trainer):
    data = _letor(tmp_path / "a.txt", [1, 0, 0, 0, 2, 0])
    for args, message in [
        (["--letor", data, "-i", tmp_path], "--letor brings its own features and labels; drop --index"),
        (["-i", tmp_path, "-t", data], "--qrels, --candidates required (or train from a LETOR file with --letor)"),
    ]:
        code, _, err = cli("train", trainer, *args, "-o", tmp_path / "m", "-q")
        assert code == 2 and err.strip() == f"irkit: error: {message}", err
        assert not (tmp_path / "m").exists()


def test_lucene_features_are_labelled_by_the_judgements(cranfield_index, cranfield, capsys, monkeypatch):
    from irkit.io.topics import read_topics
    from irkit.io.trec import read_qrels
    from irkit.retrieve import BM25

    queries = read_topics(cranfield.topics).head(6)
    judgements = read_qrels(cranfield.qrels)
    judgements = judgements[judgements["qid"].isin(list(queries["qid"])[:5])]  # one topic left unjudged
    run = BM25(cranfield_index, hits=10).transform(queries)
    monkeypatch.setenv("IRKIT_QUIET", "0")  # the suite silences messages; this test reads one
    feats = labelled_features(cranfield_index, queries, judgements, run, depth=10, quiet=False)
    assert "1 candidate topics have no judgements" in capsys.readouterr().err
    assert set(feats.qids) == set(queries["qid"]) and len(feats.qids) == 60
    relevant = set(map(tuple, judgements[judgements["label"] > 0][["qid", "docno"]].to_numpy()))
    for q, d, y in zip(feats.qids, feats.docnos, feats.labels, strict=True):
        assert (y > 0) == ((q, d) in relevant)
    with pytest.raises(InputError, match="no candidate is judged relevant"):
        labelled_features(cranfield_index, queries, judgements.assign(label=0), run, depth=10, quiet=True)
