"""WaveNet generation speed: samples/s with the activation cache and without it, in one run.

Without the cache every new sample runs the network over its whole receptive
field (the window of past samples it can see); with it, each layer keeps a
ring buffer of its last ``dilation`` inputs and a new sample costs one step per
layer. Both paths draw the same samples from the same seed (the test suite
checks that their logits agree), so the ratio is a like-for-like speed-up.
The model is the table's size (benchmarks/wavenet_table.py), untrained:
speed does not depend on the weights. A trained folder can be given instead.

    .venv/bin/python benchmarks/wavenet.py [--model DIR] [--seconds 0.5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("IRKIT_QUIET", "1")


def measure(model, n: int, batch: int, cache: bool, seed: int = 0) -> float:
    """Samples per second (per sequence) of ``generate`` for ``n`` samples."""
    import torch

    from irkit.generative.audio.wavenet import MEL_MARGIN

    cfg = model.cfg
    voice = torch.arange(batch) % len(cfg.voices) if cfg.voices else None
    mel = torch.randn(batch, cfg.n_mels, n // cfg.hop + 2 * MEL_MARGIN) if cfg.n_mels else None
    g = torch.Generator().manual_seed(seed)
    model.generate(cfg.hop, voice=voice, mel=mel[:, :, : 1 + 2 * MEL_MARGIN] if mel is not None else None,
                   batch=batch, generator=g, cache=cache)  # fmt: skip  # warm-up
    start = time.perf_counter()
    model.generate(n, voice=voice, mel=mel, batch=batch, generator=g, cache=cache)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="a trained wavenet folder (default: the table's config, untrained)")
    ap.add_argument("--seconds", type=float, default=0.5, help="audio generated with the cache, per case")
    ap.add_argument("--uncached-seconds", type=float, default=0.05, help="audio generated without it (slow)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from irkit.generative.audio import speech
    from irkit.generative.audio.wavenet import WaveNet, WaveNetConfig, load_wavenet

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model:
        models = {f"{args.model.name}": load_wavenet(args.model)[0]}
    else:
        models = {
            "voice + log-mel": WaveNet(WaveNetConfig()).eval(),
            "voice only": WaveNet(WaveNetConfig(n_mels=0)).eval(),
        }
    hop = speech.HOP
    n_cached = max(hop, int(args.seconds * speech.RATE) // hop * hop)
    n_plain = max(hop, int(args.uncached_seconds * speech.RATE) // hop * hop)
    rows = []
    for name, model in models.items():
        cfg = model.cfg
        for batch in (1, 4):
            fast = measure(model, n_cached, batch, cache=True)
            slow = measure(model, n_plain, batch, cache=False)
            rows.append((name, batch, fast, slow))
            print(f"{name}, batch {batch}: cached {fast:.0f}/s, uncached {slow:.0f}/s", file=sys.stderr, flush=True)
    print(f"WaveNet generation ({len(cfg.dilations)} layers, {cfg.cycles} cycles of dilations 1..{cfg.dilations[-1]}, "
          f"receptive field {cfg.receptive_field} samples, residual {cfg.residual}, skip {cfg.skip}; "
          f"torch {torch.__version__}, {args.threads} thread(s); {n_cached} samples cached, {n_plain} uncached)\n")  # fmt: skip
    print("| model | batch | cached samples/s | uncached samples/s | speed-up | cached x real time (16 kHz) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, batch, fast, slow in rows:
        print(
            f"| {name} | {batch} | {fast:,.0f} | {slow:,.0f} | {fast / slow:.1f}x | {fast * batch / speech.RATE:.3f} |"
        )


if __name__ == "__main__":
    main()
