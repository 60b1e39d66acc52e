"""Model folders: ``model.json`` (kind, config, extra metadata) and ``weights.pt``.

Folders are written to a temporary path and renamed into place. Loading checks
the kind, so a DESM folder given where an IRGAN model is expected fails with one
clear line instead of a shape error deep in torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from irkit.errors import InputError
from irkit.io.atomic import atomic_path, note_input

META = "model.json"
WEIGHTS = "weights.pt"


def save_model(
    path: str | os.PathLike[str],
    kind: str,
    config: Any,
    state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a model folder atomically.

    ``config`` is a dataclass (or dict); ``state`` a torch ``state_dict`` (or any
    dict ``torch.save`` takes); ``files`` maps extra file names to callables
    ``write(path)`` for artefacts such as vocabularies or numpy matrices.
    """
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    with atomic_path(path, overwrite=overwrite, kind="model") as tmp:
        tmp.mkdir()
        (tmp / META).write_text(
            json.dumps({"kind": kind, "config": cfg, **(extra or {})}, indent=2, default=str) + "\n"
        )
        if state is not None:
            import torch

            torch.save(state, tmp / WEIGHTS)
        for name, write in (files or {}).items():
            write(tmp / name)
    return Path(path)


def model_kind(path: str | os.PathLike[str]) -> str:
    """The kind recorded in a model folder."""
    return _read_meta(Path(path))["kind"]


def _read_meta(p: Path) -> dict[str, Any]:
    if not p.is_dir():
        raise InputError("no such model folder", p)
    for f in (p, p / META, p / WEIGHTS):  # no output may replace them in the same command
        note_input(f)
    f = p / META
    if not f.is_file():
        raise InputError(f"not an irkit model folder (no {META})", p)
    meta = read_json(f)
    if not isinstance(meta, dict) or "kind" not in meta:
        raise InputError("model.json has no 'kind'", f)
    if not isinstance(meta.get("config", {}), dict):
        raise InputError("model.json's 'config' is not an object", f)
    return meta


def read_json(path: Path) -> Any:
    """A model's JSON file, its nesting bounded (a 100k-deep file raised RecursionError)."""
    from irkit.io.documents import parse_json

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", path) from None
    except OSError as e:
        raise InputError(f"cannot read {path.name} ({e.strerror or e})", path) from None
    return parse_json(text, path)


def check_state(model: Any, state: Any, where: str | os.PathLike[str]) -> None:
    """Refuse ``state`` unless it has exactly ``model``'s tensors, each of the same shape."""
    import torch

    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("the weights are not a dict of tensors (a foreign or damaged file)", where)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    for k in sorted(want.keys() | have.keys()):
        if want.get(k) != have.get(k):
            said = "missing" if k not in have else f"of shape {list(have[k])}"
            made = "no such tensor" if k not in want else f"shape {list(want[k])}"
            raise InputError(
                f"the weights do not fit the model's config: {k} is {said}, the config makes {made}", where
            )


def fitted(build: Callable[[], Any], state: Any, where: str | os.PathLike[str]) -> Any:
    """``build()`` with ``state`` loaded, once the state is known to fit.

    The model is first built on torch's ``meta`` device, which allocates nothing:
    a config asking for 1e12 dimensions, or weights of another shape, is then one
    line naming the tensor instead of a failed 8 TB allocation or a KeyError.
    """
    import torch

    try:
        with torch.device("meta"):
            shell = build()
    except InputError:
        raise
    except Exception as e:  # a config's values reach the model's constructor: any error is the file's
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        raise InputError(
            f"the config and weights describe no model irkit can build ({type(e).__name__} {first})", where
        ) from None
    check_state(shell, state, where)
    model = build()
    model.load_state_dict(state)
    return model


def load_model(path: str | os.PathLike[str], kind: str | tuple[str, ...], weights: bool = True) -> tuple[dict, Any]:
    """``(meta, state)`` of a model folder whose kind must be ``kind`` (or one of them)."""
    p = Path(path)
    meta = _read_meta(p)
    kinds = (kind,) if isinstance(kind, str) else kind
    if meta["kind"] not in kinds:
        raise InputError(f"this is a {meta['kind']!r} model, not {' or '.join(repr(k) for k in kinds)}", p)
    state = None
    if weights:
        w = p / WEIGHTS
        if not w.is_file():
            raise InputError(f"model folder has no {WEIGHTS}", p)
        state = load_weights(w)
    return meta, state


def load_weights(path: str | os.PathLike[str]) -> Any:
    """A ``weights.pt`` read with ``torch.load(weights_only=True)``: tensors and plain containers only.

    A pickle that names any other object (which could run code while it is
    unpickled) is refused before anything in it runs; so is a corrupt file.
    """
    import pickle

    import torch

    w = Path(path)
    try:
        return torch.load(w, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own text advises loading unsafely: the wrong advice, so it is not passed on.
        if "GLOBAL" in str(e) or "Unsupported global" in str(e):
            raise InputError(
                "refusing to load: the file holds pickled objects besides tensors (they could run code); "
                "irkit loads weights only",
                w,
            ) from None
        raise InputError("corrupt or foreign weights file (not a torch checkpoint)", w) from None
    except Exception as e:  # garbage bytes reach torch's unpickler in any state (IndexError seen, too)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"corrupt or foreign weights file ({first[:160]})", w) from None
