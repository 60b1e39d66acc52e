"""The compiled parts of :mod:`irkit.retrieve.impact` (numba, ``nogil``, cached on disk).

Imported lazily: importing this module imports numba. Every float operation is the one Lucene
does, in the same precision (see :mod:`irkit.retrieve.impact`); nothing here uses fastmath.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.core import event

LOW32 = np.int64(0xFFFFFFFF)
WINDOW = 1 << 16  # documents per accumulator window: 512 KiB of float64, stays in L2
TAB_FREQS = 4  # a heavy term's scores for frequencies below this are read from a table
TAB = TAB_FREQS << 8  # ... indexed by a posting's code, freq << 8 | norm byte (make_codes)


@njit(nogil=True, cache=True)
def fill_impacts(post_off, post_docs, post_freqs, norms, cache, idfs, out):
    """Every posting's score for a query term of boost 1: ``idf - idf / (1 + freq * cache[norm])``."""
    one = np.float32(1.0)
    for t in range(idfs.shape[0]):
        w = idfs[t]
        for p in range(post_off[t], post_off[t + 1]):
            out[p] = w - w / (one + np.float32(post_freqs[p]) * cache[norms[post_docs[p]]])


@njit(nogil=True, cache=True)
def make_codes(post_docs, post_freqs, norms, out):
    """Per posting, ``min(freq, 255) << 8 | norm byte of its document`` (uint16): with a term's
    table of scores by code, a posting's score is one lookup (see score_block)."""
    for p in range(post_docs.shape[0]):
        out[p] = (min(np.int64(post_freqs[p]), 255) << 8) | np.int64(norms[post_docs[p]])


@njit(nogil=True, cache=True, inline="always")
def _offer(keys, nc, k, key):
    """Offer ``key`` to the min-heap ``keys[:nc]`` of at most ``k`` keys; the new size."""
    if nc < k:
        c = nc  # sift up
        while c > 0:
            parent = (c - 1) >> 1
            if keys[parent] <= key:
                break
            keys[c] = keys[parent]
            c = parent
        keys[c] = key
        return nc + 1
    if key > keys[0]:
        c = 0  # sift down
        while True:
            child = 2 * c + 1
            if child >= nc:
                break
            if child + 1 < nc and keys[child + 1] < keys[child]:
                child += 1
            if keys[child] >= key:
                break
            keys[c] = keys[child]
            c = child
        keys[c] = key
    return nc


@njit(nogil=True, cache=True, inline="always")
def _push(keys, nc, k, key):
    """Add ``key`` to the top-k candidates ``keys[:nc]``; (the new ``nc``, the k-th best key where
    it may have risen, else -1). ``keys`` of length ``k``: a min-heap of the best ``k``. Longer: a
    buffer, cut back to its best ``k`` (a partition, linear) when full: for a large ``k`` the
    threshold then rises in steps, and a candidate costs an append instead of a heap sift."""
    if keys.shape[0] == k:
        nc = _offer(keys, nc, k, key)
        return nc, keys[0] if nc == k else np.int64(-1)
    keys[nc] = key
    nc += 1
    if nc < keys.shape[0]:
        return nc, np.int64(-1)
    best = np.partition(keys[:nc], nc - k)[nc - k :]
    keys[:k] = best
    return k, best.min()


@njit(nogil=True, cache=True, inline="always")
def _add_postings(
    acc, base, s, e, post_docs, post_freqs, norms, cache, impacts, plain, w, touched, nt, listed, codes, tab
):  # fmt: skip
    """Add postings [s, e) of one query term of weight ``w`` into ``acc[doc - base]`` (-1 =
    untouched); the new ``nt``. A posting's score is Lucene's float32 ``w - w / (1 + freq *
    cache[norm])``: read from ``impacts`` (the same floats, computed once per posting) for a term
    of boost 1 (``plain``) when they are kept; else, with ``codes``, looked up in the term's
    ``tab`` by the posting's code (the same floats, computed once per query term and code) when
    the term has one, or computed from the code's frequency and norm byte; else computed from
    ``post_freqs`` and ``norms``. ``listed``: append each newly
    touched document to ``touched`` (branch-free)."""
    one = np.float32(1.0)
    if plain and impacts.shape[0] > 0:
        if listed:
            for p in range(s, e):
                a = post_docs[p] - base
                v = acc[a]
                touched[nt] = a
                nt += np.int64(v < 0.0)
                acc[a] = max(v, 0.0) + impacts[p]  # Lucene sums clause scores in a double
        else:
            for p in range(s, e):
                a = post_docs[p] - base
                acc[a] = max(acc[a], 0.0) + impacts[p]
    elif codes.shape[0] > 0:
        has_tab = tab.shape[0] > 0
        for p in range(s, e):
            d = post_docs[p]
            c = np.int64(codes[p])
            if has_tab and c < TAB:
                sc = tab[c]
            else:  # from the code's frequency and norm byte (a frequency of 255 or more: from post_freqs)
                f = np.float32(c >> 8) if c < (255 << 8) else np.float32(post_freqs[p])
                sc = w - w / (one + f * cache[c & 255])
            a = d - base
            v = acc[a]
            if listed:
                touched[nt] = a
                nt += np.int64(v < 0.0)
            acc[a] = max(v, 0.0) + sc
    elif listed:
        for p in range(s, e):
            d = post_docs[p]
            sc = w - w / (one + np.float32(post_freqs[p]) * cache[norms[d]])
            a = d - base
            v = acc[a]
            touched[nt] = a
            nt += np.int64(v < 0.0)
            acc[a] = max(v, 0.0) + sc
    else:
        for p in range(s, e):
            d = post_docs[p]
            sc = w - w / (one + np.float32(post_freqs[p]) * cache[norms[d]])
            a = d - base
            acc[a] = max(acc[a], 0.0) + sc
    return nt


