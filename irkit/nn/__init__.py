"""Shared torch plumbing: the model-agnostic trainer and model folders.

House style for every torch model in irkit: one file per model, a dataclass
config, ``forward(...) -> (output, loss)``, trained by :class:`Trainer`, saved
with :func:`save_model` and loaded with :func:`load_model`.
"""

from irkit.nn.checkpoint import load_model, model_kind, save_model
from irkit.nn.trainer import Trainer, TrainerConfig, pick_device, seed_everything

__all__ = ["Trainer", "TrainerConfig", "load_model", "model_kind", "pick_device", "save_model", "seed_everything"]
