"""A shard set written by `irkit shard` is not a Lucene index: local ranking says what to do."""

from irkit.engine.shards import SHARDS_FILE, write_shards


def test_ranking_a_shard_set_without_ray_says_to_use_engine_ray(cacm_index, cacm, tmp_path, cli):
    write_shards(cacm_index.path, 2, tmp_path / "shards", quiet=True)
    assert (tmp_path / "shards" / SHARDS_FILE).is_file()  # the file LuceneIndex looks for
    code, _, err = cli("rank", "-i", tmp_path / "shards", "-t", cacm.topics, "-o", tmp_path / "x.run", "-q")
    assert code == 2 and "not a Lucene index but a shard set" in err and "--engine ray" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.run").exists()
