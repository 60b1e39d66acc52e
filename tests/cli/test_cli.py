"""The CLI end to end, in-process, and its one-line errors on bad input."""


def assert_one_line_error(code, err, *needles):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("irkit: error:") and "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_help_lists_commands(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for cmd in ("index", "rank", "eval", "leaderboard", "models", "train"):
        assert cmd in out


def test_rank_eval_leaderboard(tmp_path, cranfield, cranfield_index, cli):
    bm25 = tmp_path / "bm25.run"
    code, out, err = cli("rank", "-q", "-i", cranfield_index.path, "-t", cranfield.topics, "-o", bm25)
    assert code == 0, err
    assert "225 topics" in out
    weak = tmp_path / "weak.run"
    code, _, err = cli(
        "rank",
        "-q",
        "-i",
        cranfield_index.path,
        "-t",
        cranfield.topics,
        "-o",
        weak,
        "-O",
        "k1=0.1",
        "-O",
        "b=1.0",
    )
    assert code == 0, err
    code, out, err = cli(
        "eval",
        bm25,
        "--qrels",
        cranfield.qrels,
        "--measures",
        "AP nDCG@10",
        "--output",
        tmp_path / "e.csv",
    )
    assert code == 0, err
    assert "0.2879" in out and "0.3510" in out
    assert (tmp_path / "e.csv").read_text().startswith("run,AP,nDCG@10")
    report = tmp_path / "board.md"
    code, out, err = cli("leaderboard", bm25, weak, "--qrels", cranfield.qrels, "--baseline", bm25,
        "--measures", "nDCG@10 AP", "--output", report,
    )  # fmt: skip
    assert code == 0, err
    assert report.exists() and (tmp_path / "board.png").exists()
    assert out.splitlines()[1].split()[0] == "bm25"  # the stronger run leads


def test_eval_warns_about_unjudgeable_documents(tmp_path, cacm, cacm_index, cli):
    run = tmp_path / "c.run"
    assert cli("rank", "-q", "-i", cacm_index.path, "-t", cacm.topics, "-o", run)[0] == 0
    code, out, err = cli("eval", run, "--qrels", cacm.qrels, "--index", cacm_index.path, "--measures", "AP P@30")
    assert code == 0 and "0.3124" in out and "0.1942" in out  # trec_eval's order (README)
    assert "55 of 796 judgements" in err
    code, out, err = cli(
        "eval",
        run,
        "--qrels",
        cacm.qrels,
        "--index",
        cacm_index.path,
        "--normalise-ids",
        "--measures",
        "AP P@30",
        "-q",
        "--ties",
        "file",
    )
    assert code == 0 and "0.3241" in out and "0.1981" in out  # file order: Anserini's figure


def test_bad_inputs_give_one_line_and_no_partial_output(tmp_path, cranfield, cranfield_index, cli):
    topics = cranfield.topics
    out_run = tmp_path / "r.run"
    # missing index
    code, _, err = cli("rank", "-i", tmp_path / "nope", "-t", topics, "-o", out_run)
    assert_one_line_error(code, err, "no such index folder", "nope")
    # corrupt index
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "segments_2").write_bytes(b"\0\0junk")
    code, _, err = cli("rank", "-i", bad, "-t", topics, "-o", out_run)
    assert_one_line_error(code, err, "cannot open Lucene index")
    # empty query
    empty = tmp_path / "t.tsv"
    empty.write_text("1\tflow\n2\t\t\n")
    code, _, err = cli("rank", "-i", cranfield_index.path, "-t", empty, "-o", out_run)
    assert_one_line_error(code, err, f"{empty}:2:", "empty query")
    # unknown model
    code, _, err = cli("rank", "-m", "bm52", "-i", cranfield_index.path, "-t", topics, "-o", out_run)
    assert_one_line_error(code, err, "unknown model 'bm52'", "bm25")
    # an option the model does not take
    code, _, err = cli("rank", "-i", cranfield_index.path, "-t", topics, "-o", out_run, "-O", "variant=in-in")
    assert_one_line_error(code, err, "option 'variant' does not apply to model 'bm25'")
    assert not out_run.exists()
    # malformed run and qrels lines
    run = tmp_path / "m.run"
    run.write_text("1 Q0 12 1 3.5 t\n1 Q0 13 2 x t\n")
    code, _, err = cli("eval", run, "--qrels", cranfield.qrels)
    assert_one_line_error(code, err, f"{run}:2:")
    good = tmp_path / "g.run"
    good.write_text("1 Q0 12 1 3.5 t\n")
    qrels = tmp_path / "q.txt"
    qrels.write_text("1 0 12 1\n1 0 13\n")
    code, _, err = cli("eval", good, "--qrels", qrels, "--qrels-format", "trec")
    assert_one_line_error(code, err, f"{qrels}:2:")
    # unknown measure
    code, _, err = cli("eval", good, "--qrels", cranfield.qrels, "--measures", "nDGC@10")
    assert_one_line_error(code, err, "unknown measure 'nDGC@10'")
    # output that exists
    exists = tmp_path / "exists.run"
    exists.write_text("precious\n")
    code, _, err = cli("rank", "-i", cranfield_index.path, "-t", topics, "-o", exists)
    assert_one_line_error(code, err, "output exists", "--force")
    assert exists.read_text() == "precious\n"
    # index over an existing one
    code, _, err = cli("index", cranfield.docs, "--index", cranfield_index.path)
    assert_one_line_error(code, err, "output exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bad", "t.tsv", "m.run", "g.run", "q.txt", "exists.run"]
    )


def test_usage_error_exit_code(cli):
    code, _, err = cli("rank", "--no-such-option")
    assert code == 2 and "No such option" in err
