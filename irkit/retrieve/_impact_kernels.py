"""The compiled parts of :mod:`irkit.retrieve.impact` (numba, ``nogil``, cached on disk).

Imported lazily: importing this module imports numba. Every float operation is the one Lucene
does, in the same precision (see :mod:`irkit.retrieve.impact`); nothing here uses fastmath.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LOW32 = np.int64(0xFFFFFFFF)
WINDOW = 1 << 16  # documents per accumulator window: 512 KiB of float64, stays in L2


@njit(nogil=True, cache=True)
def fill_impacts(post_off, post_docs, post_freqs, norms, cache, idfs, out):
    """Every posting's score for a query term of boost 1: ``idf - idf / (1 + freq * cache[norm])``."""
    one = np.float32(1.0)
    for t in range(idfs.shape[0]):
        w = idfs[t]
        for p in range(post_off[t], post_off[t + 1]):
            out[p] = w - w / (one + np.float32(post_freqs[p]) * cache[norms[post_docs[p]]])


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
def _add_postings(acc, lo, s, e, post_docs, post_freqs, norms, cache, impacts, plain, w, touched, nt, listed):
    """Add postings [s, e) of one query term into ``acc`` (-1 = untouched); the new ``nt``.

    ``listed``: append each newly touched document to ``touched`` (branch-free)."""
    one = np.float32(1.0)
    if plain:  # boost 1: the precomputed impacts are the very same floats
        if listed:
            for p in range(s, e):
                a = post_docs[p] - lo
                v = acc[a]
                touched[nt] = a
                nt += np.int64(v < 0.0)
                acc[a] = max(v, 0.0) + impacts[p]  # Lucene sums clause scores in a double
        else:
            for p in range(s, e):
                a = post_docs[p] - lo
                acc[a] = max(acc[a], 0.0) + impacts[p]
    else:
        for p in range(s, e):
            d = post_docs[p]
            sc = w - w / (one + np.float32(post_freqs[p]) * cache[norms[d]])
            a = d - lo
            v = acc[a]
            if listed:
                touched[nt] = a
                nt += np.int64(v < 0.0)
            acc[a] = max(v, 0.0) + sc
    return nt


@njit(nogil=True, cache=True)
def score_block(
    q_ptr, q_terms, q_weights, q_plain, post_off, post_docs, post_freqs, norms, cache, impacts, rank, order,
    lo, hi, k, q0, q1, acc, touched, s32, keys, hist, starts, ends, window, out_keys, out_docs, out_scores,
    out_counts,
):  # fmt: skip
    """Top ``k`` of queries ``q0 <= q < q1`` over documents ``lo <= doc < hi``, written to ``out_*``.

    The order key of a hit is float32 bits (scores are >= 0, so bits order as floats) above the
    reversed docno rank: a larger key is a better hit, ties going to the smaller docno.
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
        work = 0
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
            work += e - s
        dense = work * 4 > hi - lo
        heap = dense or k <= 128  # else: a histogram of scores (below)
        skip_bits = np.int64(0)  # blocks whose largest bits are below are skipped (dense)
        nt = 0  # documents listed in touched / s32
        nc = 0  # keys in the heap
        thr = np.float32(-0.5)  # the heap's smallest score once full; an untouched document (-1) never enters
        if dense:
            # Many postings for the range: accumulate window by window (each window's slice of
            # acc stays in cache), then read the window's scores and reset it at once.
            for wlo in range(lo, hi, window):
                whi = min(wlo + window, hi)
                for j in range(nterms):
                    s = starts[j]
                    e = ends[j]
                    if whi < hi:
                        e = s + np.searchsorted(post_docs[s:e], whi)
                    _add_postings(acc, lo, s, e, post_docs, post_freqs, norms, cache, impacts,
                                  q_plain[j0 + j], q_weights[j0 + j], touched, 0, False)  # fmt: skip
                    starts[j] = e
                # The heap's threshold rises fast, so most blocks of 16 documents hold nothing
                # above it: an integer max over their bits (non-negative doubles order as their
                # bits; -1, untouched, has the sign bit) skips them without a branch per document.
                a = wlo - lo
                wend = whi - lo
                while a < wend:
                    b = min(a + 16, wend)
                    mb = bits[a]
                    for x in range(a + 1, b):
                        mb = max(mb, bits[x])
                    if mb >= skip_bits:
                        for x in range(a, b):
                            sc32 = np.float32(acc[x])
                            if sc32 < thr:
                                continue
                            f32[0] = sc32
                            nc = _offer(keys, nc, k, (np.int64(i32[0]) << 32) | (LOW32 - rank[x + lo]))
                            if nc == k:
                                kb = np.int32(keys[0] >> 32)
                                i32[0] = kb
                                thr = f32[0]
                                if kb > 0:  # every double below the float32 just under thr rounds below thr
                                    i32[0] = kb - 1
                                    f64[0] = np.float64(f32[0])
                                    skip_bits = i64[0]
                    a = b
                acc[wlo - lo : whi - lo] = -1.0
        else:
            # Few postings: list the touched documents as they come.
            for j in range(nterms):
                nt = _add_postings(acc, lo, starts[j], ends[j], post_docs, post_freqs, norms, cache, impacts,
                                   q_plain[j0 + j], q_weights[j0 + j], touched, nt, True)  # fmt: skip
            for i in range(nt):
                a = touched[i]
                sc32 = np.float32(acc[a])
                acc[a] = -1.0
                s32[i] = sc32
                if heap and sc32 >= thr:
                    f32[0] = sc32
                    nc = _offer(keys, nc, k, (np.int64(i32[0]) << 32) | (LOW32 - rank[a + lo]))
                    if nc == k:
                        i32[0] = np.int32(keys[0] >> 32)
                        thr = f32[0]
        if not heap:
            # The histogram of the scores' top 16 bits finds the bucket of the k-th best score;
            # only documents at or above it get a key, and only those are sorted.
            bmin = hist.shape[0]
            bmax = -1
            for i in range(nt):
                f32[0] = s32[i]
                bucket = i32[0] >> 16
                hist[bucket] += 1
                bmin = min(bmin, bucket)
                bmax = max(bmax, bucket)
            cut = bmin
            if nt > k:
                total = 0
                cut = bmax
                while cut > bmin:
                    total += hist[cut]
                    if total >= k:
                        break
                    cut -= 1
            for bucket in range(bmin, bmax + 1):
                hist[bucket] = 0
            i32[0] = np.int32(max(cut, 0) << 16)
            floor = f32[0]
            for i in range(nt):
                if s32[i] >= floor:
                    f32[0] = s32[i]
                    keys[nc] = (np.int64(i32[0]) << 32) | (LOW32 - rank[touched[i] + lo])
                    nc += 1
        m = min(k, nc)
        if nc > k:
            top = np.sort(np.partition(keys[:nc], nc - k)[nc - k :])
        else:
            top = np.sort(keys[:nc])
        for i in range(m):
            key = top[m - 1 - i]
            out_keys[q, i] = key
            out_docs[q, i] = order[LOW32 - (key & LOW32)]
            i32[0] = np.int32(key >> 32)
            out_scores[q, i] = f32[0]
        out_counts[q] = m
