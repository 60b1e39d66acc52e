"""What benchmarks/generative_images_a.py and _b.py share: their options and the pool that trains their jobs.

Each table script defines its jobs, ``run_job(job, models, samples, device, retrain) -> row`` and
``render(rows, baseline, protocol, args, seconds) -> markdown``; :func:`main` does the rest.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(part: str, doc: str, quick_help: str, extra: Callable[[argparse.ArgumentParser], None] | None = None):
    """The options of ``benchmarks/generative_images_{part}.py``; ``--quick`` writes under runs/ and models/*-quick."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    if extra is not None:
        extra(ap)
    ap.add_argument("--workers", type=int, default=2, help="models trained at once (one thread each)")
    ap.add_argument("--only", default="", help="comma-separated row labels to run (default: all)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", default=str(ROOT / "models" / f"generative-{part}"), help="where model folders go")
    ap.add_argument("--retrain", action="store_true", help="train even where a model folder exists")
    ap.add_argument("--output", default=str(ROOT / "docs" / f"generative-images-{part}.md"))
    ap.add_argument("--samples", default=str(ROOT / "docs" / "samples"))
    args = ap.parse_args()
    args.command = f"python benchmarks/generative_images_{part}.py" + (" --quick" if args.quick else "")
    if args.quick and args.output == ap.get_default("output"):
        args.output = str(ROOT / "runs" / f"generative-images-{part}-quick.md")
        args.samples = str(ROOT / "runs" / ("samples-quick" if part == "a" else f"samples-{part}-quick"))
        args.models = str(ROOT / "models" / f"generative-{part}-quick")
    return args


def _call(work: tuple) -> dict:
    run_job, *rest = work
    return run_job(*rest)


def main(args, todo: list, run_job: Callable[..., dict], render: Callable[..., str]) -> None:
    """Train ``todo`` (``--only`` picks rows by label) in a pool, save the raw rows and the rendered table."""
    import time

    from irkit.generative.images.common import baseline_nll
    from irkit.generative.images.data import protocol
    from irkit.io.atomic import atomic_file

    if args.only:
        wanted = set(args.only.split(","))
        todo = [j for j in todo if j.label in wanted]
    Path(args.samples).mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    work = [(run_job, j, args.models, args.samples, args.device, args.retrain or args.quick) for j in todo]
    with mp.get_context("spawn").Pool(max(1, args.workers)) as pool:
        rows = list(pool.imap_unordered(_call, work))
    seconds = time.perf_counter() - start
    args.load = (
        f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores"
    )
    raw = [{**r, "job": asdict(r["job"]) if is_dataclass(r.get("job")) else r.get("job")} for r in rows]
    with atomic_file(ROOT / "runs" / (Path(args.output).stem + ".json"), overwrite=True) as fh:
        json.dump({"seconds": seconds, "rows": raw}, fh, indent=1, default=str)
    text = render(rows, baseline_nll("mnist"), protocol("mnist"), args, seconds)
    with atomic_file(args.output, overwrite=True) as fh:
        fh.write(text)
    print(text)
