"""A trainer that knows nothing about the model.

The model's ``forward(...) -> (output, loss)`` is all it calls (with a dict
batch as keywords, a tuple batch as positional arguments). Batches come
from any iterable (a ``DataLoader``, a list of tensors); the trainer moves
tensors to the device, steps an Adam optimiser, clips gradients, shows a
progress bar with the running loss, runs an optional validation callback after
each epoch and saves an atomic checkpoint through an optional callback, so an
interrupted training leaves the last good checkpoint usable.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irkit.progress import log, progress


@dataclass
class TrainerConfig:
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    device: str = "auto"  # "auto" takes CUDA when present, never requires it
    seed: int = 0
    log_every: int = 50
    quiet: bool = False


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device(device: str = "auto"):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        from irkit.errors import IrkitError

        raise IrkitError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(device)


def to_device(batch: Any, device) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def call(model, batch: Any):
    """``model(**batch)`` for a dict, ``model(*batch)`` for a tuple/list, else ``model(batch)``."""
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, list | tuple):
        return model(*batch)
    return model(batch)


def optimizer_step(opt, loss, params: Iterable | None = None, clip: float = 0.0) -> float:
    """One update from ``loss`` (its gradient norm clipped to ``clip`` over ``params`` when given); the loss."""
    import torch

    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip and params is not None:
        torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    return float(loss.detach())


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


class Trainer:
    def __init__(self, config: TrainerConfig | None = None):
        self.config = config or TrainerConfig()
        self.device = pick_device(self.config.device)
        self.history = History()

    def fit(
        self,
        model,
        batches: Callable[[int], Iterable] | Iterable,
        validate: Callable[[Any, int], dict[str, float]] | None = None,
        checkpoint: Callable[[Any, int, History], None] | None = None,
        optimizer=None,
    ):
        """Train ``model``; ``batches`` is an iterable or ``epoch -> iterable``."""
        import torch

        cfg = self.config
        seed_everything(cfg.seed)
        model.to(self.device)
        opt = optimizer or torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            start, total, count = time.perf_counter(), 0.0, 0
            data = batches(epoch) if callable(batches) else batches
            bar = progress(data, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", disable=cfg.quiet)
            for step, batch in enumerate(bar, 1):
                _, loss = call(model, to_device(batch, self.device))
                if not torch.isfinite(loss):
                    from irkit.errors import IrkitError

                    raise IrkitError(f"loss became {loss.item()} at epoch {epoch} step {step}; lower the learning rate")
                total += optimizer_step(opt, loss, model.parameters() if cfg.grad_clip else None, cfg.grad_clip)
                count += 1
                if hasattr(bar, "set_postfix") and step % max(cfg.log_every, 1) == 0:
                    bar.set_postfix(loss=f"{total / count:.4f}")
            self.history.train_loss.append(total / max(count, 1))
            self.history.seconds.append(time.perf_counter() - start)
            msg = f"epoch {epoch}: train loss {self.history.train_loss[-1]:.4f} ({self.history.seconds[-1]:.1f} s)"
            if validate is not None:
                model.eval()
                with torch.no_grad():
                    scores = validate(model, epoch)
                self.history.val.append(scores)
                msg += "; " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if not math.isnan(v))
            log(msg, cfg.quiet)
            if checkpoint is not None:
                checkpoint(model, epoch, self.history)
        model.eval()
        return self.history