# 10.0**k looked up (float32 needs |k| < 64): a third faster than numba's pow, and the same results for
# every float32 between 1e-12 and 1e12 (5M sampled; outside, within the last bit of the float64)
_POW10 = np.array([10.0**i for i in range(64)])


@njit(nogil=True, cache=True)
def _shortest(v):
    """Java's ``Float.toString`` of float32 ``v`` as a float64: the shortest decimal that reads back
    as ``v`` (the nearest such)."""
    x = np.float64(v)
    if x == 0.0 or not np.isfinite(x):
        return x
    e = int(np.floor(np.log10(abs(x))))
    # If d significant digits read back as v, so do d + 1 (the nearest (d+1)-digit decimal is
    # nearer): binary search for the fewest. Not so at a power of two, whose rounding interval is
    # lopsided: there, try every d in turn.
    lo_d, hi_d, best = 1, 9, x
    linear = math.frexp(x)[0] == 0.5
    while lo_d <= hi_d:
        d = lo_d if linear else (lo_d + hi_d) // 2
        k = d - 1 - e
        if k >= 0:
            p = _POW10[k]
            r = np.round(x * p) / p
        else:
            p = _POW10[-k]
            r = np.round(x / p) * p
        if np.float32(r) == v:
            best = r
            if linear:
                break
            hi_d = d - 1
        else:
            lo_d = d + 1
    return best


@njit(nogil=True, cache=True)
def java_decimals(x32, out):
    for i in range(x32.shape[0]):
        out[i] = _shortest(x32[i])


