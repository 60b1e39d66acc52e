"""What the text models share: batches, the KL schedule, word dropout, the Gaussian latent
(ELBO, importance-weighted bound, active units, homotopies) and the text side of the
recipe base (:class:`irkit.generative.recipe.Recipe`: corpus, vocabulary, samples file).

A model file defines its ``nn.Module`` and a small :class:`TextRecipe` subclass;
the two sentence VAEs subclass :class:`LatentTextModel` and only bring their
decoder. Every model reads a batch ``tokens`` of shape ``(B, T + 2)`` laid out as
``<s> w1 .. wn </s> <pad> ..`` with ``lengths = n + 1`` (the number of predicted
tokens, ``</s>`` included): a decoder reads ``tokens[:, :-1]`` and predicts
``tokens[:, 1:]``. Losses are nats per sentence (summed over its tokens),
averaged over the batch; perplexities are ``exp(total nats / total predicted
tokens)``, ``</s>`` counted as a token.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from irkit.errors import InputError
from irkit.generative.distributions import active_units, gaussian_kl, log_mean_exp, normal_log_prob, reparameterize
from irkit.generative.recipe import Recipe
from irkit.generative.text.data import BOS, EOS, PAD, UNK, TextCorpus, Vocab, load_corpus

KL_SCHEDULES = ("logistic", "linear", "constant")

# -- batches -------------------------------------------------------------------------


def pad_sentences(sentences: Sequence[Sequence[int]], device=None):
    """``(tokens, lengths)``: ``<s> ids </s>`` rows padded with ``<pad>``; lengths = len(ids) + 1."""
    width = max(len(s) for s in sentences) + 2
    tokens = torch.full((len(sentences), width), PAD, dtype=torch.long)
    for i, s in enumerate(sentences):
        tokens[i, : len(s) + 2] = torch.tensor([BOS, *s, EOS], dtype=torch.long)
    lengths = torch.tensor([len(s) + 1 for s in sentences], dtype=torch.long)
    if device is not None:
        tokens, lengths = tokens.to(device), lengths.to(device)
    return tokens, lengths


def length_buckets(lengths: Sequence[int], batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Batches of indices of similar length (less padding); shuffled when ``rng`` is given.

    Shuffling happens in pools of 50 batches, which keeps batches random while
    sorting only within a pool.
    """
    n = len(lengths)
    order = rng.permutation(n) if rng is not None else np.arange(n)
    pool = batch_size * 50
    batches = []
    for i in range(0, n, pool):
        idx = order[i : i + pool]
        idx = idx[np.argsort([lengths[j] for j in idx], kind="stable")]
        batches += [idx[j : j + batch_size] for j in range(0, len(idx), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def sentence_batches(encoded: list[list[int]], batch_size: int, seed: int) -> Callable[[int], Iterator[dict]]:
    """``epoch -> iterator of {tokens, lengths}``, reshuffled each epoch."""

    def batches(epoch: int) -> Iterator[dict]:
        rng = np.random.default_rng(seed * 1000 + epoch)
        for idx in length_buckets([len(s) for s in encoded], batch_size, rng):
            tokens, lengths = pad_sentences([encoded[i] for i in idx])
            yield {"tokens": tokens, "lengths": lengths}

    return batches


# -- pieces of the models ------------------------------------------------------------


def kl_weight(step: int, schedule: str = "logistic", warmup: int = 1500) -> float:
    """The KL term's weight after ``step`` updates (Bowman et al.'s annealing).

    ``logistic`` is ``1 / (1 + exp(-k (step - warmup / 2)))`` with ``k = 10 / warmup``
    (about 0.007 at step 0, 0.5 at warmup / 2, 0.993 at warmup); ``linear`` rises
    from 0 to 1 over ``warmup`` steps; ``constant`` is always 1.
    """
    if schedule == "constant" or warmup <= 0:
        return 1.0
    if schedule == "linear":
        return min(1.0, step / warmup)
    if schedule == "logistic":
        return 1.0 / (1.0 + math.exp(-10.0 / warmup * (step - warmup / 2)))
    raise InputError(f"kl_schedule must be one of {', '.join(KL_SCHEDULES)}, not {schedule!r}")


def word_dropout(inputs, rate: float, generator=None):
    """Decoder inputs with each word replaced by ``<unk>`` with probability ``rate``.

    ``<s>`` and ``<pad>`` stay, so the decoder still knows where a sentence starts;
    the targets are untouched. Bowman et al. use this to make the decoder lean on ``z``.
    """
    if rate <= 0:
        return inputs
    drop = torch.rand(inputs.shape, generator=generator, device=inputs.device) < rate
    drop &= (inputs != BOS) & (inputs != PAD)
    return inputs.masked_fill(drop, UNK)


def sequence_nll(project, hidden, targets):
    """Per-sentence summed NLL (nats) of ``targets`` from decoder states ``hidden`` (``(B, T, H)``).

    ``project`` maps states to vocabulary logits; it runs on the non-``<pad>``
    positions only, since the softmax is most of the cost of these models.
    """
    mask = targets != PAD
    nll = F.cross_entropy(project(hidden[mask]), targets[mask], reduction="none")
    rows = torch.arange(len(targets), device=targets.device).unsqueeze(1).expand_as(targets)[mask]
    return torch.zeros(len(targets), dtype=nll.dtype, device=nll.device).index_add(0, rows, nll)


def interpolate(a, b, steps: int):
    """``steps`` points on the segment from ``a`` to ``b``, both ends included (``(steps, d)``)."""
    t = torch.linspace(0.0, 1.0, steps, device=a.device).unsqueeze(1)
    return (1 - t) * a.unsqueeze(0) + t * b.unsqueeze(0)


def decode_loop(next_logits: Callable, batch: int, max_len: int, greedy: bool = True, generator=None, device=None):
    """Token ids ``(batch, <= max_len + 1)`` drawn left to right from ``next_logits(prefix) -> (B, V)``.

    Generation stops at ``</s>``; ``<pad>``, ``<s>`` and ``<unk>`` are never produced.
    """
    prefix = torch.full((batch, 1), BOS, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    for _ in range(max_len + 1):
        logits = next_logits(prefix).float()
        logits[:, [PAD, BOS, UNK]] = -math.inf
        if greedy:
            nxt = logits.argmax(-1)
        else:
            probs = torch.softmax(logits, -1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)
        nxt = nxt.masked_fill(done, PAD)
        prefix = torch.cat([prefix, nxt.unsqueeze(1)], 1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    return prefix[:, 1:]


# -- the Gaussian-latent sentence model ----------------------------------------------


class LatentTextModel(nn.Module):
    """A sentence VAE without its decoder: embedding, LSTM encoder, Gaussian posterior,
    the annealed ELBO with word dropout, the importance-weighted bound and homotopies.

    Subclasses implement ``decode_hidden(z, inputs) -> (B, T, H)`` and own ``self.out``
    (states to vocabulary logits); the config has
    ``vocab_size embed hidden latent dropout word_dropout kl_schedule kl_warmup free_bits``.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed, padding_idx=PAD)
        self.encoder = nn.LSTM(config.embed, config.hidden, batch_first=True)
        self.to_posterior = nn.Linear(config.hidden, 2 * config.latent)
        self.drop = nn.Dropout(config.dropout)
        # Updates seen so far: the KL weight follows it, and it is saved with the weights.
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def decode_hidden(self, z, inputs):
        raise NotImplementedError

    def project(self, hidden):
        return self.out(self.drop(hidden))

    def decode_logits(self, z, inputs):
        return self.project(self.decode_hidden(z, inputs))

    def posterior(self, tokens, lengths):
        """``(mu, logvar)`` of ``q(z | x)`` from the words and ``</s>`` of each sentence."""
        words = tokens[:, 1:]
        packed = pack_padded_sequence(self.embed(words), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.encoder(packed)
        mu, logvar = self.to_posterior(h[-1]).chunk(2, -1)
        return mu, logvar

    def kl_weight(self) -> float:
        return kl_weight(int(self.step), self.config.kl_schedule, self.config.kl_warmup)

    def forward(self, tokens, lengths):
        mu, logvar = self.posterior(tokens, lengths)
        z = reparameterize(mu, logvar)
        inputs = tokens[:, :-1]
        if self.training:
            inputs = word_dropout(inputs, self.config.word_dropout)
        rec = sequence_nll(self.project, self.decode_hidden(z, inputs), tokens[:, 1:])
        kl = gaussian_kl(mu, logvar)
        kl_term = kl.mean()
        beta = 1.0
        if self.training:
            beta = self.kl_weight()
            self.step += 1
            if self.config.free_bits > 0:
                # Free bits: the KL term costs nothing (and pushes nothing) below free_bits nats.
                kl_term = kl_term.clamp(min=self.config.free_bits)
        return {"rec": rec, "kl": kl, "mu": mu}, rec.mean() + beta * kl_term

    def log_weights(self, tokens, lengths, k: int):
        """``(B, k)`` importance weights ``log p(x, z_i) - log q(z_i | x)``, ``z_i ~ q(z | x)``."""
        mu, logvar = self.posterior(tokens, lengths)
        b = len(tokens)
        z = mu.unsqueeze(0) + torch.randn(k, *mu.shape, device=mu.device) * torch.exp(0.5 * logvar).unsqueeze(0)
        flat = z.reshape(k * b, -1)
        reps = tokens.repeat(k, 1)
        rec = sequence_nll(self.project, self.decode_hidden(flat, reps[:, :-1]), reps[:, 1:]).view(k, b)
        lw = -rec + normal_log_prob(z) - normal_log_prob(z, mu.unsqueeze(0), logvar.unsqueeze(0))
        return lw.t()

    def generate(self, z, max_len: int, greedy: bool = True, generator=None):
        """Token ids decoded from latent codes ``z`` (``(B, latent)``)."""
        return decode_loop(lambda p: self.decode_logits(z, p)[:, -1], len(z), max_len, greedy, generator, z.device)


# -- evaluation ----------------------------------------------------------------------


def eval_batches(encoded: list[list[int]], batch_size: int, device=None) -> Iterator[tuple[Any, Any]]:
    for idx in length_buckets([len(s) for s in encoded], batch_size, None):
        yield pad_sentences([encoded[i] for i in idx], device)


def score_latent(model: LatentTextModel, encoded: list[list[int]], k: int, batch: int, device=None) -> dict[str, Any]:
    """Test figures of a sentence VAE: ELBO and importance-weighted bounds, KL, active units."""
    rec = kl = iw = 0.0
    tokens = 0
    means = []
    with torch.no_grad():
        for x, lengths in eval_batches(encoded, batch, device):
            out, _ = model(x, lengths)
            rec += float(out["rec"].sum())
            kl += float(out["kl"].sum())
            means.append(out["mu"].cpu().numpy())
            tokens += int(lengths.sum())
            if k > 0:
                # k samples in chunks of 10: the logits of k * batch sentences would not fit otherwise
                chunks = [model.log_weights(x, lengths, min(10, k - i)).double() for i in range(0, k, 10)]
                lw = torch.cat(chunks, 1)
                iw += float(-log_mean_exp(lw, 1).sum())
    n = len(encoded)
    result = {
        "sentences": n,
        "tokens": tokens,
        "rec_nats": rec / n,
        "kl_nats": kl / n,
        "elbo_nats": (rec + kl) / n,
        "ppl_elbo": math.exp((rec + kl) / tokens),
        "active_units": active_units(np.concatenate(means)),
        "latent": int(model.config.latent),
    }
    if k > 0:
        result["nll_iw_nats"] = iw / n
        result["ppl_iw"] = math.exp(iw / tokens)
        result["iw_k"] = k
    return result


def exact_scores(model, encoded: list[list[int]], batch: int, device=None) -> dict[str, Any]:
    """Test NLL and perplexity of a model whose forward gives per-sentence NLL (the LM)."""
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for x, lengths in eval_batches(encoded, batch, device):
            out, _ = model(x, lengths)
            nll += float(out["nll"].sum())
            tokens += int(lengths.sum())
    n = len(encoded)
    return {"sentences": n, "tokens": tokens, "nll_nats": nll / n, "ppl": math.exp(nll / tokens)}


# -- recipes -------------------------------------------------------------------------


class TextData(NamedTuple):
    """A corpus, the vocabulary a model reads it with, and the split in use."""

    corpus: TextCorpus
    vocab: Vocab
    split: str = "train"


class TextRecipe(Recipe):
    """A text model (see :class:`irkit.generative.recipe.Recipe`).

    Subclasses set ``kind`` and ``config_cls`` and implement :meth:`build`,
    :meth:`score` and :meth:`generate` (the text of the samples file, markdown);
    :meth:`fit` may be overridden for another batch layout (the hierarchical
    model's documents). ``fit``, ``score`` and ``generate`` read a :class:`TextData`.
    """

    epochs: int = 8
    data_fields = ("vocab_size",)
    data_defaults: dict[str, Any] = {"text": "", "max_vocab": 5000, "min_count": 2, "min_len": 3, "max_len": 30}  # noqa: RUF012
    # lr 3e-3: on the abstracts it reaches in 3 epochs what 1e-3 needs twice as long for
    train_defaults: dict[str, Any] = {"batch_size": 32, "lr": 3e-3, "grad_clip": 5.0, "threads": 0}  # noqa: RUF012
    eval_defaults: dict[str, Any] = {"k": 50, "batch": 64, "limit": 0, "split": "test", "device": "auto", "threads": 0}  # noqa: RUF012
    sample_defaults: dict[str, Any] = {"device": "auto", "greedy": True, "pairs": 3, "steps": 5, "threads": 0}  # noqa: RUF012

    # -- training
    def prepare(self, data: str, opts: dict[str, Any]) -> TextData:
        corpus = load_corpus(data, opts["text"] or None, opts["min_len"], opts["max_len"])
        return TextData(corpus, Vocab.build(corpus.sentences("train"), opts["max_vocab"], opts["min_count"]))

    def data_config(self, prepared: TextData) -> dict[str, Any]:
        return {"vocab_size": len(prepared.vocab)}

    def fit(self, model, prepared: TextData, trainer, opts: dict[str, Any]):
        """Train on sentences; keep the weights of the epoch with the best validation loss."""
        corpus, vocab, _ = prepared
        train = [vocab.encode(s) for s in corpus.sentences("train")]
        valid = [vocab.encode(s) for s in corpus.sentences("valid")]
        return self._fit(model, sentence_batches(train, opts["batch_size"], trainer.config.seed), valid, trainer, opts)

    def validation_loss(self, model, valid, opts: dict[str, Any]) -> dict[str, float]:
        """Validation figures per epoch; ``loss`` (nats per token) picks the best epoch."""
        rec = kl = 0.0
        tokens = 0
        for x, lengths in eval_batches(valid, 128, next(model.parameters()).device):
            out, _ = model(x, lengths)
            rec += float(out.get("rec", out.get("nll")).sum())
            kl += float(out["kl"].sum()) if "kl" in out else 0.0
            tokens += int(lengths.sum())
        scores = {"loss": (rec + kl) / tokens, "ppl": math.exp((rec + kl) / tokens)}
        if hasattr(model, "kl_weight"):
            scores.update(rec=rec / len(valid), kl=kl / len(valid), beta=model.kl_weight())
        return scores

    def _fit(self, model, batches, valid, trainer, opts):
        best: dict[str, Any] = {"loss": math.inf, "state": None, "epoch": 0}

        def validate(m, epoch: int) -> dict[str, float]:
            return self.validation_loss(m, valid, opts)

        def keep_best(m, epoch: int, history) -> None:
            loss = history.val[-1]["loss"]
            if loss < best["loss"]:
                best.update(
                    loss=loss, epoch=epoch, state={k: v.detach().cpu().clone() for k, v in m.state_dict().items()}
                )

        history = trainer.fit(model, batches, validate=validate, checkpoint=keep_best)
        if best["state"] is not None:
            # Keep the step counter of the last epoch: it records how far the KL annealing went.
            step = model.state_dict().get("step")
            model.load_state_dict(best["state"])
            if step is not None:
                model.step.copy_(step)
        history.best_epoch = best["epoch"]
        return history

    def train_meta(self, data: str, prepared: TextData, opts: dict[str, Any], history) -> dict[str, Any]:
        return {
            "text": str(Path(opts["text"]).resolve()) if opts["text"] else "",
            "corpus": {k: opts[k] for k in ("min_len", "max_len", "max_vocab", "min_count")},
            "best_epoch": getattr(history, "best_epoch", len(history.train_loss)),
            "valid": [{k: round(v, 4) for k, v in s.items()} for s in history.val],
            "protocol": prepared.corpus.protocol(prepared.vocab),
        }

    def model_files(self, prepared: TextData) -> dict[str, Any]:
        return {"vocab.json": prepared.vocab.save}

    def summary(self, data: str, prepared: TextData, opts: dict[str, Any], model, history, seconds: float) -> dict:
        best = getattr(history, "best_epoch", len(history.train_loss))
        last = history.val[best - 1] if history.val else {}
        return {
            "data": prepared.corpus.protocol(prepared.vocab),
            "epochs": f"{len(history.train_loss)} (best valid at {best})",
            "valid": ", ".join(f"{k} {v:.3f}" for k, v in last.items()),
            "seconds": f"{seconds:.1f}",
            "parameters": sum(p.numel() for p in model.parameters()),
        }

    # -- a saved model
    def data_of(self, meta: dict[str, Any], split: str = "train") -> TextData:
        """The corpus (and so the split) a model was trained on, rebuilt from its model.json, and its vocabulary."""
        c = meta.get("corpus", {})
        corpus = load_corpus(
            meta.get("data", "abstracts"), meta.get("text") or None, c.get("min_len", 3), c.get("max_len", 30)
        )
        return TextData(corpus, Vocab.load(Path(meta["folder"]) / "vocab.json"), split)

    def write(self, samples: str, output: Path, opts: dict[str, Any]) -> Path:
        from irkit.io.atomic import atomic_file

        with atomic_file(output, overwrite=True) as fh:
            fh.write(samples)
        return output

    def test_data(self, meta: dict[str, Any], opts: dict[str, Any]) -> TextData:
        return self.data_of(meta, opts["split"])

    def report(self, model, data: TextData, opts: dict[str, Any]) -> dict[str, Any]:
        return {"parameters": sum(p.numel() for p in model.parameters()), "protocol": data.corpus.protocol(data.vocab)}

    @staticmethod
    def generator(opts: dict[str, Any]):
        """The random generator of a sample run, seeded by ``--seed``."""
        return torch.Generator().manual_seed(opts["seed"])


def limited(encoded: list, limit: int) -> list:
    return encoded[:limit] if limit and limit > 0 else encoded


# -- the sentence-VAE recipe ---------------------------------------------------------


class LatentRecipe(TextRecipe):
    """A recipe for a :class:`LatentTextModel`: bounds, KL and active units; prior samples and homotopies."""

    def score(self, model, data: TextData, opts: dict[str, Any]) -> dict[str, Any]:
        corpus, vocab, split = data
        encoded = limited([vocab.encode(s) for s in corpus.sentences(split)], opts["limit"])
        result = score_latent(model, encoded, opts["k"], opts["batch"], opts["device"])
        result["estimator"] = (
            f"ppl_iw: importance-weighted bound, k={opts['k']} samples of q(z|x); ppl_elbo: ELBO bound (1 sample); "
            "both upper bounds on the true perplexity"
            if opts["k"] > 0
            else "ppl_elbo: ELBO bound (1 sample), an upper bound on the true perplexity"
        )
        return result

    def generate(self, model, n: int, opts: dict[str, Any]) -> str:
        corpus, vocab, _ = self.data_of(opts["meta"])
        generator = self.generator(opts)
        device = next(model.parameters()).device
        cfg = model.config
        greedy = opts["greedy"]
        how = "greedy decoding" if greedy else "sampled decoding"
        lines = [
            f"# {self.kind}: samples and homotopies",
            "",
            f"Data: {opts['meta'].get('protocol', corpus.source)}.",
            "",
        ]
        # The same n codes twice: greedy decoding shows what z says, sampling adds the decoder's own randomness.
        z = torch.randn(n, cfg.latent, generator=generator).to(device)
        for title, mode in (("greedy decoding", True), ("ancestral sampling, temperature 1", False)):
            lines += [f"## Samples from the prior (z ~ N(0, I), {title})", ""]
            ids = model.generate(z, corpus.max_len, mode, generator)
            lines += [f"{i}. {vocab.decode(row) or '(empty)'}" for i, row in enumerate(ids.tolist(), 1)]
            lines.append("")
        pairs, steps = opts["pairs"], max(2, opts["steps"])
        test = corpus.sentences("test")
        if pairs > 0 and len(test) >= 2:
            lines += [
                f"## Homotopies ({how} of z on the line between the posterior means of two test sentences)",
                "",
            ]
            rng = np.random.default_rng(int(generator.initial_seed()))
            short = [s for s in test if len(s) <= 15] or test
            for p in range(pairs):
                a, b = (short[i] for i in rng.choice(len(short), 2, replace=False))
                tokens, lengths = pad_sentences([vocab.encode(a), vocab.encode(b)], device)
                mu, _ = model.posterior(tokens, lengths)
                path = model.generate(interpolate(mu[0], mu[1], steps), corpus.max_len, greedy, generator)
                lines += [f"### {p + 1}", "", f"    input A : {' '.join(a)}"]
                for t, row in zip(np.linspace(0, 1, steps), path.tolist(), strict=True):
                    lines.append(f"    t = {t:.2f}: {vocab.decode(row) or '(empty)'}")
                lines += [f"    input B : {' '.join(b)}", ""]
        return "\n".join(lines).rstrip() + "\n"
