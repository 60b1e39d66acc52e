"""``irkit generate train|sample|eval`` for the text models, on a small user text file."""

import pytest

PARAGRAPHS = [
    "the flow over the wing is laminar. the boundary layer separates near the trailing edge.",
    "a compiler for the algol language is described. the compiler runs in two passes.",
    "shock waves in hypersonic flow are studied. the shock stands off the blunt nose.",
    "storage allocation in a time sharing system. programs request memory in pages.",
    "the heat transfer to the plate is measured. the results agree with the theory.",
    "an algorithm for sorting records on tape. the method merges runs of records.",
]


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "abstracts.txt"
    p.write_text("\n\n".join(PARAGRAPHS * 5) + "\n")
    return p


SMALL = ["-O", "embed=8", "-O", "hidden=16", "-O", "batch_size=4"]
LATENT = ["-O", "latent=4"]


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("lstm-lm", []),
        ("sentence-vae", LATENT),
        ("dcnn-vae", [*LATENT, "-O", "dilations=1,2"]),
        ("hier-ae", ["-O", "max_sents=2"]),
    ],
)
def test_train_sample_eval(tmp_path, capsys, monkeypatch, text_file, model, extra, cli):
    out_dir = tmp_path / model
    code, out, err = cli(
        "generate", "train", model, "--output", out_dir, "--epochs", "1", "-q",
        "-O", f"text={text_file}", *SMALL, *extra,
    )  # fmt: skip
    assert code == 0, err
    assert f"saved {model}" in out and (out_dir / "vocab.json").is_file()
    samples = tmp_path / "samples.md"
    code, out, err = cli("generate", "sample", out_dir, "--n", "3", "--output", samples)
    assert code == 0, err
    text = samples.read_text()
    if model == "hier-ae":
        assert text.count("Reconstruction:") == 3
    else:
        assert all(f"\n{i}. " in text for i in (1, 2, 3)) and "\n4. " not in text
    if model.endswith("vae"):
        assert "Homotopies" in text and text.count("t = 0.00") == 3 and text.count("t = 1.00") == 3
    code, out, err = cli("generate", "eval", out_dir, "-O", "k=5")
    assert code == 0, err
    key = {"lstm-lm": "ppl:", "hier-ae": "ppl_reconstruction:"}.get(model, "ppl_iw:")
    assert key in out and "protocol:" in out
    if model.endswith("vae"):
        assert "kl_nats:" in out and "active_units:" in out and "ppl_elbo:" in out


def assert_one_line_error(code, err, *needles):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("irkit: error:"), err
    for n in needles:
        assert n in lines[0], lines[0]


def test_empty_text_file_is_one_clear_line(tmp_path, capsys, monkeypatch, cli):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    code, _, err = cli("generate", "train", "lstm-lm", "--output", tmp_path / "m", "-O", f"text={empty}")
    assert_one_line_error(code, err, str(empty), "empty")
    assert not (tmp_path / "m").exists()


def test_unknown_option_and_wrong_data_are_errors(tmp_path, capsys, monkeypatch, text_file, cli):
    code, _, err = cli("generate", "train", "sentence-vae", "--output", tmp_path / "m", "-O", "latnet=3")
    assert_one_line_error(code, err, "unknown option 'latnet'")
    code, _, err = cli("generate", "train", "sentence-vae", "--data", "mnist", "--output", tmp_path / "m")
    assert_one_line_error(code, err, "abstracts")


def test_same_seed_same_model_and_figures(tmp_path, text_file):
    import torch

    from irkit.generative import registry

    recipe = registry.recipe("sentence-vae")
    opts = {"text": str(text_file), "embed": "8", "hidden": "16", "latent": "4", "batch_size": "4"}
    for name in ("a", "b"):
        recipe.train("abstracts", tmp_path / name, epochs=1, seed=3, quiet=True, options=opts)
    wa, wb = (torch.load(tmp_path / n / "weights.pt") for n in ("a", "b"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    ea, eb = (recipe.evaluate(tmp_path / n, options={"k": "5"}) for n in ("a", "b"))
    assert ea["ppl_iw"] == eb["ppl_iw"] and ea["kl_nats"] == eb["kl_nats"]
