"""Trained dense encoders as :class:`irkit.pipeline.Encoder` objects, loaded by model-folder kind.

``encode(texts)`` analyses texts as the index does and returns float32 vectors
of unit length, so that inner product is cosine similarity, the measure Lauly
et al. use to retrieve with DocNADE's representations. A text with no known
word still gets a vector (DocNADE's ``g(c)``; the sequence autoencoder's state
after ``<eos>``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from irkit.common import unit_rows
from irkit.errors import InputError
from irkit.pipeline import Encoder

KINDS = ("docnade", "seqae")


_unit = unit_rows  # float64 inside: saturated sigmoid units can leave a vector near 1e-20


class DenseEncoder(Encoder):
    kind: str = ""
    specials: tuple[str, ...] = ()
    unk: str | None = None

    def __init__(self, path: str | os.PathLike[str], device: str = "cpu", threads: int | None = 1):
        """``threads``: torch threads while encoding (None: torch's choice). One is the default: on a
        shared CPU two threads waiting on each other made the LSTM encoder up to 20x slower (measured)."""
        from irkit.dense.train import VOCAB_FILE
        from irkit.dense.vocab import Vocab
        from irkit.nn import load_model

        self.path = Path(path)
        meta, state = load_model(self.path, self.kind)
        self.meta = meta
        self.vocab = Vocab.load(self.path / VOCAB_FILE, self.specials)
        self.device = device
        if threads is not None and threads < 0:
            raise InputError(f"threads must be positive, or 0 for torch's choice (got {threads})")
        self.threads = threads
        self.model = self._build(meta["config"], state)
        self.model.to(device).eval()
        self.dim = int(meta["config"]["dim"])

    def _build(self, config: dict, state: dict): ...

    def _vectors(self, ids: list[list[int]]): ...

    def known(self, tokens: Sequence[str]) -> int:
        """How many of ``tokens`` the encoder's vocabulary knows."""
        return self.vocab.known(tokens)

    def encode(self, texts: Sequence[str], quiet: bool = True) -> np.ndarray:
        from irkit.dense.vocab import analyzer

        return self.encode_tokens(analyzer().many(list(texts), desc="analysing", quiet=quiet), quiet=quiet)

    def encode_tokens(self, docs: Sequence[Sequence[str]], batch_size: int = 256, quiet: bool = True) -> np.ndarray:
        """Unit-length float32 vectors (n, dim) of analysed documents, in input order."""
        import torch

        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return self._encode_ids([self.vocab.ids(d, self.unk) for d in docs], batch_size, quiet)
        finally:
            torch.set_num_threads(before)

    def _encode_ids(self, ids: list[list[int]], batch_size: int, quiet: bool) -> np.ndarray:
        import torch

        from irkit.progress import progress

        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        # Similar lengths share a batch: less padding, and results do not depend on batching.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        with torch.inference_mode():
            for chunk in progress(chunks, desc=f"encoding ({self.kind})", unit="batch", disable=quiet):
                out[chunk] = self._vectors([ids[i] for i in chunk]).float().cpu().numpy()
        if not np.isfinite(out).all():
            raise InputError("the encoder produced non-finite vectors (a broken model?)", self.path)
        return _unit(out)


class DocNADEEncoder(DenseEncoder):
    kind = "docnade"
    name = "docnade"

    def _build(self, config, state):
        from irkit.dense.docnade import DocNADE, DocNADEConfig
        from irkit.nn.checkpoint import fitted

        build = lambda: DocNADE(DocNADEConfig(**config), tree=(state["nodes"], state["codes"], state["lengths"]))  # noqa: E731
        return fitted(build, state, self.path)

    def _vectors(self, ids):
        import torch

        pad = self.model.pad
        width = max(1, max(len(d) for d in ids))
        t = torch.full((len(ids), width), pad, dtype=torch.long)
        for r, d in enumerate(ids):
            t[r, : len(d)] = torch.tensor(d, dtype=torch.long)
        return self.model.hidden(t.to(self.device))


class SeqAEEncoder(DenseEncoder):
    kind = "seqae"
    name = "seqae"
    unk = "<unk>"

    @property
    def specials(self):  # type: ignore[override]
        from irkit.dense.seqae import SPECIALS

        return SPECIALS

    def _build(self, config, state):
        from irkit.dense.seqae import SeqAE, SeqAEConfig
        from irkit.nn.checkpoint import fitted

        return fitted(lambda: SeqAE(SeqAEConfig(**config)), state, self.path)

    def _vectors(self, ids):
        from irkit.dense.seqae import tensors

        t = tensors(ids, self.model.config.max_len)
        return self.model.encode(t["src"].to(self.device), t["lengths"])


_CLASSES = {"docnade": DocNADEEncoder, "seqae": SeqAEEncoder}


def load_encoder(
    path: str | os.PathLike[str], kind: str | None = None, device: str = "cpu", threads: int | None = 1,
    allow_pickle: bool = False,
) -> Encoder:  # fmt: skip
    """The encoder in model folder ``path``; with ``kind``, the folder must hold that kind.

    An irkit folder (``model.json``) gives a :class:`DenseEncoder` (analysed tokens in);
    a sentence-transformers folder a :class:`irkit.dense.sentence.SentenceEncoder`
    (raw text in; ``allow_pickle`` as there).
    """
    from irkit.dense.sentence import KIND, SentenceEncoder, is_sentence_transformers
    from irkit.nn import model_kind

    if is_sentence_transformers(path) and not (Path(path) / "model.json").is_file():
        if kind is not None and kind != KIND:
            raise InputError(f"this is a sentence-transformers model ({KIND}), not {kind!r}", path)
        return SentenceEncoder(path, allow_pickle, device=device, threads=threads)
    found = model_kind(path)
    if found not in _CLASSES:
        raise InputError(f"this is a {found!r} model, not a dense encoder ({' or '.join((*KINDS, KIND))})", path)
    if kind is not None and found != kind:
        raise InputError(f"this is a {found!r} encoder, not {kind!r}", path)
    return _CLASSES[found](path, device=device, threads=threads)
