"""A seeded synthetic collection for BM25 speed and memory measurements (never for effectiveness).

Documents: Pyserini JSONL (``id``, ``contents``). Each document's length (in words) is drawn
from the real collection's document lengths, its words from the real collection's word
distribution (unigram, words as they appear in the text, so irkit's analyzer still stems
them and drops stopwords). Topics: a TSV file (``qid<TAB>query``) beside the output, lengths
and words drawn the same way from the real collection's topics (words the documents never
use are left out). Vaswani by default.

    .venv/bin/python benchmarks/synthetic.py --docs 200000 --output /tmp/synth200k.jsonl [--topics 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from irkit.datasets import locate  # noqa: E402

_WORD = re.compile(r"[a-z0-9]+")


def profile(docs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(words, their probabilities, the word count of every text)."""
    counts: Counter[str] = Counter()
    lengths = []
    for text in docs:
        words = _WORD.findall(text.lower())
        counts.update(words)
        lengths.append(len(words))
    words = np.array(sorted(counts), dtype=object)
    p = np.array([counts[w] for w in words], dtype=np.float64)
    return words, p / p.sum(), np.array([n for n in lengths if n > 0], dtype=np.int64)


def draw(rng: np.random.Generator, words: np.ndarray, p: np.ndarray, lengths: np.ndarray, n: int):
    """Yield ``n`` texts, drawn in blocks so that a million documents take seconds, not minutes."""
    block = 10_000
    for start in range(0, n, block):
        m = min(block, n - start)
        lens = rng.choice(lengths, size=m)
        flat = words[rng.choice(len(words), size=int(lens.sum()), p=p)]
        ends = np.cumsum(lens)
        for i in range(m):
            yield " ".join(flat[ends[i] - lens[i] : ends[i]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, required=True)
    ap.add_argument("--output", type=Path, required=True, help="JSONL file to write (topics go to OUTPUT.topics.tsv)")
    ap.add_argument("--topics", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", default="vaswani", choices=["vaswani"], help="real collection to imitate")
    args = ap.parse_args()

    from irkit.io.documents import iter_documents
    from irkit.io.topics import read_topics

    docs = [t for _, t in iter_documents(locate("vaswani/doc-text.trec"))]
    topics = list(read_topics(locate("vaswani/query-text.trec"))["query"])
    d_words, d_p, d_len = profile(docs)
    t_words, t_p, t_len = profile(topics)
    known = np.isin(t_words, d_words)
    t_words, t_p = t_words[known], t_p[known] / t_p[known].sum()

    rng = np.random.default_rng(args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(args.output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i, text in enumerate(draw(rng, d_words, d_p, d_len, args.docs)):
            fh.write(json.dumps({"id": f"S{i:08d}", "contents": text}) + "\n")
    os.replace(tmp, args.output)
    tsv = args.output.with_name(args.output.name + ".topics.tsv")
    with open(tsv, "w", encoding="utf-8") as fh:
        for i, text in enumerate(draw(rng, t_words, t_p, t_len, args.topics)):
            fh.write(f"Q{i:05d}\t{text}\n")
    print(f"wrote {args.docs:,} documents to {args.output} and {args.topics} topics to {tsv} (speed/memory only)")


if __name__ == "__main__":
    main()
