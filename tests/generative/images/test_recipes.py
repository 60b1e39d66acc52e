"""Part A's recipes through ``irkit generate``: train, sample, eval on tiny settings; bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from irkit.errors import InputError, IrkitError
from irkit.generative import registry

# Tiny settings per model: one epoch on the 8x8 digits takes a second or two.
TINY = {
    "vae": ["hidden=32", "latent=4"],
    "iwae": ["hidden=32", "latent=8", "layers=2", "k=3"],
    "vaegan": ["hidden=32", "latent=4", "filters=4"],
    "avb": ["hidden=32", "latent=4", "noise=4", "t_hidden=32", "draws=4"],
    "statistician": ["hidden=32", "embed=16", "context=4", "latent=4"],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, object]:
    """Each model trained for one epoch on the digits, through its recipe."""
    root = tmp_path_factory.mktemp("models")
    folders = {}
    for name, opts in TINY.items():
        options = dict(o.split("=") for o in opts)
        registry.recipe(name).train("digits", root / name, epochs=1, device="cpu", seed=0, quiet=True, options=options)
        folders[name] = root / name
    return folders


@pytest.mark.parametrize("name", list(TINY))
def test_train_sample_eval(trained, name, tmp_path):
    folder = trained[name]
    meta = json.loads((folder / "model.json").read_text())
    assert meta["kind"] == name and meta["data"] == "digits" and meta["config"]["height"] == 8
    recipe = registry.recipe(name)
    png = recipe.sample(folder, 12, tmp_path / "grid.png", seed=0)
    img = np.asarray(Image.open(png))
    assert img.ndim == 2 and img.std() > 0
    result = recipe.evaluate(
        folder,
        options={"k": "20", "limit": "40", "set_k": "5"} if name == "statistician" else {"k": "20", "limit": "40"},
    )
    assert math.isfinite(result["nll"]) and 0 < result["nll"] < 64 * math.log(2) * 3
    if name != "avb":  # AVB's objective is no bound
        assert result["nll"] <= result["elbo_nll"] + 1.0  # k = 20 is at least about as tight as k = 1
    assert "digits" in result["protocol"] and result["estimator"]
    assert result["baseline_nll"] == pytest.approx(24.61, abs=0.01)


def test_sampling_is_seeded(trained, tmp_path):
    recipe = registry.recipe("vae")
    a = recipe.sample(trained["vae"], 8, tmp_path / "a.png", seed=5)
    b = recipe.sample(trained["vae"], 8, tmp_path / "b.png", seed=5)
    c = recipe.sample(trained["vae"], 8, tmp_path / "c.png", seed=6)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_statistician_rows_start_with_the_conditioning_set(trained, tmp_path):
    recipe = registry.recipe("statistician")
    png = recipe.sample(trained["statistician"], 20, tmp_path / "few.png", options={"digit": "3", "shots": "5"})
    # one row: 5 conditioning images then 20 generated, 8x8 each scaled x4 with 2-pixel gutters
    assert Image.open(png).size == (4 * (25 * 10 + 2), 4 * (10 + 2))
    with pytest.raises(InputError):
        recipe.sample(trained["statistician"], 4, tmp_path / "bad.png", options={"digit": "12"})


def test_cli_round_trip(trained, monkeypatch, capsys, tmp_path, cli):
    code, out, _ = cli("generate", "eval", str(trained["vae"]), "-O", "k=10", "-O", "limit=20")
    assert code == 0 and "nll:" in out and "protocol: sklearn digits" in out
    assert "active_units:" in out and "latent_units:" in out  # Burda et al.'s A_u, printed by eval
    code, out, _ = cli("generate", "sample", str(trained["avb"]), "--n", "4", "-o", str(tmp_path / "s.png"))
    assert code == 0 and (tmp_path / "s.png").is_file()


def test_checkpoint_of_another_model_fails(trained, monkeypatch, capsys):
    with pytest.raises(InputError, match="'vaegan' model, not 'vae'"):
        registry.recipe("vae").evaluate(trained["vaegan"], options={"k": "2"})
    with pytest.raises(InputError, match="not 'statistician'"):
        registry.recipe("statistician").load(trained["iwae"])


def test_bad_input(trained, monkeypatch, capsys, tmp_path, cli):
    with pytest.raises(IrkitError, match="unknown generative model 'vqvae'"):
        registry.get("vqvae")
    code, _, err = cli("generate", "train", "vqvae", "-o", str(tmp_path / "m"))
    assert code == 2 and err.count("\n") == 1 and "unknown generative model" in err
    code, _, err = cli("generate", "train", "vae", "--data", "cifar", "-o", str(tmp_path / "m"))
    assert code == 2 and "mnist or digits" in err
    code, _, err = cli("generate", "train", "vae", "--data", "digits", "-O", "latnet=3", "-o", str(tmp_path / "m"))
    assert code == 2 and "unknown option 'latnet'" in err and not (tmp_path / "m").exists()
    with pytest.raises(InputError, match="unknown option 'q'"):
        registry.recipe("iwae").evaluate(trained["iwae"], options={"q": "1"})
    with pytest.raises(InputError, match="expected int"):
        registry.recipe("vae").train("digits", tmp_path / "m", epochs=1, options={"latent": "many"})
    with pytest.raises(InputError, match="binarize"):
        registry.recipe("vae").train("digits", tmp_path / "m", epochs=1, options={"binarize": "otsu"})
    with pytest.raises(InputError, match="caption"):
        registry.recipe("vae").sample(trained["vae"], 4, tmp_path / "x.png", caption="a seven")
    code, _, err = cli("generate", "eval", str(tmp_path / "nothing"))
    assert code == 2 and "no such model folder" in err


def test_dynamic_binarisation_is_recorded(tmp_path):
    recipe = registry.recipe("vae")
    recipe.train(
        "digits",
        tmp_path / "dyn",
        epochs=1,
        device="cpu",
        quiet=True,
        options={"hidden": "16", "latent": "2", "binarize": "dynamic"},
    )
    result = recipe.evaluate(tmp_path / "dyn", options={"k": "5", "limit": "20"})
    assert "dynamic binarisation" in result["protocol"] and math.isfinite(result["nll"])
    assert result["baseline_nll"] != pytest.approx(24.61, abs=0.01)  # the baseline on the same (dynamic) test draw
