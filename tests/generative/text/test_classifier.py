"""The LSTM classifier of Dai & Le's semi-supervised sequence learning: its seqae/lm initial
weights are the pretrained ones, bad input is one line, and a tiny fit on fortunes learns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from irkit.errors import InputError
from irkit.generative.text.classifier import (
    ClassifierConfig,
    ClassifierOptions,
    LSTMClassifier,
    build_classifier,
    fortunes_dir,
    label_subset,
    pretrain,
    read_fortunes,
    tensors,
    train_classifier,
)

CONFIG = ClassifierConfig(vocab_size=40, num_classes=3, dim=12, embed_dim=6, max_len=10)


def irkit(*args, env: dict | None = None) -> tuple[int, str]:
    """``irkit ARGS`` in a child process: (exit code, stderr + stdout)."""
    r = subprocess.run(
        [sys.executable, "-m", "irkit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    return r.returncode, r.stderr + r.stdout


def _docs(n: int = 60, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [list(rng.integers(4, 40, rng.integers(2, 9))) for _ in range(n)]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("init", ["seqae", "lm"])
def test_initial_weights_equal_the_pretrained_ones(init):
    torch.manual_seed(0)
    pre, hist = pretrain(init, _docs(), CONFIG, epochs=1, batch_size=16, quiet=True)
    assert len(hist.train_loss) == 1
    lstm = pre.encoder if init == "seqae" else pre.lstm
    clf = build_classifier(CONFIG, init, pre)
    assert _same(clf.embed, pre.embed) and _same(clf.lstm, lstm)
    fresh = build_classifier(CONFIG, "random")
    assert not _same(fresh.lstm, lstm)
    # A copy, not shared storage: fine-tuning the classifier leaves the pretrained model as it was.
    with torch.no_grad():
        clf.lstm.weight_hh_l0.add_(1.0)
    assert not torch.equal(clf.lstm.weight_hh_l0, lstm.weight_hh_l0)


def test_the_language_model_and_autoencoder_share_the_vocabulary_layout():
    from irkit.dense import seqae
    from irkit.generative.text import data

    # The LM's batches write <s>/</s>/<pad> with these ids; they must be the shared vocabulary's <bos>/<eos>/<pad>.
    assert (data.PAD, data.BOS, data.EOS) == (seqae.PAD, seqae.BOS, seqae.EOS)


def test_a_pretrained_model_of_another_size_is_refused():
    from irkit.dense.seqae import SeqAE, SeqAEConfig

    other = SeqAE(SeqAEConfig(40, dim=16, embed_dim=6))
    with pytest.raises(InputError, match="LSTM"):
        build_classifier(CONFIG, "seqae", other)
    with pytest.raises(InputError, match="unknown --init"):
        build_classifier(CONFIG, "glove")
    with pytest.raises(InputError):
        build_classifier(CONFIG, "lm", None)


def test_forward_gives_logits_and_loss():
    m = LSTMClassifier(CONFIG).eval()
    t = tensors([[5, 6, 7], [8], []], [0, 2, 1], CONFIG.max_len)
    with torch.no_grad():
        logits, loss = m(**t)
        alone, _ = m(**tensors([[8]], None, CONFIG.max_len))
    assert logits.shape == (3, 3)
    assert float(loss) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, t["labels"])))
    # Padding does not change a text's logits.
    assert torch.allclose(alone[0], logits[1], atol=1e-6)


def test_fortune_files_and_label_subsets(tmp_path):
    (tmp_path / "a").write_text("one\n%\ntwo lines\nof text\n%\n\n%\nthree\n%\n")
    (tmp_path / "a.dat").write_bytes(b"\x00\x01")
    (tmp_path / "a.u8").symlink_to(tmp_path / "a")
    (tmp_path / "b").write_text("x\n%\ny\n")
    assert read_fortunes(tmp_path) == {"a": ["one", "two lines\nof text", "three"], "b": ["x", "y"]}
    with pytest.raises(InputError, match="no fortunes folder"):
        read_fortunes(tmp_path / "missing")
    labels = [0] * 40 + [1] * 20
    keep = label_subset(labels, 0.25, seed=1)
    assert np.bincount(np.asarray(labels)[keep]).tolist() == [10, 5]
    assert keep.tolist() == label_subset(labels, 0.25, seed=1).tolist()
    assert keep.tolist() != label_subset(labels, 0.25, seed=2).tolist()
    assert len(label_subset(labels, 0.01, seed=0)) == 2  # at least one per class


def _fake_fortunes(root, per: int = 40) -> None:
    rng = np.random.default_rng(0)
    topics = {"cats": "cat purr meow whisker", "cars": "car engine wheel road", "code": "bug compiler code debug"}
    common = ["the", "a", "of", "and", "is", "it", "was"]
    for name, words in topics.items():
        texts = [" ".join(rng.choice(words.split() + common, 8)) for _ in range(per)]
        (root / name).write_text("\n%\n".join(texts) + "\n%\n")
    (root / "misc").write_text("\n%\n".join(" ".join(rng.choice([*common, "cat", "car", "bug"], 6)) for _ in range(30)))


def test_the_classifier_is_trained_by_irkit_train_but_is_no_ranking_model(cli):
    from irkit import registry

    code, out, _ = cli("train", "--help")
    assert code == 0 and "classifier" in out
    assert "classifier" not in registry.names()
    code, _, err = cli("rank", "--model", "classifier", "-t", "cranfield", "-o", "x.run")
    assert code == 2 and "unknown model 'classifier'" in err


def test_unknown_init_is_refused_with_one_line(tmp_path):
    code, text = irkit("train", "classifier", "--init", "glove", "-o", tmp_path / "m")
    assert code != 0
    assert "unknown --init 'glove'" in text and "random, seqae, lm" in text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text
    assert not (tmp_path / "m").exists()


def test_cli_trains_and_saves_a_classifier(tmp_path):
    _fake_fortunes(tmp_path)
    code, text = irkit(
        "train", "classifier", "--init", "lm", "--categories", 2, "--no-collections", "--fortunes", tmp_path,
        "--steps", 30, "--pretrain-epochs", 1, "--dim", 16, "--embed-dim", 8, "--vocab", 100, "--lr", 0.01,
        "-o", tmp_path / "m", "-q",
    )  # fmt: skip
    assert code == 0, text
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["kind"] == "classifier" and meta["options"]["init"] == "lm"
    assert meta["categories"] == ["cars", "cats"] and len(meta["pretrain_loss"]) == 1
    assert meta["test_accuracy"] > 0.5  # two well-separated word sets: chance is 0.5
    assert "test accuracy" in text


@pytest.mark.skipif(
    not fortunes_dir().is_dir(),
    reason=f"Debian's fortunes package is not installed ({fortunes_dir()} is missing; scripts/setup.sh installs it)",
)
def test_a_tiny_fit_on_real_fortunes_learns(monkeypatch):
    from irkit.generative.text import classifier

    opts = ClassifierOptions(
        init="seqae", categories=2, collections=False, vocab=3000, dim=32, embed_dim=16, max_len=30,
        steps=120, lr=3e-3, batch_size=32, pretrain_epochs=1, pretrain_docs=500, quiet=True,
    )  # fmt: skip
    seen = {}
    fit = classifier.fine_tune

    def spy(*args, **kwargs):
        seen["history"] = fit(*args, **kwargs)
        return seen["history"]

    monkeypatch.setattr(classifier, "fine_tune", spy)
    s = train_classifier(opts)
    losses = seen["history"].train_loss
    assert losses[-1] < losses[0]
    assert s["test_accuracy"] > s["chance"]  # people vs definitions: the majority class is about 0.51
