"""Text data: tokens, sentences, the fixed split, <unk> and the empty-file error."""

import pytest

from irkit.errors import InputError
from irkit.generative.text.data import (
    UNK,
    Vocab,
    document_sentences,
    load_corpus,
    read_text_file,
    split_documents,
    split_sentences,
    tokenize,
)


def test_tokenize_lowercases_splits_hyphens_and_maps_numbers():
    assert tokenize("High-speed flow at Mach 2.5, see /destalling/.") == [
        "high",
        "speed",
        "flow",
        "at",
        "mach",
        "<num>",
        "see",
        "destalling",
    ]


def test_sentences_at_full_stops_and_at_vaswani_double_spaces():
    # Cranfield keeps " ." ; Vaswani lost its full stops and kept a double space; line breaks are wrapping.
    assert split_sentences("the results were\nintended .  the comparative span") == [
        "the results were intended .",
        "the comparative span",
    ]
    assert split_sentences(
        "compact memories have flexible capacities  a digital data storage\nsystem is described"
    ) == [
        "compact memories have flexible capacities",
        "a digital data storage system is described",
    ]
    assert document_sentences("One. Two words!") == [["one"], ["two", "words"]]


def test_words_outside_the_vocabulary_map_to_unk():
    vocab = Vocab.build([["a", "b", "a"], ["c", "a"]], max_size=7)  # 5 specials + 2 words
    assert vocab.itos[5:] == ["a", "b"]  # most frequent first, ties alphabetical
    assert vocab.encode(["a", "c", "zebra"]) == [vocab.stoi["a"], UNK, UNK]
    assert vocab.decode(vocab.encode(["a", "zebra"])) == "a <unk>"


def test_split_is_fixed_and_by_document():
    docs = [[[f"w{i}", "x", "y"]] for i in range(50)]
    a, b = split_documents(docs), split_documents(docs)
    assert a == b
    train, valid, test = a
    assert (len(train), len(valid), len(test)) == (40, 5, 5)
    ids = [d[0][0] for part in a for d in part]
    assert sorted(ids) == sorted(f"w{i}" for i in range(50))


@pytest.mark.parametrize("content", ["", "\n\n   \n", "... !!! ---\n"])
def test_empty_text_file_is_a_clear_error(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_text(content)
    with pytest.raises(InputError, match=r"empty|no words") as e:
        read_text_file(p)
    assert str(p) in str(e.value)
    with pytest.raises(InputError):
        load_corpus(text=p)


def test_text_file_documents_are_paragraphs(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("first doc line one.\nstill first doc.\n\nsecond doc here.\n\n\nthird doc now.\n")
    assert [t.split()[0] for _, t in read_text_file(p)] == ["first", "second", "third"]
    corpus = load_corpus(text=p, min_len=2)
    assert sum(len(d) for part in (corpus.train, corpus.valid, corpus.test) for d in part) == 4
