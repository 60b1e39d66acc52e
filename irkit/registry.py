"""The one model registry: every name that ``irkit rank --model``/``--pipeline`` and ``irkit train`` accept.

Entries name their code by import path, so listing models (``irkit --help``)
imports nothing heavy. An entry points at

* ``build``: ``"module:function"``, ``build(options, request) -> Transformer`` (a
  stage of :mod:`irkit.pipeline`); ``request`` (a :class:`RankRequest`) carries the
  run-wide settings: ``--index``, ``--hits``, ``--threads``, ``--seed``, ``--quiet``;
* ``config``: ``"module:Class"``, the model's options dataclass. ``-O key=value`` and
  ``name(key=value)`` in a pipeline are parsed into it by the field types (unknown
  keys and bad values: one clear line), and its ``__post_init__`` checks values;
* ``train`` (optional): a typer command in ``irkit/cli/`` for ``irkit train NAME``;
* ``rank`` (optional): ``rank(options, request) -> run`` where ``irkit rank --model``
  does more than ``build(...).transform(...)`` (DESM tunes alpha when none is given);
* ``flags``: the model's pre-``-O`` options (``--desm`` for ``model``), still accepted.

Adding a model is one line at the bottom: ``add("name", "kind", "pkg.mod:build",
"pkg.mod:Options", "help")``. An entry in the old style (``ModelEntry(name, kind,
"module:rank", help, ("flag", ...))``, ``rank(request) -> run``) still works
until it is converted.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from irkit.pipeline import Transformer

from irkit.errors import IrkitError

# Options that `irkit rank` used to take as flags; `-O key=value` replaces them.
LEGACY_FLAGS = ("k1", "b", "desm", "variant", "alpha", "irgan", "use", "faiss", "encoder")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "retriever", "reranker", "dense", ...
    rank: str | None = None  # old style: "module:function" taking a RankRequest; new style: see module docstring
    help: str = ""
    options: tuple[str, ...] = ()  # old style: the `irkit rank` flags it accepts
    train: str | None = None  # "module:function", a typer command for `irkit train NAME`
    build: str | None = None  # new style: "module:function(options, request) -> Transformer"
    config: str | None = None  # new style: "module:Class", the options dataclass
    flags: tuple[tuple[str, str], ...] = ()  # new style: (old flag, option field) pairs

    @property
    def new_style(self) -> bool:
        return self.build is not None


@dataclass
class RankRequest:
    """Everything ``irkit rank`` hands a model (and a stage builder); the Python API builds one too."""

    queries: pd.DataFrame | None = None
    index: Path | None = None
    candidates: pd.DataFrame | None = None  # --rerank RUN
    qrels: pd.DataFrame | None = None  # for models that tune on judged topics
    hits: int = 1000
    depth: int = 100
    threads: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    quiet: bool = False

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    def require(self, name: str) -> Any:
        value = self.options.get(name)
        if value is None:
            raise IrkitError(f"--{name} is required for this model")
        return value

    def require_index(self) -> Path:
        if self.index is None:
            raise IrkitError("--index is required for this model")
        return self.index

    def require_candidates(self) -> pd.DataFrame:
        if self.candidates is None:
            raise IrkitError("--rerank RUN (the candidates to rerank) is required for this model")
        return self.candidates


_ENTRIES: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    if entry.name in _ENTRIES:
        raise IrkitError(f"model {entry.name!r} is registered twice")
    if entry.build is None and entry.rank is None:
        raise IrkitError(f"model {entry.name!r} needs a build (new style) or a rank function (old style)")
    _ENTRIES[entry.name] = entry
    return entry


def add(name: str, kind: str, build: str, config: str, help: str, *, train: str | None = None,
        rank: str | None = None, flags: dict[str, str] | None = None) -> ModelEntry:  # fmt: skip
    """Register a new-style model: a stage builder and its options dataclass."""
    return register(ModelEntry(name, kind, rank, help, (), train, build, config, tuple((flags or {}).items())))


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
    if entry.config is None:
        raise IrkitError(f"model {entry.name!r} has no options dataclass (an old-style entry)")
    return resolve(entry.config)


def option_fields(entry: ModelEntry) -> list[tuple[str, str, Any]]:
    """``(name, type name, default)`` of each option of a new-style entry."""
    cls = options_class(entry)
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append((f.name, _type_name(hints[f.name]), default))
    return out


def option_defaults(entry: ModelEntry) -> list[tuple[str, Any]]:
    """``(name, default)`` of each option of a new-style entry, read from the dataclass's source
    when every default there is a literal, so that listing models (``irkit models``) imports no
    model module; otherwise from the imported class (:func:`option_fields`)."""
    declared = _declared_defaults(entry.config or "")
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
        value = node.value
        if isinstance(value, ast.Call) and ast.unparse(value.func) in ("field", "dataclasses.field"):
            value = next((k.value for k in value.keywords if k.arg == "default"), None)
        try:
            out.append((node.target.id, ast.literal_eval(value) if value is not None else None))
        except ValueError:  # a default computed from a name: ask the class itself
            return None
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


def guess_value(value: Any) -> Any:
    """An old-style model reads typed values from ``request.options``: a string that reads as a
    whole number or a number becomes one (an old-style entry has no dataclass to say)."""
    if not isinstance(value, str):
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_options(entry: ModelEntry, given: dict[str, Any] | None = None) -> Any:
    """The entry's options dataclass from ``{key: value}`` (strings are parsed by field type;
    old flag names are mapped; ``None`` means not given). Unknown keys, bad values and
    missing required options raise :class:`IrkitError` with one line."""
    cls = options_class(entry)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    flag_of = dict(entry.flags)
    values: dict[str, Any] = {}
    for key, value in (given or {}).items():
        if value is None:
            continue
        name = flag_of.get(key, key)
        if name not in fields:
            spelled = f"--{key}" if key in LEGACY_FLAGS else f"option {key!r}"
            takes = ", ".join(f"{n}=" for n in fields) or "no options"
            raise IrkitError(f"{spelled} does not apply to model {entry.name!r} (it takes -O {takes})")
        values[name] = _coerce(entry.name, name, value, hints[name])
    for name, f in fields.items():
        if f.metadata.get("required") and values.get(name) is None:
            old = next((k for k, v in entry.flags if v == name), None)
            also = f" (or --{old})" if old else ""
            raise IrkitError(f"model {entry.name!r} needs -O {name}=...{also}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise IrkitError(f"model {entry.name!r}: {e}") from None


# Field metadata of an option that must be given: ``model: Path | None = field(default=None, metadata=REQUIRED)``.
REQUIRED = {"required": True}


# ------------------------------------------------------------------------------ building


def build(name: str, options: Any = None, request: RankRequest | None = None) -> Transformer:
    """The stage of model ``name`` with ``options`` (a dataclass or ``{key: value}``)."""
    entry = get(name)
    if not entry.new_style:
        return _LegacyStage(entry, {k: guess_value(v) for k, v in dict(options or {}).items()})
    opts = options if dataclasses.is_dataclass(options) else parse_options(entry, options)
    stage = resolve(entry.build)(opts, request or RankRequest())
    return stage


def rank(name: str, request: RankRequest) -> pd.DataFrame:
    """Run model ``name`` on ``request`` (``irkit rank --model NAME``); options it does not take are an error."""
    entry = get(name)
    if not entry.new_style:
        unknown = sorted(k for k, v in request.options.items() if v is not None and k not in entry.options)
        if unknown:
            opts = ", ".join(f"--{k}" for k in unknown)
            takes = ", ".join(f"--{k}" for k in entry.options) or "no model options"
            raise IrkitError(f"{opts} does not apply to model {name!r} (it takes {takes})")
        return resolve(entry.rank)(request)
    opts = parse_options(entry, request.options)
    if entry.rank is not None:
        return resolve(entry.rank)(opts, request)
    return run_stage(resolve(entry.build)(opts, request), request)


def run_stage(stage: Transformer, request: RankRequest) -> pd.DataFrame:
    """``stage`` over the request's topics, or over its candidates' top ``depth`` (``--rerank``)."""
    from irkit.frames import cut_run, run_frame
    from irkit.pipeline import set_quiet, with_queries

    set_quiet(stage, request.quiet)
    if request.candidates is None:
        frame = request.queries
    else:
        frame = with_queries(cut_run(run_frame(request.candidates), request.depth), request.queries)
    return run_frame(stage.transform(frame))


class _LegacyStage:
    """An old-style entry used as a pipeline stage: its rank(request) on the input."""

    def __new__(cls, entry: ModelEntry, options: dict[str, Any]):
        from irkit.pipeline import Transformer

        class Legacy(Transformer):
            name = entry.name

            def __init__(self) -> None:
                self.request = RankRequest(options=options)

            def transform(self, frame):
                from dataclasses import replace

                if "docno" in frame.columns:
                    queries = frame[["qid", "query"]].drop_duplicates("qid")
                    req = replace(self.request, queries=queries, candidates=frame, depth=10**9, quiet=self.quiet)
                else:
                    req = replace(self.request, queries=frame, quiet=self.quiet)
                return resolve(entry.rank)(req)

            def params(self):
                return {k: v for k, v in options.items() if v is not None}

        return Legacy()


# Built-in models. Each line is the whole of a model's registration.
# fmt: off
add("bm25", "retriever", "irkit.retrieve.bm25:build", "irkit.retrieve.bm25:BM25Options", "BM25 over a Lucene index (Anserini defaults k1=0.9, b=0.4)")

add("desm", "reranker", "irkit.rerank.desm:build", "irkit.rerank.desm:DESMOptions", "DESM word2vec IN/OUT reranker of BM25 candidates (Mitra et al., WWW'16)", train="irkit.cli.desm:train_command", rank="irkit.rerank.desm:rank", flags={"desm": "model"})
add("docnade", "dense", "irkit.dense.rank:build_docnade", "irkit.dense.rank:DenseOptions", "DocNADE document encoder, dense retrieval over FAISS or reranking (Lauly et al., JMLR 2016)", train="irkit.cli.dense:train_docnade")
add("seqae", "dense", "irkit.dense.rank:build_seqae", "irkit.dense.rank:DenseOptions", "LSTM sequence-autoencoder encoder, dense retrieval over FAISS or reranking (Dai & Le, 2015)", train="irkit.cli.dense:train_seqae")
add("irgan", "reranker", "irkit.rerank.irgan_rank:build", "irkit.rerank.irgan_rank:IRGANOptions", "IRGAN generator/discriminator reranker of candidates over LETOR-style features (Wang et al., SIGIR'17)", train="irkit.cli.irgan:train_command", flags={"irgan": "model"})
add("lambdamart", "reranker", "irkit.rerank.lambdamart:build", "irkit.rerank.lambdamart:LambdaMARTOptions", "LambdaMART (LightGBM lambdarank) reranker of candidates over LETOR-style features, IRGAN's cross-validation folds", train="irkit.cli.lambdamart:train_command", flags={"lambdamart": "model"})
add("ql", "retriever", "irkit.retrieve.ql:build_ql", "irkit.retrieve.ql:QLOptions", "Query likelihood, Dirichlet smoothing mu=1000 (Pyserini's set_qld)")
add("bm25+rm3", "retriever", "irkit.retrieve.ql:build_bm25_rm3", "irkit.retrieve.ql:BM25RM3Options", "RM3 feedback (10 docs, 10 terms, original weight 0.5) on BM25 (Pyserini's set_rm3)")
add("ql+rm3", "retriever", "irkit.retrieve.ql:build_ql_rm3", "irkit.retrieve.ql:QLRM3Options", "RM3 feedback (10 docs, 10 terms, original weight 0.5) on QL (Pyserini's set_rm3)")
add("rm3", "retriever", "irkit.retrieve.ql:build", "irkit.retrieve.ql:PRFOptions", "RM3 on -O base=bm25|ql: bm25+rm3 and ql+rm3 as one pipeline stage, rm3(base=ql)")
add("biencoder", "dense", "irkit.dense.pretrained:build", "irkit.dense.pretrained:BiEncoderOptions", "Pretrained sentence-transformers bi-encoder (a local folder, safetensors), e.g. all-MiniLM-L6-v2: dense retrieval over FAISS, reranking or fusion")
add("crossencoder", "reranker", "irkit.rerank.crossencoder:build", "irkit.rerank.crossencoder:CrossEncoderOptions", "Pretrained cross-encoder (a local sentence-transformers or Hugging Face sequence-classification folder, safetensors) reranking candidates")
