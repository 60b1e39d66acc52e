"""What ``irkit rank`` does once its arguments are parsed: a stage from ``--model`` or ``--pipeline``, its run.

Model options arrive as ``-O key=value`` (repeatable) and are validated by the
model's options dataclass (:mod:`irkit.registry`). ``--model`` becomes
:class:`irkit.engine.EngineStage` (the registry's stage, on ``--engine``);
``--pipeline "bm25 % 100 >> desm(model=DIR, alpha=0.3)"`` runs a whole pipeline
(:func:`irkit.parse.parse`). Either way the run is ``stage.transform(frame)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from irkit.errors import IrkitError

if TYPE_CHECKING:
    import pandas as pd

    from irkit.registry import Context


def parse_assignments(items: list[str] | None, flag: str = "-O") -> dict[str, str]:
    """``{key: value}`` from ``["key=value", ...]``; anything else is a one-line error."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise IrkitError(f"{flag} takes key=value (e.g. {flag} k1=1.2), not {item!r}")
        if key in out:
            raise IrkitError(f"{flag} {key}= is given twice")
        out[key] = value.strip()
    return out


def rank_stage(model: str, pipeline: str | None, given: dict[str, str], context: Context, engine: Any) -> Any:
    """The stage of ``--model`` (with ``-O`` options, on ``engine``) or of ``--pipeline``."""
    from irkit.engine import EngineStage
    from irkit.parse import parse
    from irkit.pipeline import set_quiet

    if pipeline is not None:
        if given:
            raise IrkitError(f"{', '.join(f'-O {k}=' for k in given)} only apply to --model; inside --pipeline "
                             "write name(key=value)")  # fmt: skip
        stage = parse(pipeline, context, engine)  # on Ray: each model on the engine, the operators here
    else:
        stage = EngineStage(model, given, context, engine)
    set_quiet(stage, context.quiet)
    return stage


def rank_frame(queries: pd.DataFrame, candidates: pd.DataFrame | None, depth: int) -> pd.DataFrame:
    """What the stage transforms: the topics, or the ``--rerank`` run's top ``depth`` with their query text."""
    from irkit.frames import cut_run, run_frame
    from irkit.pipeline import with_queries

    return queries if candidates is None else with_queries(cut_run(run_frame(candidates), depth), queries)


def rank(model: str, pipeline: str | None, given: dict[str, str], context: Context, engine: Any,
         frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """The run of ``--model`` (or ``--pipeline``) over ``frame``, and its default tag."""
    from irkit.frames import run_frame

    stage = rank_stage(model, pipeline, given, context, engine)
    try:
        return run_frame(stage.transform(frame)), "pipeline" if pipeline is not None else model
    finally:
        if engine.name != "local":
            from irkit.engine.cluster import shutdown

            shutdown()  # a cluster this command started (one it joined stays up)
