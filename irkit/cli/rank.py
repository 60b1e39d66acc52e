"""What ``irkit rank`` does once its arguments are parsed: options, a model or a pipeline, the run.

Model options arrive as ``-O key=value`` (repeatable) and are validated by the
model's options dataclass (:mod:`irkit.registry`); the old per-model flags
(``--k1``, ``--desm``, ``--alpha``, ...) still work and say once that they are
deprecated. ``--pipeline "bm25 % 100 >> desm(model=DIR, alpha=0.3)"`` runs a whole
pipeline (:func:`irkit.parse.parse`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from irkit.errors import IrkitError

if TYPE_CHECKING:
    import pandas as pd

    from irkit.registry import RankRequest


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


def model_options(model: str, given: dict[str, str], flags: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """The options for ``registry.rank``: ``-O`` values, then the deprecated flags that were used."""
    from irkit import registry
    from irkit.progress import log

    entry = registry.get(model)
    options: dict[str, Any] = dict(given) if entry.new_style else {k: registry.guess_value(v) for k, v in given.items()}
    field_of = dict(entry.flags)
    for flag, value in flags.items():
        if value is None:
            continue
        name = field_of.get(flag, flag)
        if name in options:
            raise IrkitError(f"--{flag} and -O {name}= both set {name}; keep -O")
        log(f"--{flag} is deprecated; write -O {name}={value}", quiet)
        options[flag] = value
    return options


def rank(model: str, pipeline: str | None, given: dict[str, str], flags: dict[str, Any],
         request: RankRequest) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """The run of ``--model`` (or ``--pipeline``) on the request, and its default tag."""
    from irkit import registry
    from irkit.parse import parse

    if pipeline is not None:
        used = [f"--{k}" for k, v in flags.items() if v is not None] + [f"-O {k}=" for k in given]
        if used:
            raise IrkitError(f"{', '.join(used)} only apply to --model; inside --pipeline write name(key=value)")
        stage = parse(pipeline, request)
        return registry.run_stage(stage, request), "pipeline"
    request.options = model_options(model, given, flags, request.quiet)
    return registry.rank(model, request), model
