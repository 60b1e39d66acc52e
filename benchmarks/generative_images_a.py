"""Part A image models on MNIST: test NLL beside the per-pixel Bernoulli baseline.

    .venv/bin/python benchmarks/generative_images_a.py            # ~20-25 min on 2 cores
    .venv/bin/python benchmarks/generative_images_a.py --quick    # a smoke run (minutes, k=100)

Trains VAE and IWAE (1 and 2 stochastic layers), VAE-GAN (with and without its
pixel term), AVB and the Neural Statistician on the fixed 8,000/2,000 MNIST
split (threshold binarisation), two models at a time (one thread each), and
writes ``docs/generative-images-a.md`` (the table) and ``docs/samples/*.png``.
Every figure is in nats per test image; lower is better.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Figures from /work/shared/REFERENCES.md (Burda et al., 60k training images, 3,280 passes).
PAPER = {
    "vae-1": "86.76 (VAE, 1 layer, k=1 training)",
    "iwae-1": "84.78 (IWAE, 1 layer, k=50 training)",
    "iwae-2": "82.90 (IWAE, 2 layers, k=50 training)",
}


@dataclass
class Job:
    label: str
    model: str
    epochs: int
    options: dict[str, str] = field(default_factory=dict)
    k: int = 5000
    note: str = ""


def jobs(quick: bool, k: int) -> list[Job]:
    e = (lambda n: 1) if quick else (lambda n: n)
    kk = 100 if quick else k
    return [  # longest first, so the two workers finish together
        Job("avb", "avb", e(25), k=kk, note="adaptive contrast"),
        Job("vaegan", "vaegan", e(15), k=kk),
        Job("statistician", "statistician", e(40), k=kk),
        Job("iwae-2", "iwae", e(20), {"layers": "2", "k": "5"}, k=kk),
        Job("iwae-1", "iwae", e(20), {"k": "5"}, k=kk),
        Job("vae-2", "vae", e(30), {"layers": "2"}, k=kk),
        Job("vae-1", "vae", e(30), k=kk),
        Job("vaegan-pure", "vaegan", e(15), {"pixel": "0"}, k=min(kk, 1000), note="Larsen's objective"),
    ]


def few_shot_accuracy(folder: Path, sets_per_digit: int = 10, per_set: int = 10) -> dict[str, float]:
    """Class accuracy of few-shot generations (5 test images of a digit -> new images), judged by a
    3-nearest-neighbour classifier fitted on the binary training images."""
    import numpy as np
    import torch
    from sklearn.neighbors import KNeighborsClassifier

    from irkit.generative import registry
    from irkit.generative.images.common import binary_split

    model, meta = registry.recipe("statistician").load(folder, "cpu")
    x, y = binary_split(meta["data"], "train", meta["binarize"])
    tx, ty = binary_split(meta["data"], "test", meta["binarize"])
    knn = KNeighborsClassifier(3).fit(x.reshape(len(x), -1), y)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    generated, want = [], []
    for d in range(10):
        for _ in range(sets_per_digit):
            context = torch.from_numpy(tx[rng.choice(np.flatnonzero(ty == d), 5, replace=False)])
            generated.append(model.few_shot(context[None], per_set)[0].numpy())
            want += [d] * per_set
    gen = (np.concatenate(generated) > 0.5).reshape(len(want), -1).astype(np.float32)
    real = knn.score(tx.reshape(len(tx), -1), ty)
    return {"few_shot_accuracy": float(knn.score(gen, np.array(want))), "classifier_accuracy": float(real)}


def bounds_by_k(folder: Path, model_name: str, ks=(1, 5, 50)) -> dict[int, float]:
    import torch

    from irkit.generative import registry
    from irkit.generative.images.common import binary_split, importance_nll

    model, meta = registry.recipe(model_name).load(folder, "cpu")
    x, _ = binary_split(meta["data"], "test", meta["binarize"])
    torch.manual_seed(0)
    return {k: float(importance_nll(model.log_weights, torch.from_numpy(x), k, batch=100).mean()) for k in ks}


def run_job(job: Job, models: str, samples: str, device: str, retrain: bool) -> dict:
    import torch

    torch.set_num_threads(1)
    os.environ["IRKIT_QUIET"] = "1"
    from irkit.generative import registry

    recipe = registry.recipe(job.model)
    folder = Path(models) / job.label
    start, cpu = time.perf_counter(), time.process_time()
    if retrain or not (folder / "model.json").is_file():
        recipe.train("mnist", folder, epochs=job.epochs, device=device, seed=0, quiet=True, options=job.options)
    meta = json.loads((folder / "model.json").read_text())
    result = recipe.evaluate(folder, options={"k": str(job.k), "device": device})
    recipe.sample(folder, 64, Path(samples) / f"{job.label}.png", seed=0)
    out = {"job": job, "result": result, "train_s": meta["seconds"], "epochs": meta["epochs"]}
    if job.model in ("vae", "iwae"):
        out["bounds"] = bounds_by_k(folder, job.model)
    if job.model == "statistician":
        out.update(few_shot_accuracy(folder))
    out["wall_s"], out["cpu_s"] = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"[{time.strftime('%H:%M:%S')}] {job.label}: nll {result['nll']:.2f} ({out['wall_s']:.0f} s, cpu {out['cpu_s']:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return out


def render(rows: list[dict], baseline: float, protocol: str, args, seconds: float) -> str:
    cpu = sum(r["cpu_s"] for r in rows)
    order = ["vae-1", "iwae-1", "vae-2", "iwae-2", "vaegan", "vaegan-pure", "avb", "statistician"]
    rows = sorted(rows, key=lambda r: order.index(r["job"].label))
    lines = [
        "# Image generative models, part A: VAE, IWAE, VAE-GAN, AVB, Neural Statistician",
        "",
        f"Produced by `{args.command}` ({seconds / 60:.1f} min wall on a shared machine; {cpu / 60:.1f} CPU-minutes in"
        f" {args.workers} worker processes of one thread each, i.e. about {cpu / 60 / args.workers:.0f} min on 2 free"
        f" cores; `--device {args.device}`). Test NLL in nats per image, lower is better.",
        "",
        f"Protocol: {protocol}. The same 2,000 test images for every row; the trivial per-pixel",
        f"Bernoulli model fitted on the 8,000 training images scores **{baseline:.2f}** nats.",
        "",
        "| model | setting | epochs | train s (wall) | CPU s (train + eval) | test ELBO (k=1) | test NLL estimate |"
        " beats baseline | paper (protocol differs) |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
        f"| per-pixel Bernoulli | independent pixels | - | - | - | - | **{baseline:.2f}** | - | - |",
    ]
    for r in rows:
        j, res = r["job"], r["result"]
        lines.append(
            f"| {j.label} | {res.get('setting', '')}{'; ' + j.note if j.note else ''} | {r['epochs']} | {r['train_s']:.0f} | "
            f"{r['cpu_s']:.0f} | "
            f"{res['elbo_nll']:.2f}{'*' if j.model == 'avb' else ''} | {res['nll']:.2f} (k={j.k}) | {'yes' if res['nll'] < baseline else '**no**'} | "
            f"{PAPER.get(j.label, '-')} |"
        )
    by = {r["job"].label: r["result"] for r in rows}
    lines += ["", "\\* AVB's column is its training objective on the test set, with T in place of the KL: not a bound."]
    notes = []
    if "vaegan-pure" in by and "vaegan" in by:
        pure, full = by["vaegan-pure"]["nll"], by["vaegan"]["nll"]
        notes.append(
            f"- **VAE-GAN without the pixel term** (Larsen et al.'s objective as written) scores {pure:.0f} nats,"
            + (
                " far *worse* than the baseline"
                if pure > baseline
                else f" {'above' if pure > full else 'below'} the full row"
            )
            + ": the feature-space error and the GAN game make sharp images, but nothing asks the decoder's outputs to"
            " be calibrated pixel probabilities, so read as Bernoulli means they can put near-zero probability on true"
            f" pixels. With the pixel term (weight 1, the `vaegan` row) the same model scores {full:.2f}; that row is"
            " the one the table compares."
        )
    if all(k in by for k in ("vae-1", "vae-2", "iwae-1", "iwae-2")):
        one, two = by["vae-1"]["nll"], by["vae-2"]["nll"]
        if two > one:
            notes.append(
                f"- **Two stochastic layers trail one** here ({two:.2f} against {one:.2f} for the VAE): Burda et al.'s"
                " two-layer gains come after 3,280 passes over 60,000 images, and the two-layer net's first"
                " deterministic layers have 100 units, not 200."
            )
        b = {r["job"].label: r["bounds"] for r in rows if "bounds" in r}
        holds = [
            by[f"iwae-{d}"]["nll"] < by[f"vae-{d}"]["nll"] and b[f"iwae-{d}"][1] > b[f"vae-{d}"][1] for d in (1, 2)
        ]
        notes.append(
            "- Burda et al.'s ordering within each depth (the IWAE's NLL below the VAE's, its L_1 above) "
            + (
                "holds at both depths."
                if all(holds)
                else "does not hold at this training length: "
                + ", ".join(f"depth {d} {'holds' if h else 'fails'}" for d, h in zip((1, 2), holds, strict=True))
                + "."
            )
        )
    if "avb" in by:
        obj, est = by["avb"]["elbo_nll"], by["avb"]["nll"]
        notes.append(
            f"- **AVB**: its objective ({obj:.2f}) sits {'below' if obj < est else 'above'} its NLL estimate"
            f" ({est:.2f})"
            + (
                "; were the objective a true bound it could not lie below the true NLL, so T underestimates the KL,"
                " the Gaussian proposal leaves the estimate loose, or both"
                if obj < est
                else ""
            )
            + ". Without adaptive contrast the"
            " gap was far larger (in a development run: an objective of 178 against an estimate of 259 after 3 epochs)."
        )
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += [
        "",
        "How each NLL is estimated (all are importance-sampling estimates `-log (1/k) sum_i p(x, h_i) / q(h_i|x)`;",
        "their expectation is an upper bound on the true NLL, tight as k grows):",
        "",
    ]
    for r in rows:
        lines.append(f"- **{r['job'].label}**: {r['result']['estimator']}.")
    bounded = [r for r in rows if "bounds" in r]
    if bounded:
        lines += [
            "",
            "## The k-sample bound (Burda et al.)",
            "",
            "Test `-L_k` for k = 1, 5, 50 and the k-sample estimate above: the bound tightens with k for "
            + (
                "every model."
                if all(r["bounds"][1] > r["bounds"][5] > r["bounds"][50] > r["result"]["nll"] for r in bounded)
                else "most models (see the rows)."
            ),
            "",
            "| model | -L_1 | -L_5 | -L_50 | NLL estimate |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in bounded:
            b = r["bounds"]
            lines.append(
                f"| {r['job'].label} | {b[1]:.2f} | {b[5]:.2f} | {b[50]:.2f} | {r['result']['nll']:.2f} (k={r['job'].k}) |"
            )
    stat = [r for r in rows if "few_shot_accuracy" in r]
    if stat:
        r = stat[0]
        lines += [
            "",
            "## Neural Statistician: sets and few-shot generation",
            "",
            f"- Per-image NLL of a *set* of 5 test images of one digit, `-log p(D) / 5`: {r['result']['set_nll']:.2f}"
            f" (against {r['result']['nll']:.2f} for single images; the sets are formed from the labels, so this",
            "  figure is not comparable with the table: it shows what the context `c` of a set buys).",
            f"- Few-shot generation: for each digit, 10 sets of 5 test images, 10 new images from each set's context;"
            f" a 3-NN classifier on the training images ({r['classifier_accuracy']:.1%} accurate on real test images)"
            f" calls **{r['few_shot_accuracy']:.1%}** of the generated images the digit of their set (chance: 10%).",
        ]
    lines += [
        "",
        "## Protocol differences from the papers",
        "",
        "- Data: only MNIST's 10,000 test images exist here, so models train on 8,000 of them and are tested on the",
        "  other 2,000; the papers train on 60,000 (50,000 + 10,000 validation) and test on the official 10,000.",
        "  With 7.5x less data the models overfit sooner, and the figures are not directly comparable.",
        "- Binarisation: a fixed threshold (p > 0.5), not the stochastic binarisation of Burda et al.; thresholded",
        "  digits have no speckle, which tends to lower NLLs.",
        "- Training length: tens of epochs on 2 CPU cores rather than Burda et al.'s 3,280 passes; IWAE trains on",
        "  k=5 (the paper's best rows use k=50).",
        "- VAE-GAN and AVB define no pixel likelihood of their own in the papers (AVB's paper uses annealed",
        "  importance sampling on its decoder). Here their decoders' sigmoid outputs are Bernoulli means and the NLL",
        "  is estimated by importance sampling as above; the VAE-GAN's pixel term keeps those means calibrated.",
        "",
        "## Samples",
        "",
        "Bernoulli means of 64 prior draws per model (`irkit generate sample MODEL_DIR --n 64`); the Neural",
        "Statistician's grid shows, per row, 5 conditioning test images of a digit and then images generated from them.",
        "",
    ]
    for r in rows:
        lines.append(f"- {r['job'].label}: ![{r['job'].label}](samples/{r['job'].label}.png)")
    return "\n".join(lines) + "\n"


def main() -> None:
    import _image_tables

    def k_option(ap) -> None:
        ap.add_argument("--k", type=int, default=5000, help="importance samples for the test NLL")

    args = _image_tables.parse_args("a", __doc__, "1 epoch per model and k=100: a smoke run", k_option)
    _image_tables.main(args, jobs(args.quick, args.k), run_job, render)


if __name__ == "__main__":
    main()
