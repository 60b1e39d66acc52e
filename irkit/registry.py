"""The one model registry: every name that ``irkit rank --model``/``--pipeline`` and ``irkit train`` accept.

Entries name their code by import path, so listing models (``irkit --help``)
imports nothing heavy. An entry points at

* ``build``: ``"module:function"``, ``build(options, context) -> Transformer`` (a
  stage of :mod:`irkit.pipeline`); ``context`` (a :class:`Context`) carries the
  run-wide settings: ``--index``, ``--hits``, ``--threads``, ``--seed``, ``--quiet``;
* ``config``: ``"module:Class"``, the model's options dataclass. ``-O key=value`` and
  ``name(key=value)`` in a pipeline are parsed into it by the field types (unknown
  keys and bad values: one clear line), and its ``__post_init__`` checks values. A
  field declared with ``metadata=tunable(grid)`` also takes ``auto``: the stage is then
  wrapped in :class:`irkit.tuning.Tune`, which chooses the value by cross-validation
  on the context's qrels (``irkit rank -O alpha=auto --qrels Q``);
* ``scale``: how an engine spreads the model over workers (:data:`SCALES`), which
  :mod:`irkit.engine` reads; the stage's ``transform`` is the same everywhere;
* ``train`` (optional): a typer command in ``irkit/cli/`` for ``irkit train NAME``.

Every path runs a model the same way: :func:`build` it into a stage, then
``transform``. Adding a model is one line at the bottom: ``add("name", "kind",
"pkg.mod:build", "pkg.mod:Options", "help", scale="topic")``.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from irkit.errors import IrkitError

# How an engine runs a model on several workers (irkit/engine); the run is the local one.
SCALES = {
    "topic": "topics split across workers, each running the stage on its own topics",
    "shard": "the documents split into shards, one worker each (the stage takes the engine)",
    "batch": "encoding batches on workers, exactly the local ones; scoring on the driver",
    "driver": "on the driver only",
}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "retriever", "reranker", "dense", ...
    build: str  # "module:function(options, context) -> Transformer"
    config: str  # "module:Class", the options dataclass
    help: str = ""
    train: str | None = None  # "module:function", a typer command for `irkit train NAME`
    scale: str = "topic"  # a key of SCALES

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise IrkitError(f"model {self.name!r}: scale must be one of {', '.join(SCALES)}, not {self.scale!r}")


@dataclass(frozen=True)
class Context:
    """What a builder takes besides the model's options: the run-wide settings of ``irkit rank``."""

    index: Path | None = None
    hits: int = 1000
    threads: int | None = None
    seed: int = 0
    quiet: bool = False
    qrels: pd.DataFrame | None = None  # judged topics, for options given as ``auto``
    engine: Any = None  # an irkit.engine.EngineConfig, for models whose scale is "shard"; None: local

    def __post_init__(self) -> None:
        if self.index is not None:  # a LuceneIndex is named by its folder: a context travels to workers
            object.__setattr__(self, "index", Path(getattr(self.index, "path", self.index)))

    def require_index(self) -> Path:
        if self.index is None:
            raise IrkitError("--index is required for this model")
        return self.index


_ENTRIES: dict[str, ModelEntry] = {}


def add(name: str, kind: str, build: str, config: str, help: str, *, train: str | None = None,
        scale: str = "topic") -> ModelEntry:  # fmt: skip
    """Register a model: its stage builder, its options dataclass and how it scales (:data:`SCALES`)."""
    if name in _ENTRIES:
        raise IrkitError(f"model {name!r} is registered twice")
    entry = _ENTRIES[name] = ModelEntry(name, kind, build, config, help, train, scale)
    return entry


def names(kind: str | None = None) -> list[str]:
    return [n for n, e in _ENTRIES.items() if kind is None or e.kind == kind]


