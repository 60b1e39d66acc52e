"""IRGAN for learning to rank (Wang et al., SIGIR'17), pointwise and pairwise.

Two players score (query, document) feature vectors with the same small net,
``f(q, d) = w2 · tanh(W1 x + b1) + b2``:

* the discriminator ``D`` learns to tell judged-relevant documents from the
  documents the generator picks (pointwise: logistic loss on relevant = 1,
  generated = 0; pairwise: logistic loss on (relevant, generated) pairs);
* the generator ``G`` is a softmax over a query's candidates,
  ``p(d | q) ∝ exp(f_G(q, d) / T)``. It cannot be trained by back-propagating
  through its discrete choices, so it is updated by policy gradient (REINFORCE)
  with D's reward for the documents it samples, minus a per-query baseline
  (the mean reward of the query's samples) to cut variance. Pointwise, the
  samples come from a mixture of G with the judged-relevant documents, corrected
  by importance weights, as in the official code.

Before the game, a plain pointwise ranker is trained with the logistic loss on
relevant documents against uniformly sampled candidates: the paper's MLE
baseline. G and D both start from it. Each adversarial round trains D on fresh
samples of G, then G against the new D; the round whose D (and, separately, G)
scores best on held-out validation topics is kept.

Hyperparameter defaults follow the official code where they fit this setting
(46 hidden units, importance-sampling mixture 0.5, five G samples per relevant
document, rewards ``2σ(f) - 1`` pointwise and ``log σ(f(generated) - f(relevant))``
pairwise). Three choices differ, each for a stated reason: the temperature is 1.0
(the official pointwise 0.2 suits a G started from random weights; started from
the pretrained ranker, whose scores span about 6 nats within a topic, 0.2 puts
80% of G's mass on one document, so G neither explores nor learns); D's
generated examples are drawn from the candidates not judged relevant, as the
official pairwise code does (on fully judged topics a draw from all candidates
labels many relevant documents "generated"; ``d_negatives="all"`` restores the
paper's pointwise game); and Adam with short rounds replaces plain SGD with
long ones, so that a fold trains in seconds on a CPU.

:class:`IRGANModel` holds the trained scorers of every cross-validation fold
(and optionally one trained on all topics) and scores a topic with the model
that never saw it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from irkit.common import natural_key
from irkit.errors import InputError, IrkitError
from irkit.io.letor import Features
from irkit.nn.trainer import optimizer_step
from irkit.progress import log

KIND = "irgan"
VARIANTS = ("pointwise", "pairwise")
USES = ("d", "g", "mle")
NDCG_DEPTH = 10


@dataclass
class IRGANConfig:
    n_features: int = 0
    hidden: int = 46
    variant: str = "pointwise"
    temperature: float = 1.0  # G's softmax temperature
    weight_decay: float = 1e-4
    # MLE pretraining (the baseline ranker both players start from)
    pretrain_epochs: int = 30
    pretrain_lr: float = 1e-3
    pretrain_batch: int = 32
    # the game
    epochs: int = 15  # adversarial rounds
    d_epochs: int = 2  # passes over freshly generated D data per round
    g_epochs: int = 2  # passes over the training topics per round
    d_lr: float = 1e-4
    g_lr: float = 1e-4
    batch_size: int = 32  # D examples per step
    g_queries: int = 8  # topics per G step
    samples: int = 5  # G samples per relevant document in a policy-gradient step
    mix: float = 0.5  # pointwise: share of G's samples drawn from the relevant documents (importance-weighted)
    baseline: bool = True  # subtract each topic's mean reward
    # D's generated examples: drawn by G from all candidates ("all", the paper's pointwise game)
    # or from those not judged relevant ("non-relevant", as the official pairwise code does)
    d_negatives: str = "non-relevant"
    valid_fraction: float = 0.2  # training topics held out to pick the best round
    seed: int = 0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise IrkitError(f"unknown IRGAN variant {self.variant!r}; choose from {', '.join(VARIANTS)}")
        if self.temperature <= 0:
            raise IrkitError(f"temperature must be positive (got {self.temperature})")
        if self.d_negatives not in ("all", "non-relevant"):
            raise IrkitError(f"d_negatives must be 'all' or 'non-relevant' (got {self.d_negatives!r})")
        if not 0.0 <= self.mix < 1.0:
            raise IrkitError(f"mix must lie in [0, 1) (got {self.mix})")
        if not 0.0 < self.valid_fraction < 1.0:
            raise IrkitError(f"valid_fraction must lie in (0, 1) (got {self.valid_fraction})")
        for name in ("hidden", "pretrain_batch", "batch_size", "g_queries", "samples"):
            if getattr(self, name) < 1:
                raise IrkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("pretrain_epochs", "epochs", "d_epochs", "g_epochs"):
            if getattr(self, name) < 0:
                raise IrkitError(f"{name} must not be negative (got {getattr(self, name)})")


@contextlib.contextmanager
def single_thread():
    """Run torch on one thread: for nets this small, thread start-up and contention on a
    shared machine cost far more than the arithmetic (a step is ~30x slower on 2 busy threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------- players


class Scorer(nn.Module):
    """``f(q, d)``: a two-layer net over a feature vector; pointwise logistic loss when labels are given."""

    def __init__(self, n_features: int, hidden: int):
        super().__init__()
        self.hidden = nn.Linear(n_features, hidden)
        self.out = nn.Linear(hidden, 1)
        for layer in (self.hidden, self.out):
            nn.init.trunc_normal_(layer.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        scores = self.out(torch.tanh(self.hidden(x))).squeeze(-1)
        loss = None if labels is None else F.binary_cross_entropy_with_logits(scores, labels)
        return scores, loss


class Discriminator(nn.Module):
    """Tells judged-relevant documents from generated ones."""

    def __init__(self, config: IRGANConfig):
        super().__init__()
        self.f = Scorer(config.n_features, config.hidden)
        self.pairwise = config.variant == "pairwise"

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pointwise: ``x`` documents, ``y`` 1 (relevant) / 0 (generated).
        Pairwise: ``x`` relevant and ``y`` generated documents, row by row."""
        if self.pairwise:
            margin = self.f(x)[0] - self.f(y)[0]
            return margin, F.softplus(-margin).mean()  # -log σ(f(rel) - f(gen))
        scores, loss = self.f(x, y)
        return scores, loss

    @torch.no_grad()
    def reward(self, x: torch.Tensor, relevant: torch.Tensor | None = None) -> torch.Tensor:
        """G's reward for generating ``x`` (paired, pairwise, with a ``relevant`` document)."""
        if self.pairwise:
            return F.logsigmoid(self.f(x)[0] - self.f(relevant)[0])
        return 2.0 * torch.sigmoid(self.f(x)[0]) - 1.0


class Generator(nn.Module):
    """A softmax over each topic's candidates, ``p(d | q) ∝ exp(f(q, d) / T)``."""

    def __init__(self, config: IRGANConfig):
        super().__init__()
        self.f = Scorer(config.n_features, config.hidden)
        self.temperature = float(config.temperature)

    def logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(topics, candidates)`` logits; padding gets -inf."""
        return (self.f(x)[0] / self.temperature).masked_fill(~mask, float("-inf"))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, samples: torch.Tensor, advantage: torch.Tensor, weight: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """REINFORCE: ``-Σ w · advantage · log p(sample)``, averaged over the weighted samples."""
        logp = torch.log_softmax(self.logits(x, mask), dim=-1).gather(1, samples)
        loss = -(logp * advantage * weight).sum() / weight.gt(0).sum().clamp(min=1)
        return logp, loss


# ---------------------------------------------------------------------- data


@dataclass
class TopicBatch:
    """Topics padded to one tensor: features ``(Q, L, F)`` with masks and gains."""

    qids: list[str]
    x: torch.Tensor
    mask: torch.Tensor  # real candidates
    gain: torch.Tensor  # judged gain, 0 when unjudged
    relevant: torch.Tensor  # gain > 0
    idcg: torch.Tensor  # ideal DCG@10 from all the topic's judgements

    @classmethod
    def build(cls, features: Features, qids: list[str], judged: dict[str, np.ndarray]) -> TopicBatch:
        groups = features.groups()
        width = max((len(groups[q]) for q in qids), default=1)
        x = np.zeros((len(qids), width, features.n_features), dtype=np.float32)
        mask = np.zeros((len(qids), width), dtype=bool)
        gain = np.zeros((len(qids), width), dtype=np.float32)
        idcg = np.zeros(len(qids), dtype=np.float32)
        discount = 1.0 / np.log2(np.arange(NDCG_DEPTH) + 2.0)
        for i, q in enumerate(qids):
            rows = groups[q]
            x[i, : len(rows)] = features.values[rows]
            mask[i, : len(rows)] = True
            gain[i, : len(rows)] = np.maximum(features.labels[rows], 0)
            ideal = np.sort(judged.get(q, np.zeros(0)))[::-1][:NDCG_DEPTH]
            idcg[i] = float(np.sum(ideal * discount[: len(ideal)]))
        g = torch.from_numpy(gain)
        return cls(qids, torch.from_numpy(x), torch.from_numpy(mask), g, g > 0, torch.from_numpy(idcg))

    def __len__(self) -> int:
        return len(self.qids)


@torch.no_grad()
def ndcg(scorer: Callable[[torch.Tensor], torch.Tensor], batch: TopicBatch) -> float:
    """Mean nDCG@10 (linear gains, as trec_eval) of a scorer over the batch's topics."""
    if len(batch) == 0:
        return float("nan")
    scores = scorer(batch.x).masked_fill(~batch.mask, float("-inf"))
    k = min(NDCG_DEPTH, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    gains = batch.gain.gather(1, top) * batch.mask.gather(1, top)
    dcg = (gains / torch.log2(torch.arange(k, dtype=torch.float32) + 2.0)).sum(1)
    ok = batch.idcg > 0
    return float((dcg[ok] / batch.idcg[ok]).mean()) if ok.any() else float("nan")


# ---------------------------------------------------------------------- the game


@dataclass
class History:
    pretrain_loss: list[float] = field(default_factory=list)
    pretrain_ndcg: list[float] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_ndcg: list[float] = field(default_factory=list)
    g_ndcg: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # per adversarial round
    pretrain_seconds: float = 0.0
    best: dict[str, int] = field(default_factory=dict)  # player -> chosen epoch/round


class IRGAN:
    """Pretraining and the minimax game on one set of training topics."""

    def __init__(self, config: IRGANConfig, quiet: bool = False, label: str = ""):
        self.config = config
        self.quiet = quiet
        self.label = label
        torch.manual_seed(config.seed)  # initial weights depend on the seed alone
        self.mle = Scorer(config.n_features, config.hidden)
        self.d = Discriminator(config)
        self.g = Generator(config)
        self.history = History()
        self.best: dict[str, dict] = {}

    # ---------------------------------------------------------------- pretraining

    def pretrain(self, train: TopicBatch, valid: TopicBatch) -> None:
        """The MLE baseline: logistic loss, relevant documents against as many uniformly drawn candidates."""
        from irkit.nn import Trainer, TrainerConfig

        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        rel = train.relevant.numpy()
        other = (train.mask & ~train.relevant).numpy()
        x = train.x.numpy()

        def batches(epoch: int):
            pos_q, pos_d = np.nonzero(rel)
            neg = []
            for q in range(len(train)):
                cands = np.flatnonzero(other[q])
                k = int(rel[q].sum())
                if len(cands) and k:
                    neg += [(q, d) for d in rng.choice(cands, size=k)]
            xs = (
                np.concatenate([x[pos_q, pos_d], x[[q for q, _ in neg], [d for _, d in neg]]])
                if neg
                else x[pos_q, pos_d]
            )
            ys = np.r_[np.ones(len(pos_q)), np.zeros(len(neg))].astype(np.float32)
            order = rng.permutation(len(ys))
            for s in range(0, len(order), cfg.pretrain_batch):
                idx = order[s : s + cfg.pretrain_batch]
                yield torch.from_numpy(xs[idx]), torch.from_numpy(ys[idx])

        best = {"ndcg": -1.0, "state": copy.deepcopy(self.mle.state_dict()), "epoch": 0}

        def validate(model, epoch: int) -> dict[str, float]:
            score = ndcg(lambda t: model(t)[0], valid)
            if math.isnan(score) or score > best["ndcg"]:  # no validation topics: keep the last epoch
                best.update(ndcg=score, state=copy.deepcopy(model.state_dict()), epoch=epoch)
            return {"val nDCG@10": score}

        start = time.perf_counter()
        if cfg.pretrain_epochs:
            trainer = Trainer(
                TrainerConfig(
                    epochs=cfg.pretrain_epochs,
                    lr=cfg.pretrain_lr,
                    weight_decay=cfg.weight_decay,
                    device="cpu",  # a net this small runs faster on the CPU than across a bus
                    seed=cfg.seed,
                    log_every=10**9,
                    quiet=self.quiet,
                )
            )
            hist = trainer.fit(self.mle, batches, validate=validate)
            self.history.pretrain_loss = list(hist.train_loss)
            self.history.pretrain_ndcg = [v["val nDCG@10"] for v in hist.val]
        self.history.pretrain_seconds = time.perf_counter() - start
        self.mle.load_state_dict(best["state"])
        self.history.best["mle"] = int(best["epoch"])
        log(
            f"{self.label}pretrained the MLE ranker: {cfg.pretrain_epochs} epochs in "
            f"{self.history.pretrain_seconds:.1f} s, best val nDCG@10 {best['ndcg']:.4f} (epoch {best['epoch']})",
            self.quiet,
        )
        # Both players start from the pretrained ranker.
        self.d.f.load_state_dict(self.mle.state_dict())
        self.g.f.load_state_dict(self.mle.state_dict())

    # ---------------------------------------------------------------- sampling

    def _sample(
        self, probs: torch.Tensor, counts: torch.Tensor, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``counts[q]`` draws with replacement from row ``q`` of ``probs``: ``(indices, valid)`` of shape (Q, max)."""
        width = max(int(counts.max()), 1)
        ok = probs.sum(1) > 0
        safe = torch.where(ok[:, None], probs, torch.ones_like(probs))
        idx = torch.multinomial(safe, width, replacement=True, generator=gen)
        valid = (torch.arange(width)[None, :] < counts[:, None]) & ok[:, None]
        return idx, valid

    @torch.no_grad()
    def _d_data(self, train: TopicBatch, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """D's examples for a round: each relevant document against one document drawn from G."""
        probs = torch.softmax(self.g.logits(train.x, train.mask), dim=-1)
        if self.d.pairwise or self.config.d_negatives == "non-relevant":
            # A pair's other side must be a candidate not judged relevant.
            probs = probs * (train.mask & ~train.relevant)
        n_rel = train.relevant.sum(1)
        idx, valid = self._sample(probs, n_rel, gen)
        q = torch.arange(len(train))[:, None].expand_as(idx)
        generated = train.x[q[valid], idx[valid]]
        # rows of `valid` are filled left to right, n_rel[q] per topic: the same order as the relevant docs
        rel_q = torch.repeat_interleave(torch.arange(len(train)), n_rel)
        keep = valid.any(1)[rel_q]
        relevant = train.x[train.relevant][keep]
        if self.d.pairwise:
            return relevant, generated
        return torch.cat([relevant, generated]), torch.cat([torch.ones(len(relevant)), torch.zeros(len(generated))])

    # ---------------------------------------------------------------- one round

    def _train_d(self, train: TopicBatch, opt, gen: torch.Generator) -> float:
        cfg = self.config
        self.d.train()
        total, steps = 0.0, 0
        for _ in range(cfg.d_epochs):
            a, b = self._d_data(train, gen)
            order = torch.randperm(len(a), generator=gen)
            for s in range(0, len(order), cfg.batch_size):
                idx = order[s : s + cfg.batch_size]
                _, loss = self.d(a[idx], b[idx])
                total += optimizer_step(opt, loss)
                steps += 1
        return total / max(steps, 1)

    def _train_g(self, train: TopicBatch, opt, gen: torch.Generator) -> float:
        cfg = self.config
        self.g.train()
        total, steps = 0.0, 0
        for _ in range(cfg.g_epochs):
            order = torch.randperm(len(train), generator=gen)
            for s in range(0, len(order), cfg.g_queries):
                t = order[s : s + cfg.g_queries]
                x, mask, rel = train.x[t], train.mask[t], train.relevant[t]
                n_rel = rel.sum(1)
                with torch.no_grad():
                    probs = torch.softmax(self.g.logits(x, mask), dim=-1)
                    if self.d.pairwise:
                        draw = probs
                    else:
                        # Mix in the relevant documents so that G sees D's reward for them early,
                        # and correct the bias with importance weights p / p_mix.
                        to_rel = rel.float() / n_rel.clamp(min=1)[:, None]
                        draw = (1 - cfg.mix) * probs + cfg.mix * to_rel
                    idx, valid = self._sample(draw, cfg.samples * n_rel, gen)
                    importance = (probs.gather(1, idx) / draw.gather(1, idx).clamp(min=1e-12)) * valid
                    q = torch.arange(len(t))[:, None].expand_as(idx)
                    picked = x[q, idx]  # (Q, S, F)
                    if self.d.pairwise:
                        # pair each draw with a relevant document of its topic, chosen at random
                        rel_probs = rel.float() + (n_rel == 0)[:, None].float()
                        partner = torch.multinomial(rel_probs, idx.shape[1], replacement=True, generator=gen)
                        reward = self.d.reward(picked, x[q, partner])
                    else:
                        reward = self.d.reward(picked)
                    if cfg.baseline:
                        w = importance
                        base = (w * reward).sum(1, keepdim=True) / w.sum(1, keepdim=True).clamp(min=1e-12)
                        advantage = reward - base
                    else:
                        advantage = reward
                _, loss = self.g(x, mask, idx, advantage, importance)
                total += optimizer_step(opt, loss)
                steps += 1
        return total / max(steps, 1)

    def fit(
        self, train: TopicBatch, valid: TopicBatch, checkpoint: Callable[[IRGAN, int], None] | None = None
    ) -> History:
        """Pretrain, then play ``config.epochs`` rounds; keeps the best validated round of each player."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self.pretrain(train, valid)
        gen = torch.Generator().manual_seed(cfg.seed + 1)
        d_opt = torch.optim.Adam(self.d.parameters(), lr=cfg.d_lr, weight_decay=cfg.weight_decay)
        g_opt = torch.optim.Adam(self.g.parameters(), lr=cfg.g_lr, weight_decay=cfg.weight_decay)
        h = self.history
        best = {"d": (-1.0, 0), "g": (-1.0, 0)}
        # Until a round is played the players are the pretrained ranker.
        self.best = {"d": copy.deepcopy(self.d.f.state_dict()), "g": copy.deepcopy(self.g.f.state_dict())}
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            h.d_loss.append(self._train_d(train, d_opt, gen))
            h.g_loss.append(self._train_g(train, g_opt, gen))
            self.d.eval()
            self.g.eval()
            h.d_ndcg.append(ndcg(lambda t: self.d.f(t)[0], valid))
            h.g_ndcg.append(ndcg(lambda t: self.g.f(t)[0], valid))
            h.seconds.append(time.perf_counter() - start)
            for player, score in (("d", h.d_ndcg[-1]), ("g", h.g_ndcg[-1])):
                if epoch == 1 or math.isnan(score) or score > best[player][0]:
                    best[player] = (score, epoch)
                    self.best[player] = copy.deepcopy(getattr(self, player).f.state_dict())
            h.best.update(d=best["d"][1], g=best["g"][1])
            log(
                f"{self.label}round {epoch}/{cfg.epochs}: D loss {h.d_loss[-1]:.4f}, G loss {h.g_loss[-1]:+.4f}, "
                f"val nDCG@10 D {h.d_ndcg[-1]:.4f} G {h.g_ndcg[-1]:.4f} ({h.seconds[-1]:.1f} s)",
                self.quiet,
            )
            if checkpoint is not None:
                checkpoint(self, epoch)
        return h

    def states(self) -> dict[str, dict]:
        """The kept scorers: the MLE ranker and the best validated D and G."""
        return {
            "mle": copy.deepcopy(self.mle.state_dict()),
            "d": self.best.get("d", self.d.f.state_dict()),
            "g": self.best.get("g", self.g.f.state_dict()),
        }


# ---------------------------------------------------------------------- cross-validated model


@dataclass
class Part:
    """One trained model: the topics it trained on, validated on and is to score."""

    name: str
    train: list[str]
    valid: list[str]
    test: list[str]  # topics this part scores (empty for the model trained on all topics)
    states: dict[str, dict] | None = None
    history: dict | None = None
    done: bool = False


class IRGANModel:
    """Scorers of every cross-validation fold, and optionally one trained on all topics.

    A topic held out by fold ``k`` is scored by fold ``k``'s model; any other topic
    by the model trained on all topics, or, without one, by the mean of the folds'
    scores (none of them trained on it).
    """

    def __init__(self, config: IRGANConfig, parts: list[Part], features: dict, meta: dict | None = None):
        self.config = config
        self.parts = parts
        self.features = features  # names, source, extractor settings
        self.meta = meta or {}
        self._nets: dict[tuple[str, str], Scorer] = {}

    @property
    def complete(self) -> bool:
        return all(p.done for p in self.parts)

    def save(self, path: str | os.PathLike[str]) -> Path:
        from irkit.nn import save_model

        state = {p.name: p.states for p in self.parts if p.states is not None}
        parts = [{k: v for k, v in dataclasses.asdict(p).items() if k != "states"} for p in self.parts]
        extra = {"features": self.features, "parts": parts, "complete": self.complete, **self.meta}
        return save_model(path, KIND, self.config, state, extra=extra, overwrite=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IRGANModel:
        from irkit.nn import load_model

        meta, state = load_model(path, KIND)
        if state is not None and not isinstance(state, dict):
            raise InputError(
                "weights.pt does not hold IRGAN weights (a foreign or damaged file)", Path(path) / "weights.pt"
            )
        known = {f.name for f in dataclasses.fields(IRGANConfig)}
        config = IRGANConfig(**{k: v for k, v in meta["config"].items() if k in known})
        parts = []
        for p in meta.get("parts", []):
            part = Part(**{k: v for k, v in p.items() if k in {f.name for f in dataclasses.fields(Part)}})
            part.states = (state or {}).get(part.name)
            if part.done and not isinstance(part.states, dict):
                # model.json says this part finished: its weights are missing, not untrained
                # (so --resume, which keeps finished parts, is not the remedy).
                raise InputError(
                    f"weights.pt lacks the weights of {part.name}, which model.json says finished training: "
                    "a foreign or damaged weights file; retrain with --force",
                    Path(path) / "weights.pt",
                )
            parts.append(part)
        rest = {k: v for k, v in meta.items() if k not in ("kind", "config", "features", "parts", "complete")}
        model = cls(config, parts, meta.get("features", {}), rest)
        model.path = Path(path)
        return model

    def check_features(self, names: tuple[str, ...] | list[str], source: str) -> None:
        """Refuse features other than those the model was trained on."""
        from irkit.rerank.learned import check_features

        letor = self.features.get("source") == "letor"
        hint = (
            "rank LETOR files with irkit.rerank.irgan_rank.rank_letor"
            if letor
            else "rank with irkit rank --model irgan"
        )
        check_features(self.features, names, source, model="IRGAN", rank_hint=hint, path=getattr(self, "path", None))

    def _net(self, part: Part, use: str) -> Scorer:
        key = (part.name, use)
        if key not in self._nets:
            from irkit.nn.checkpoint import fitted

            where = Path(getattr(self, "path", None) or ".") / "weights.pt"
            net = fitted(lambda: Scorer(self.config.n_features, self.config.hidden), part.states[use], where)
            net.eval()
            self._nets[key] = net
        return self._nets[key]

    def assignment(self, qids) -> dict[str, list[Part]]:
        """The part(s) that score each topic."""
        usable = [p for p in self.parts if p.states is not None]
        folds = [p for p in usable if p.test]
        full = next((p for p in usable if not p.test), None)
        owner = {q: p for p in self.parts if p.test for q in p.test}
        out: dict[str, list[Part]] = {}
        missing = []
        for q in dict.fromkeys(qids):
            if q in owner:
                if owner[q].states is None:
                    missing.append(q)
                else:
                    out[q] = [owner[q]]
            elif full is not None:
                out[q] = [full]
            elif folds:
                out[q] = folds
            else:
                missing.append(q)
        if missing:
            raise IrkitError(
                f"{len(missing)} topic(s) belong to folds that were not trained yet (training was interrupted?), "
                f"e.g. {', '.join(missing[:5])}; finish it with `irkit train irgan ... --resume`"
            )
        return out

    @torch.no_grad()
    @single_thread()
    def score(self, features: Features, use: str = "d") -> np.ndarray:
        """Scores of the feature rows with the discriminator (``d``), generator (``g``) or MLE ranker (``mle``)."""
        if use not in USES:
            raise IrkitError(f"--use must be one of {', '.join(USES)} (got {use!r})")
        out = np.zeros(len(features), dtype=np.float64)
        groups = features.groups()
        by_parts: dict[tuple[str, ...], list[np.ndarray]] = {}
        lookup = {p.name: p for p in self.parts}
        for q, parts in self.assignment(list(groups)).items():
            by_parts.setdefault(tuple(p.name for p in parts), []).append(groups[q])
        for names, rows in by_parts.items():
            idx = np.concatenate(rows)
            x = torch.from_numpy(np.ascontiguousarray(features.values[idx], dtype=np.float32))
            out[idx] = np.mean([self._net(lookup[n], use)(x)[0].numpy() for n in names], axis=0)
        return out


def split_folds(qids, folds: int, seed: int) -> list[list[str]]:
    """Topics dealt into ``folds`` folds after a seeded shuffle (irkit's one fold rule)."""
    from irkit.tuning import split_folds as deal

    return deal(qids, folds, seed)


def plan(trainable: list[str], folds: int, full: bool, config: IRGANConfig) -> list[Part]:
    """The parts to train: one per fold (trained on the other folds) and optionally one on all topics."""
    rng = np.random.default_rng(config.seed + 7)
    parts = []

    def part(name: str, pool: list[str], test: list[str]) -> Part:
        pool = sorted(pool, key=natural_key)
        n_valid = min(max(1, round(config.valid_fraction * len(pool))), len(pool) - 1)
        valid = set(rng.choice(pool, size=n_valid, replace=False).tolist()) if n_valid else set()
        return Part(name, [q for q in pool if q not in valid], sorted(valid, key=natural_key), test)

    if folds >= 2:
        for k, test in enumerate(split_folds(trainable, folds, config.seed)):
            held = set(test)
            parts.append(part(f"fold{k + 1}", [q for q in trainable if q not in held], test))
    if full or folds < 2:
        parts.append(part("all", list(trainable), []))
    return parts


def train_cv(
    features: Features,
    qrels,
    config: IRGANConfig,
    folds: int = 5,
    full: bool = True,
    output: str | os.PathLike[str] | None = None,
    resume: bool = False,
    quiet: bool = False,
    meta: dict | None = None,
) -> IRGANModel:
    """Train one IRGAN per fold on the other folds' topics (plus one on all topics with ``full``).

    ``features`` must carry labels and be normalised; ``qrels`` gives each topic's
    ideal DCG. Topics without a relevant candidate are skipped and counted. With
    ``output`` the model folder is rewritten atomically after every round, so an
    interruption leaves the last good checkpoint; ``resume`` keeps the parts a
    previous, interrupted run finished.
    """
    from irkit.rerank.learned import trainable_topics

    trainable, skipped = trainable_topics(features, folds, model="IRGAN", quiet=quiet)
    if config.n_features != features.n_features:
        config = dataclasses.replace(config, n_features=features.n_features)
    judged: dict[str, np.ndarray] = {}
    for q, g in qrels[qrels["label"] > 0].groupby("qid"):
        judged[str(q)] = g["label"].to_numpy(dtype=np.float32)
    parts = plan(trainable, folds, full, config)
    info = {"names": list(features.names), "source": features.source, **features.meta}
    model = IRGANModel(
        config,
        parts,
        info,
        {
            "folds": folds if folds >= 2 else 0,
            "skipped_topics": skipped,
            "trainable_topics": len(trainable),
            **(meta or {}),
        },
    )
    if resume and output is not None and Path(output).exists():
        from irkit.io.atomic import forget_input

        _resume(model, IRGANModel.load(output), quiet)
        forget_input(output)  # resuming replaces its own checkpoint: not an input to protect
    with single_thread():
        for i, part in enumerate(model.parts):
            if not part.done:
                _train_part(model, i, features, judged, config, output, quiet)
    return model


def _train_part(
    model: IRGANModel, i: int, features: Features, judged: dict, config: IRGANConfig, output, quiet: bool
) -> None:
    part = model.parts[i]
    cfg = dataclasses.replace(config, seed=config.seed * 1000 + i)
    game = IRGAN(cfg, quiet=quiet, label=f"{part.name}: ")
    train = TopicBatch.build(features, part.train, judged)
    valid = TopicBatch.build(features, part.valid, judged)
    log(f"{part.name}: training on {len(part.train)} topics, validating on {len(part.valid)}, "
        f"scoring {len(part.test) or 'unseen'} topics", quiet)  # fmt: skip

    def checkpoint(game: IRGAN, epoch: int) -> None:
        part.states, part.history = game.states(), dataclasses.asdict(game.history)
        if output is not None:
            model.save(output)

    game.fit(train, valid, checkpoint=checkpoint)
    part.states, part.history, part.done = game.states(), dataclasses.asdict(game.history), True
    if output is not None:
        model.save(output)


def _resume(model: IRGANModel, old: IRGANModel, quiet: bool) -> None:
    same = (
        dataclasses.asdict(old.config) == dataclasses.asdict(model.config)
        and old.features.get("names") == model.features.get("names")
        and [(p.name, p.train, p.valid, p.test) for p in old.parts]
        == [(p.name, p.train, p.valid, p.test) for p in model.parts]
    )
    if not same:
        raise InputError(
            "--resume: the model folder was trained with other settings, features or topics; drop --resume (and pass --force)",
            getattr(old, "path", None),
        )
    done = 0
    for new, prev in zip(model.parts, old.parts, strict=True):
        if prev.done and prev.states is not None:
            new.states, new.history, new.done = prev.states, prev.history, True
            done += 1
    log(f"resuming: {done} of {len(model.parts)} parts were already trained", quiet)
