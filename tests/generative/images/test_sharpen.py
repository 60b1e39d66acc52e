"""The AlignDRAW sharpener (LAPGAN-style residual GAN): sizes, training, the --sharpen post-process, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from irkit.errors import InputError
from irkit.generative import registry
from irkit.generative.images import captions as cap
from irkit.generative.images.sharpen import SharpenConfig, Sharpener, coarse, mean_gradient
from irkit.nn import save_model


def test_output_has_the_input_size():
    torch.manual_seed(0)
    for side in (48, 28):
        model = Sharpener(SharpenConfig(height=side, width=side, filters=4))
        x = torch.rand(5, 1, side, side)
        assert model.sharpen(x).shape == x.shape
        out, loss = model((x > 0.5).float())
        assert out["output"].shape == x.shape and torch.isfinite(loss)
        assert float(out["output"].min()) >= 0 and float(out["output"].max()) <= 1


def test_coarse_level_is_blurrier():
    x = torch.from_numpy(cap.composites("seen", 20, seed=1)["images"])
    level = coarse(x, 2)
    assert level.shape == x.shape
    assert mean_gradient(level) < mean_gradient(x)
    assert torch.allclose(level.mean(), x.mean(), atol=1e-5)  # pooling and upsampling keep the mean


def test_bad_config():
    with pytest.raises(InputError, match="divisible"):
        SharpenConfig(height=30, width=30)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharpen")
    registry.recipe("sharpen").train(
        "mnist-captions", root / "s48", epochs=1, device="cpu", quiet=True, options={"filters": "4", "per_epoch": "64"}
    )
    tiny = {"embed": "8", "lang": "8", "align": "8", "steps": "2", "infer": "16", "gen": "16", "z": "4"}
    registry.recipe("aligndraw").train(
        "mnist-captions", root / "ad", epochs=1, device="cpu", quiet=True, options={**tiny, "per_epoch": "64"}
    )
    small = Sharpener(SharpenConfig(height=28, width=28, filters=4))
    save_model(root / "s28", "sharpen", small.config, small.state_dict())
    return root


def test_sharpened_samples_keep_their_size(folders, tmp_path, monkeypatch, capsys, cli):
    caption = ["--caption", "the digit 3 is at the top left", "--n", "4", "--seed", "1"]
    plain, sharp = tmp_path / "plain.png", tmp_path / "sharp.png"
    code, _, err = cli("generate", "sample", str(folders / "ad"), "-o", str(plain), *caption)
    assert code == 0, err
    code, _, err = cli(
        "generate", "sample", str(folders / "ad"), "-o", str(sharp), *caption,
        "--sharpen", str(folders / "s48"),
    )  # fmt: skip
    assert code == 0, err
    a, b = np.asarray(Image.open(plain)), np.asarray(Image.open(sharp))
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_sharpener_recipe_eval_and_sample(folders, tmp_path):
    recipe = registry.recipe("sharpen")
    result = recipe.evaluate(folders / "s48", options={"n": "20", "device": "cpu"})
    assert result["gradient_coarse"] < result["gradient_real"]
    assert {"l1_coarse", "l1_sharpened", "gradient_sharpened"} <= result.keys()
    png = np.asarray(Image.open(recipe.sample(folders / "s48", 4, tmp_path / "rows.png")))
    assert png.shape[1] == 2 * (3 * (cap.CANVAS + 2) + 2)  # coarse, sharpened, real; scale 2


def test_bad_input(folders, tmp_path, monkeypatch, capsys, cli):
    out = tmp_path / "x.png"
    code, _, err = cli(
        "generate", "sample", str(folders / "ad"), "-o", str(out), "--n", "2",
        "--sharpen", str(folders / "s28"),
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "trained for 28x28 images" in err and "these are 48x48" in err
    assert not out.exists()
    with pytest.raises(InputError, match="unknown option 'bogus'"):
        registry.recipe("sharpen").train("mnist-captions", tmp_path / "b", epochs=1, quiet=True, options={"bogus": "1"})
    with pytest.raises(InputError, match="sharpen trains on mnist-captions"):
        registry.recipe("sharpen").train("mnist", tmp_path / "b", epochs=1, quiet=True)
    with pytest.raises(InputError, match="'aligndraw' model"):  # a model folder of another kind as the sharpener
        registry.recipe("aligndraw").sample(folders / "ad", 2, out, sharpen=folders / "ad")
