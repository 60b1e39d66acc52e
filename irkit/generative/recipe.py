"""The one recipe base behind ``irkit generate``: images, text and audio share it.

A recipe turns a model file (``nn.Module`` + dataclass config) into the
registry's three commands. :class:`Recipe` holds the skeleton once:

``train``
    parse ``-O`` options against the config's defaults and the recipe's
    training defaults (one parser, :func:`parse_options`), :meth:`prepare` the
    data, :meth:`configure` the config, :meth:`build` the model, :meth:`fit` it
    with :class:`irkit.nn.Trainer`, save the model folder atomically;
``sample``
    load, :meth:`generate`, :meth:`write` (a PNG grid, a text file, WAV files);
``evaluate``
    load, :meth:`test_data`, :meth:`score` and :meth:`report` (baseline, protocol).

A family (:mod:`.images.common`, :mod:`.text.common`, :mod:`.audio.wavenet`)
fills in its data and output hooks; a model file then brings :meth:`build`,
:meth:`fit` (when the default batches do not suit it), :meth:`score` and
:meth:`generate`. Heavy libraries load inside the methods.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from irkit.errors import InputError

# -- options ---------------------------------------------------------------------------


def _convert(key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            return tuple(int(v) for v in value.replace(",", " ").split())
    except ValueError:
        raise InputError(f"option {key}={value!r}: expected {type(default).__name__}") from None
    return value


def parse_options(options: dict[str, Any] | None, defaults: dict[str, Any], what: str = "option") -> dict[str, Any]:
    """``defaults`` updated by ``options`` (strings converted to the default's type); unknown keys raise."""
    out = dict(defaults)
    for key, value in (options or {}).items():
        if key not in defaults:
            raise InputError(f"unknown {what} {key!r}; known: {', '.join(sorted(defaults)) or 'none'}")
        out[key] = _convert(key, value, defaults[key])
    return out


def config_defaults(config_cls: type, exclude: tuple[str, ...] | set[str] = ()) -> dict[str, Any]:
    """Field name -> default of a config dataclass, less the fields without one and those in ``exclude``."""
    return {
        f.name: f.default
        for f in dataclasses.fields(config_cls)
        if f.default is not dataclasses.MISSING and f.name not in exclude
    }


def set_threads(n: int | None) -> None:
    """``torch.set_num_threads(n)`` for a positive ``n`` (the ``threads`` option); 0 leaves torch as it is."""
    if n is not None and n < 0:
        raise InputError(f"threads must be positive, or 0 for torch's choice (got {n})")
    if n and n > 0:
        import torch

        torch.set_num_threads(n)


def check_epochs(epochs: int) -> int:
    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, not {epochs}")
    return epochs


# -- the base --------------------------------------------------------------------------


class Recipe:
    """train/sample/evaluate for one registered model (see :mod:`irkit.generative.registry`)."""

    kind: str = ""
    config_cls: type = type(None)
    epochs: int = 10
    data_fields: tuple[str, ...] = ()  # config fields the data sets (image size, vocabulary); not options
    data_defaults: dict[str, Any] = {}  # noqa: RUF012  (options that choose the data)
    train_defaults: dict[str, Any] = {}  # noqa: RUF012  (options of the training run, saved in model.json)
    overrides: dict[str, Any] = {}  # noqa: RUF012  (this recipe's defaults for config fields)
    eval_defaults: dict[str, Any] = {}  # noqa: RUF012
    sample_defaults: dict[str, Any] = {}  # noqa: RUF012
    captions: bool = False  # whether ``sample`` takes ``--caption``
    device: str = "auto"  # where load puts the model unless a ``device`` option says otherwise
    quiet: bool = False
    log_every: int = 50

    # -- what a family or a model file provides ------------------------------------------
    def build(self, config):
        raise NotImplementedError

    def prepare(self, data: str, opts: dict[str, Any]) -> Any:
        """The training data named by ``--data``, in whatever form :meth:`fit` reads."""
        raise NotImplementedError

    def data_config(self, prepared: Any) -> dict[str, Any]:
        """Values of :attr:`data_fields` read off the data."""
        return {}

    def fit(self, model, prepared: Any, trainer, opts: dict[str, Any]):
        """Train ``model``; returns the trainer's history."""
        raise NotImplementedError

    def train_meta(self, data: str, prepared: Any, opts: dict[str, Any], history) -> dict[str, Any]:
        """Extra ``model.json`` fields that :meth:`load`'s users need (binarisation, corpus, vocabulary)."""
        return {}

    def model_files(self, prepared: Any) -> dict[str, Any]:
        """Extra files of the model folder: name -> ``write(path)``."""
        return {}

    def protocol(self, data: str, opts: dict[str, Any]) -> str:
        return data

    def summary(self, data: str, prepared: Any, opts: dict[str, Any], model, history, seconds: float) -> dict:
        """What ``irkit generate train`` prints."""
        return {
            "data": self.protocol(data, opts),
            "epochs": len(history.train_loss),
            "final train loss": f"{history.train_loss[-1]:.3f}",
            "seconds": f"{seconds:.1f}",
            "parameters": sum(p.numel() for p in model.parameters()),
        }

    def describe(self, config) -> str:
        """A few words for the eval output (e.g. '2 stochastic layers, trained on L_5')."""
        return ""

    def check_output(self, output: Path) -> None:
        """Refuse a sample output before any work (e.g. audio needs a .wav name)."""

    def generate(self, model, n: int, opts: dict[str, Any]) -> Any:
        """``n`` samples; ``opts`` holds the sample options, ``meta``, ``caption`` and ``seed``."""
        raise NotImplementedError

    def write(self, samples: Any, output: Path, opts: dict[str, Any]) -> Path:
        raise NotImplementedError

    def sharpen(self, samples: Any, sharpener: str | os.PathLike[str], opts: dict[str, Any]) -> Any:
        """Post-process samples with a sharpener model folder (image models only)."""
        raise InputError(f"{self.kind} does not draw images; --sharpen is for image models")

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> Any:
        """The held-out data a model is scored on, from its ``model.json``."""
        return None

    def score(self, model, data: Any, opts: dict[str, Any]) -> dict[str, Any]:
        """Test figures; ``opts`` holds the eval options (``device`` resolved) and ``meta``."""
        raise NotImplementedError

    def report(self, model, data: Any, opts: dict[str, Any]) -> dict[str, Any]:
        """Figures printed after the scores: the baseline and the protocol."""
        return {}

    # -- the skeleton --------------------------------------------------------------------
    def train_options(self, options: dict[str, Any] | None) -> dict[str, Any]:
        defaults = {
            **config_defaults(self.config_cls, self.data_fields),
            **self.data_defaults,
            **self.train_defaults,
            **self.overrides,
        }
        return parse_options(options, defaults)

    def configure(self, prepared: Any, opts: dict[str, Any]):
        fields = {f.name for f in dataclasses.fields(self.config_cls)} - set(self.data_fields)
        return self.config_cls(**self.data_config(prepared), **{k: v for k, v in opts.items() if k in fields})

    def trainer_config(self, epochs: int, device: str, seed: int, quiet: bool, opts: dict[str, Any]):
        from irkit.nn import TrainerConfig

        # grad_clip 0 = no clipping (image losses are nats per image, not per pixel)
        clip = opts.get("grad_clip", 5.0) or None
        return TrainerConfig(
            epochs=epochs,
            lr=opts["lr"],
            grad_clip=clip,
            device=device,
            seed=seed,
            quiet=quiet,
            log_every=self.log_every,
        )

    def train(
        self,
        data: str,
        output: str | os.PathLike[str],
        *,
        epochs: int | None = None,
        device: str = "auto",
        seed: int = 0,
        quiet: bool = False,
        options: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        from irkit.nn import Trainer, save_model, seed_everything

        self.quiet = quiet  # for data preparation that reports progress (speech synthesis)
        opts = self.train_options(options)
        epochs = check_epochs(self.epochs if epochs is None else epochs)
        set_threads(opts.get("threads"))
        prepared = self.prepare(data, opts)
        config = self.configure(prepared, opts)
        seed_everything(seed)
        model = self.build(config)
        trainer = Trainer(self.trainer_config(epochs, device, seed, quiet, opts))
        start = time.perf_counter()
        history = self.fit(model, prepared, trainer, opts)
        seconds = time.perf_counter() - start
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        extra = {
            "data": data,
            **self.train_meta(data, prepared, opts, history),
            "train": {k: opts[k] for k in self.train_defaults if k != "threads"},
            "epochs": epochs,
            "seed": seed,
            "seconds": round(seconds, 1),
            "train_loss": [round(v, 4) for v in history.train_loss],
        }
        save_model(output, self.kind, config, state, extra=extra, files=self.model_files(prepared))
        return self.summary(data, prepared, opts, model, history, seconds)

    def load(self, model_dir: str | os.PathLike[str], device: str | None = None):
        """``(model, meta)`` from a model folder of this recipe's kind (another kind fails clearly);
        ``meta["folder"]`` is the folder."""
        from irkit.nn import load_model, pick_device
        from irkit.nn.checkpoint import fitted

        meta, state = load_model(model_dir, self.kind)
        tuples = {f.name for f in dataclasses.fields(self.config_cls) if isinstance(f.default, tuple)}
        values = {k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in meta["config"].items()}
        try:
            config = self.config_cls(**values)
        except TypeError as e:
            raise InputError(f"model.json does not fit {self.config_cls.__name__} ({e})", Path(model_dir)) from None
        model = fitted(lambda: self.build(config), state, Path(model_dir))
        model.to(pick_device(device or self.device)).eval()
        return model, {**meta, "folder": str(model_dir)}

    def sample(
        self,
        model_dir: str | os.PathLike[str],
        n: int,
        output: str | os.PathLike[str],
        *,
        caption: str | None = None,
        seed: int = 0,
        options: dict[str, str] | None = None,
        sharpen: str | os.PathLike[str] | None = None,
    ) -> Path:
        import torch

        from irkit.nn import seed_everything

        if caption is not None and not self.captions:
            raise InputError(f"{self.kind} is not caption-conditioned; drop --caption")
        opts = parse_options(options, self.sample_defaults)
        self.check_output(Path(output))
        set_threads(opts.get("threads"))
        model, meta = self.load(model_dir, opts.get("device"))
        opts = {**opts, "meta": meta, "caption": caption, "seed": seed}
        seed_everything(seed)
        with torch.no_grad():
            samples = self.generate(model, n, opts)
            if sharpen is not None:
                samples = self.sharpen(samples, sharpen, opts)
        return self.write(samples, Path(output), {**opts, "n": n})

    def evaluate(self, model_dir: str | os.PathLike[str], *, options: dict[str, str] | None = None) -> dict[str, Any]:
        import torch

        from irkit.nn import pick_device, seed_everything

        opts = parse_options(options, self.eval_defaults)
        set_threads(opts.get("threads"))
        model, meta = self.load(model_dir, opts.get("device"))
        opts = {**opts, "device": pick_device(opts.get("device") or self.device), "meta": meta}
        data = self.test_data(meta, opts)
        seed_everything(meta.get("seed", 0) + 1)
        start = time.perf_counter()
        result: dict[str, Any] = {"model": self.kind}
        setting = self.describe(model.config)
        if setting:
            result["setting"] = setting
        with torch.no_grad():
            result.update(self.score(model, data, opts))
        result.update(self.report(model, data, opts))
        result["seconds"] = round(time.perf_counter() - start, 1)
        return result