@njit(nogil=True, cache=True)
def score_block(
    q_ptr, q_terms, q_weights, q_plain, post_off, post_docs, post_freqs, norms, cache, impacts, rank, order,
    lo, hi, k, q0, q1, acc, touched, keys, starts, ends, wends, window, out_keys, out_docs, out_scores,
    out_dec, out_counts, codes, tabs, slots, tab_min,
):  # fmt: skip
    """Top ``k`` of queries ``q0 <= q < q1`` over documents ``lo <= doc < hi``, written to ``out_*``
    (``out_dec``: each score as Java prints it, :func:`_shortest`).

    Documents are scored window by window (``window`` documents: ``acc`` and ``touched`` are one
    window long, so a thread's memory does not grow with the collection and the accumulator stays
    in cache). The order key of a hit is float32 bits (scores are >= 0, so bits order as floats)
    above the reversed docno rank: a larger key is a better hit, ties going to the smaller docno.
    Candidates go through a min-heap of ``k`` keys whose smallest score is the threshold below
    which a document is not even keyed.
    """
    f32 = np.empty(1, np.float32)  # float32 <-> int32 bits through one shared word
    i32 = f32.view(np.int32)
    f64 = np.empty(1, np.float64)
    i64 = f64.view(np.int64)
    bits = acc.view(np.int64)
    n_all = norms.shape[0]
    for q in range(q0, q1):
        j0 = q_ptr[q]
        nterms = q_ptr[q + 1] - j0
        for j in range(nterms):
            t = q_terms[j0 + j]
            s = post_off[t]
            e = post_off[t + 1]
            if lo > 0:
                s += np.searchsorted(post_docs[s:e], lo)
            if hi < n_all:
                e = s + np.searchsorted(post_docs[s:e], hi)
            starts[j] = s
            ends[j] = e
        # Heavy terms (when ``codes`` are given and not impacts) get a table of their scores by
        # code: TAB divisions once instead of one per posting.
        ns = 0
        one = np.float32(1.0)
        for j in range(nterms):
            slots[j] = -1
            if codes.shape[0] > 0 and ends[j] - starts[j] >= tab_min and ns < tabs.shape[0]:
                if q_plain[j0 + j] and impacts.shape[0] > 0:
                    continue
                w = q_weights[j0 + j]
                for c in range(TAB):
                    tabs[ns, c] = w - w / (one + np.float32(c >> 8) * cache[c & 255])
                slots[j] = ns
                ns += 1
        nc = 0  # keys in the heap
        thr = np.float32(-0.5)  # the heap's smallest score once full; an untouched document (-1) never enters
        skip_bits = np.int64(0)  # (dense windows) blocks whose largest bits are below cannot enter
        for wlo in range(lo, hi, window):
            whi = min(wlo + window, hi)
            wn = whi - wlo
            work = 0
            for j in range(nterms):
                s = starts[j]
                e = ends[j]
                if whi < hi:
                    e = s + np.searchsorted(post_docs[s:e], whi)
                wends[j] = e
                work += e - s
            if work == 0:
                continue
            # A window with many postings is read whole afterwards; a sparse one lists the
            # documents it touches as they come. For a short top k (a heap) reading whole pays
            # sooner, since its threshold, high, skips most blocks (measured: 4x vs 1x postings).
            dense = work * (4 if keys.shape[0] == k else 1) > wn
            nt = 0
            for j in range(nterms):
                tab = tabs[slots[j]] if slots[j] >= 0 else tabs[0, :0]
                nt = _add_postings(acc, wlo, starts[j], wends[j], post_docs, post_freqs, norms, cache, impacts,
                                   q_plain[j0 + j], q_weights[j0 + j], touched, nt, not dense, codes, tab)  # fmt: skip
                starts[j] = wends[j]
            if dense:
                # The heap's threshold rises fast, so most blocks of 16 documents hold nothing
                # above it: an integer max over their bits (non-negative doubles order as their
                # bits; -1, untouched, has the sign bit) skips them without a branch per document.
                a = 0
                while a < wn:
                    b = min(a + 16, wn)
                    mb = bits[a]
                    for x in range(a + 1, b):
                        mb = max(mb, bits[x])
                    if mb >= skip_bits:
                        for x in range(a, b):
                            sc32 = np.float32(acc[x])
                            if sc32 < thr:
                                continue
                            f32[0] = sc32
                            nc, kth = _push(keys, nc, k, (np.int64(i32[0]) << 32) | (LOW32 - rank[x + wlo]))
                            if kth >= 0:
                                kb = np.int32(kth >> 32)
                                i32[0] = kb
                                thr = f32[0]
                                if kb > 0:  # every double below the float32 just under thr rounds below thr
                                    i32[0] = kb - 1
                                    f64[0] = np.float64(f32[0])
                                    skip_bits = i64[0]
                    a = b
                acc[:wn] = -1.0
            else:
                # (The offer below repeats the dense loop's: as an inlined helper returning
                # (nc, thr, skip_bits) it ran 35% slower at 1,000 hits, measured.)
                for i in range(nt):
                    a = touched[i]
                    sc32 = np.float32(acc[a])
                    acc[a] = -1.0
                    if sc32 >= thr:
                        f32[0] = sc32
                        nc, kth = _push(keys, nc, k, (np.int64(i32[0]) << 32) | (LOW32 - rank[a + wlo]))
                        if kth >= 0:
                            kb = np.int32(kth >> 32)
                            i32[0] = kb
                            thr = f32[0]
                            if kb > 0:
                                i32[0] = kb - 1
                                f64[0] = np.float64(f32[0])
                                skip_bits = i64[0]
        if nc > k:
            top = np.sort(np.partition(keys[:nc], nc - k)[nc - k :])
            nc = k
        else:
            top = np.sort(keys[:nc])
        for i in range(nc):
            key = top[nc - 1 - i]
            out_keys[q, i] = key
            out_docs[q, i] = order[LOW32 - (key & LOW32)]
            i32[0] = np.int32(key >> 32)
            out_scores[q, i] = f32[0]
            out_dec[q, i] = _shortest(f32[0])
        out_counts[q] = nc


# ------------------------------------------------------------------------------ the on-disk cache


class _CompileNotice(event.Listener):
    """Says (once a process) that a kernel is being compiled: numba does it silently, for ~20 s."""

    said = False

    def on_start(self, ev: event.Event) -> None:
        fn = getattr(ev.data.get("dispatcher"), "py_func", None)
        if not self.said and getattr(fn, "__module__", None) == __name__:
            self.said = True
            from irkit.progress import log

            log("compiling the BM25 search kernels (numba; once: they are cached on disk)")

    def on_end(self, ev: event.Event) -> None:
        pass


event.register("numba:compile", _CompileNotice())