def get(name: str) -> ModelEntry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise IrkitError(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def trainers() -> dict[str, ModelEntry]:
    return {n: e for n, e in _ENTRIES.items() if e.train}


# ------------------------------------------------------------------------------ options


def options_class(entry: ModelEntry) -> type:
    return resolve(entry.config)


def option_fields(entry: ModelEntry) -> list[tuple[str, str, Any]]:
    """``(name, type name, default)`` of each option of ``entry``; ``auto`` follows the default of a tunable one."""
    cls = options_class(entry)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if "grid" in f.metadata:
            default = f"{default}|{AUTO}"
        out.append((f.name, _type_name(hints[f.name]), default))
    return out


def option_defaults(entry: ModelEntry) -> list[tuple[str, Any]]:
    """``(name, default)`` of each option of an entry, read from the dataclass's source
    when every default there is a literal, so that listing models (``irkit models``) imports no
    model module; otherwise from the imported class (:func:`option_fields`)."""
    declared = _declared_defaults(entry.config)
    if declared is not None:
        return declared
    return [(name, default) for name, _, default in option_fields(entry)]


def _declared_defaults(target: str) -> list[tuple[str, Any]] | None:
    import ast
    import importlib.util

    module, _, cls_name = target.partition(":")
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)  # the top package only: its sub-packages' __init__ may be heavy
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0], *rest).with_suffix(".py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
    if cls is None or cls.bases or cls.keywords:  # inherited fields: leave it to dataclasses
        return None
    out = []
    for node in cls.body:
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            continue
        if "ClassVar" in ast.unparse(node.annotation):
            continue
        value, tuned = node.value, False
        if isinstance(value, ast.Call) and ast.unparse(value.func) in ("field", "dataclasses.field"):
            meta = next((k.value for k in value.keywords if k.arg == "metadata"), None)
            tuned = isinstance(meta, ast.Call) and ast.unparse(meta.func) == "tunable"
            value = next((k.value for k in value.keywords if k.arg == "default"), None)
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError:  # a default computed from a name: ask the class itself
            return None
        out.append((node.target.id, f"{default}|{AUTO}" if tuned else default))
    return out


def _type_name(tp: Any) -> str:
    base = _base_type(tp)
    return {float: "number", int: "integer", bool: "true|false", Path: "path", str: "text"}.get(base, str(base))


def _base_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args and typing.get_origin(tp) is not None else tp


def _coerce(model: str, key: str, value: Any, tp: Any) -> Any:
    base = _base_type(tp)
    if value is None or not isinstance(value, str):
        if base is float and isinstance(value, int | float) and not isinstance(value, bool):
            return _finite(model, key, float(value))
        return Path(value) if base is Path and value is not None else value
    text = value.strip()
    if text.lower() == "none" and base is not str:
        return None
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if base is float:
            return _finite(model, key, float(text))
        if base is int:
            return int(text)
        if base is Path:
            return Path(text)
    except ValueError:
        raise IrkitError(f"option {key}={value!r} of model {model!r}: expected {_type_name(tp)}") from None
    return text


def _finite(model: str, key: str, value: float) -> float:
    # nan and inf read as floats; no model option means them (-O mu=nan reached Java).
    if not math.isfinite(value):
        raise IrkitError(f"option {key}={value} of model {model!r}: expected a finite number")
    return value


def tunable(grid: typing.Iterable[Any]) -> dict[str, Any]:
    """Field metadata of an option that also takes ``auto``: chosen from ``grid`` by cross-validation
    over judged topics (:class:`irkit.tuning.Tune`). ``alpha: float = field(default=1.0, metadata=tunable(GRID))``."""
    return {"grid": tuple(grid)}


# Field metadata of an option that must be given: ``model: Path | None = field(default=None, metadata=REQUIRED)``.
REQUIRED = {"required": True}
AUTO = "auto"


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO


def tuned_grid(entry: ModelEntry, given: dict[str, Any] | None = None) -> dict[str, tuple[Any, ...]]:
    """``{option: grid}`` of the options given as ``auto``; ``auto`` for an option without a grid is an error."""
    fields = {f.name: f for f in dataclasses.fields(options_class(entry))}
    grid = {}
    for key, value in (given or {}).items():
        if _is_auto(value) and key in fields:
            if "grid" not in fields[key].metadata:
                raise IrkitError(f"option {key} of model {entry.name!r} cannot be tuned (auto)")
            grid[key] = fields[key].metadata["grid"]
    return grid


def parse_options(entry: ModelEntry, given: dict[str, Any] | None = None) -> Any:
    """The entry's options dataclass from ``{key: value}`` (strings are parsed by field type;
    ``None`` means not given; an option given as ``auto`` keeps its default here, see
    :func:`tuned_grid`). Unknown keys, bad values and missing required options raise
    :class:`IrkitError` with one line."""
    cls = options_class(entry)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    tuned = tuned_grid(entry, {k: v for k, v in (given or {}).items() if k in fields})
    values: dict[str, Any] = {}
    for key, value in (given or {}).items():
        if value is None or key in tuned:
            continue
        if key not in fields:
            takes = ", ".join(f"{n}=" for n in fields) or "no options"
            raise IrkitError(f"option {key!r} does not apply to model {entry.name!r} (it takes -O {takes})")
        values[key] = _coerce(entry.name, key, value, hints[key])
    for name, f in fields.items():
        if f.metadata.get("required") and values.get(name) is None:
            raise IrkitError(f"model {entry.name!r} needs -O {name}=...")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise IrkitError(f"model {entry.name!r}: {e}") from None


# ------------------------------------------------------------------------------ building


def prepare(entry: ModelEntry, options: Any, context: Context) -> tuple[Any, dict[str, tuple[Any, ...]]]:
    """``(options dataclass, {option: grid} of those given as auto)``: everything :func:`build`
    checks before it builds (bad options, ``auto`` without qrels) raises here."""
    if dataclasses.is_dataclass(options):
        return options, {}
    opts, grid = parse_options(entry, options), tuned_grid(entry, options)
    if grid and context.qrels is None:
        keys = ", ".join(f"{k}=auto" for k in grid)
        raise IrkitError(f"{keys} chooses the value by cross-validation over judged topics: give --qrels")
    return opts, grid


def build(name: str, options: Any = None, context: Context | None = None) -> Any:
    """The stage (an :class:`irkit.pipeline.Transformer`) of model ``name`` with ``options`` (a
    dataclass or ``{key: value}``) in ``context``. Options given as ``auto`` wrap the stage in
    :class:`irkit.tuning.Tune` over the context's qrels, on every path alike."""
    entry = get(name)
    context = context or Context()
    opts, grid = prepare(entry, options, context)
    stage = resolve(entry.build)(opts, context)
    if not grid:
        return stage
    from irkit.tuning import Tune

    return Tune(stage, grid, context.qrels, seed=context.seed)


# Built-in models. Each line is the whole of a model's registration; `scale` is read by irkit.engine.
# fmt: off
add("bm25", "retriever", "irkit.retrieve.bm25:build", "irkit.retrieve.bm25:BM25Options", "BM25 over a Lucene index (Anserini defaults k1=0.9, b=0.4)", scale="shard")
add("desm", "reranker", "irkit.rerank.desm:build", "irkit.rerank.desm:DESMOptions", "DESM word2vec IN/OUT reranker of BM25 candidates (Mitra et al., WWW'16)", train="irkit.cli.desm:train_command", scale="topic")
add("docnade", "dense", "irkit.dense.rank:build_docnade", "irkit.dense.rank:DenseOptions", "DocNADE document encoder, dense retrieval over FAISS or reranking (Lauly et al., JMLR 2016)", train="irkit.cli.dense:train_docnade", scale="batch")
add("seqae", "dense", "irkit.dense.rank:build_seqae", "irkit.dense.rank:DenseOptions", "LSTM sequence-autoencoder encoder, dense retrieval over FAISS or reranking (Dai & Le, 2015)", train="irkit.cli.dense:train_seqae", scale="batch")
add("irgan", "reranker", "irkit.rerank.irgan_rank:build", "irkit.rerank.irgan_rank:IRGANOptions", "IRGAN generator/discriminator reranker of candidates over LETOR-style features (Wang et al., SIGIR'17)", train="irkit.cli.irgan:train_command", scale="topic")
add("lambdamart", "reranker", "irkit.rerank.lambdamart:build", "irkit.rerank.lambdamart:LambdaMARTOptions", "LambdaMART (LightGBM lambdarank) reranker of candidates over LETOR-style features, IRGAN's cross-validation folds", train="irkit.cli.lambdamart:train_command", scale="topic")
add("ql", "retriever", "irkit.retrieve.ql:build_ql", "irkit.retrieve.ql:QLOptions", "Query likelihood, Dirichlet smoothing mu=1000 (Pyserini's set_qld)", scale="topic")
add("bm25+rm3", "retriever", "irkit.retrieve.ql:build_bm25_rm3", "irkit.retrieve.ql:BM25RM3Options", "RM3 feedback (10 docs, 10 terms, original weight 0.5) on BM25 (Pyserini's set_rm3)", scale="topic")
add("ql+rm3", "retriever", "irkit.retrieve.ql:build_ql_rm3", "irkit.retrieve.ql:QLRM3Options", "RM3 feedback (10 docs, 10 terms, original weight 0.5) on QL (Pyserini's set_rm3)", scale="topic")
add("rm3", "retriever", "irkit.retrieve.ql:build", "irkit.retrieve.ql:PRFOptions", "RM3 on -O base=bm25|ql: bm25+rm3 and ql+rm3 as one pipeline stage, rm3(base=ql)", scale="topic")
add("biencoder", "dense", "irkit.dense.pretrained:build", "irkit.dense.pretrained:BiEncoderOptions", "Pretrained sentence-transformers bi-encoder (a local folder, safetensors), e.g. all-MiniLM-L6-v2: dense retrieval over FAISS, reranking or fusion", scale="driver")
add("crossencoder", "reranker", "irkit.rerank.crossencoder:build", "irkit.rerank.crossencoder:CrossEncoderOptions", "Pretrained cross-encoder (a local sentence-transformers or Hugging Face sequence-classification folder, safetensors) reranking candidates", scale="driver")
