/* The compiled part of irkit.retrieve.impact: BM25 and query-likelihood (Dirichlet) top-k over
 * an impact index with Lucene's exact float arithmetic.
 *
 * Plain C with no Python API: irkit.retrieve.kernel compiles it once with the system's C
 * compiler (cached on disk) and calls it through ctypes, which releases the GIL for the call, so
 * several Python threads search at once. It is built without -ffast-math and with
 * -ffp-contract=off: every float operation is the one Lucene does, in the same precision and
 * order (no fused multiply-add, no reassociation), so scores are Lucene's to the bit.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LOW32 ((int64_t)0xFFFFFFFF)
#define TAB_FREQS 4           /* a heavy term's scores for frequencies below this come from a table */
#define TAB (TAB_FREQS << 8)  /* ... indexed by a posting's code, freq << 8 | norm byte */

int64_t irkit_tab(void) { return TAB; }

enum { BM25 = 0, QL = 1 };

/* Everything one batch of queries shares (read-only but the outputs, which threads write in
 * disjoint rows). The layout is mirrored by irkit.retrieve.kernel.Batch. */
typedef struct {
    const int64_t *q_ptr;      /* CSR: query q's terms are q_terms[q_ptr[q] .. q_ptr[q + 1]) */
    const int64_t *q_terms;
    const float *q_weights;    /* BM25: (float) count * idf; QL: (float) count (the clause's boost) */
    const uint8_t *q_plain;    /* count == 1: a boost-1 term, whose per-posting impacts apply */
    const int64_t *post_off;
    const int32_t *post_docs;
    const void *post_freqs;    /* uint8, uint16 or int32: freq_bytes says which */
    int64_t freq_bytes;
    const uint8_t *norms;
    int64_t n_all;             /* documents in the index */
    const float *cache;        /* BM25Similarity's 256-entry cache */
    const float *impacts;      /* per posting, boost 1 (n_impacts == 0: not kept) */
    int64_t n_impacts;
    const uint16_t *codes;     /* per posting, min(freq, 255) << 8 | norm (n_codes == 0: not kept) */
    int64_t n_codes;
    const int32_t *rank;       /* a document's rank in docno order */
    const int32_t *order;      /* the document of a rank */
    const double *pow10;       /* 10.0 ** i, i < 64, as Python computes them */
    int64_t lo, hi, k, window, tab_min;
    int64_t *out_keys;         /* (queries, k), row-major */
    int32_t *out_docs;
    float *out_scores;
    double *out_dec;
    int64_t *out_counts;
    int64_t model;             /* BM25 or QL */
    double mu;                 /* QL: (double) of Lucene's float mu */
    const double *q_cp;        /* QL: per query term, (totalTermFreq + 1) / (sumTotalTermFreq + 1) */
    const double *lognorm;     /* QL: per norm byte, log(mu / (LENGTH_TABLE[norm] + mu)) */
    int64_t tie_adjust;        /* out_dec: 0, Java's Float.toString; 1, Anserini's ScoreTiesAdjusterReranker */
} batch_t;

/* One thread's working memory (irkit.retrieve.kernel.Scratch). */
typedef struct {
    double *acc;       /* one window, -1.0 = untouched */
    int32_t *touched;  /* window + 1 */
    int64_t *keys;     /* a heap of k, or a longer buffer (see push) */
    int64_t n_keys;
    int64_t *starts, *ends, *wends, *slots;  /* per query term */
    float *tabs;       /* (n_tabs, TAB) */
    int64_t n_tabs;
} scratch_t;

static inline int64_t freq_at(const void *freqs, int64_t fb, int64_t p) {
    return fb == 1 ? ((const uint8_t *)freqs)[p] : fb == 2 ? ((const uint16_t *)freqs)[p] : ((const int32_t *)freqs)[p];
}

static inline int32_t f32_bits(float x) { int32_t i; memcpy(&i, &x, 4); return i; }
static inline float bits_f32(int32_t i) { float x; memcpy(&x, &i, 4); return x; }
static inline int64_t f64_bits(double x) { int64_t i; memcpy(&i, &x, 8); return i; }

/* First index i in [0, n) with a[i] >= x (numpy's searchsorted, side left). */
static inline int64_t lower_bound(const int32_t *a, int64_t n, int64_t x) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (a[mid] < x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static inline void swap64(int64_t *a, int64_t *b) { int64_t t = *a; *a = *b; *b = t; }

/* Reorder a[0..n) so that a[m..n) holds its n - m largest keys (keys are distinct: a document
 * appears once per query). Quickselect with a median-of-three pivot; past a depth bound (an
 * unlucky input) a sort finishes it, so the cost stays O(n log n) at worst. */
static void select_top(int64_t *a, int64_t n, int64_t m) {
    int64_t lo = 0, hi = n - 1;
    int depth = 0;
    while (hi > lo) {
        if (++depth > 64) {
            qsort(a + lo, (size_t)(hi - lo + 1), sizeof(int64_t), cmp_i64);
            return;
        }
        int64_t mid = lo + ((hi - lo) >> 1);
        if (a[mid] < a[lo]) swap64(&a[mid], &a[lo]);
        if (a[hi] < a[lo]) swap64(&a[hi], &a[lo]);
        if (a[hi] < a[mid]) swap64(&a[hi], &a[mid]);
        int64_t pivot = a[mid], i = lo, j = hi;
        while (i <= j) {  /* Hoare partition: a[lo..j] <= pivot <= a[i..hi] */
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) { swap64(&a[i], &a[j]); i++; j--; }
        }
        if (m <= j) hi = j;
        else if (m >= i) lo = i;
        else return;
    }
}

/* Offer key to the min-heap keys[0..nc) of at most k keys; the new size. */
static inline int64_t offer(int64_t *keys, int64_t nc, int64_t k, int64_t key) {
    if (nc < k) {
        int64_t c = nc;  /* sift up */
        while (c > 0) {
            int64_t parent = (c - 1) >> 1;
            if (keys[parent] <= key) break;
            keys[c] = keys[parent];
            c = parent;
        }
        keys[c] = key;
        return nc + 1;
    }
    if (key > keys[0]) {
        int64_t c = 0;  /* sift down */
        for (;;) {
            int64_t child = 2 * c + 1;
            if (child >= nc) break;
            if (child + 1 < nc && keys[child + 1] < keys[child]) child++;
            if (keys[child] >= key) break;
            keys[c] = keys[child];
            c = child;
        }
        keys[c] = key;
    }
    return nc;
}

/* Add key to the top-k candidates keys[0..*nc); returns the k-th best key where it may have
 * risen, else -1. n_keys == k: a min-heap of the best k. Longer: a buffer, cut back to its best
 * k (a selection, linear) when full: for a large k the threshold then rises in steps, and a
 * candidate costs an append instead of a heap sift. */
static inline int64_t push(int64_t *keys, int64_t n_keys, int64_t *nc, int64_t k, int64_t key) {
    if (n_keys == k) {
        *nc = offer(keys, *nc, k, key);
        return *nc == k ? keys[0] : -1;
    }
    keys[(*nc)++] = key;
    if (*nc < n_keys) return -1;
    select_top(keys, *nc, *nc - k);
    memmove(keys, keys + (*nc - k), (size_t)k * sizeof(int64_t));
    *nc = k;
    int64_t best = keys[0];
    for (int64_t i = 1; i < k; i++) if (keys[i] < best) best = keys[i];
    return best;
}

/* Java's Float.toString of float32 v as a float64: the shortest decimal that reads back as v
 * (the nearest such). */
double irkit_shortest(float v, const double *pow10) {
    double x = (double)v;
    if (x == 0.0 || !isfinite(x)) return x;
    int e = (int)floor(log10(fabs(x)));
    /* If d significant digits read back as v, so do d + 1 (the nearest (d+1)-digit decimal is
     * nearer): binary search for the fewest. Not so at a power of two, whose rounding interval
     * is lopsided: there, try every d in turn. */
    int lo_d = 1, hi_d = 9, ex;
    double best = x;
    int linear = frexp(x, &ex) == 0.5;
    while (lo_d <= hi_d) {
        int d = linear ? lo_d : (lo_d + hi_d) / 2;
        int k = d - 1 - e;
        double r;
        if (k >= 0) r = nearbyint(x * pow10[k]) / pow10[k];  /* round half to even, as numpy's round */
        else r = nearbyint(x / pow10[-k]) * pow10[-k];
        if ((float)r == v) {
            best = r;
            if (linear) break;
            hi_d = d - 1;
        } else {
            lo_d = d + 1;
        }
    }
    return best;
}

void irkit_java_decimals(const float *x, int64_t n, const double *pow10, double *out) {
    for (int64_t i = 0; i < n; i++) out[i] = irkit_shortest(x[i], pow10);
}

/* A posting's score for a query term of weight w, Lucene's operations in Lucene's precision:
 * BM25Similarity, in float: w - w / (1 + freq * cache[norm]) (w = boost * idf);
 * LMDirichletSimilarity (through SimilarityBase), in double, cast to float:
 * boost * (log(1 + freq / (mu * cp)) + log(mu / (docLen + mu))), 0 where not positive
 * (w = boost; cp, the term's collection probability; log(mu / (docLen + mu)) from lognorm). */
static inline float posting_score(int model, float w, int64_t freq, int norm, const float *cache, double mu,
                                  double cp, const double *lognorm) {
    if (model == BM25) return w - w / (1.0f + (float)freq * cache[norm]);
    double s = (double)w * (log(1.0 + (double)(float)freq / (mu * cp)) + lognorm[norm]);
    return s > 0.0 ? (float)s : 0.0f;
}

/* Every posting's score for a query term of boost 1 (w: BM25, each term's idf; QL, 1). */
void irkit_fill_impacts(int64_t model, const int64_t *post_off, const int32_t *post_docs, const void *post_freqs,
                        int64_t fb, const uint8_t *norms, const float *cache, double mu, const double *lognorm,
                        const float *w, const double *cp, int64_t n_terms, float *out) {
    for (int64_t t = 0; t < n_terms; t++)
        for (int64_t p = post_off[t]; p < post_off[t + 1]; p++)
            out[p] = posting_score((int)model, w[t], freq_at(post_freqs, fb, p), norms[post_docs[p]], cache, mu,
                                   model == QL ? cp[t] : 0.0, lognorm);
}

/* Per posting, min(freq, 255) << 8 | the norm byte of its document. */
void irkit_make_codes(const int32_t *post_docs, const void *post_freqs, int64_t fb, const uint8_t *norms, int64_t n,
                      uint16_t *out) {
    for (int64_t p = 0; p < n; p++) {
        int64_t f = freq_at(post_freqs, fb, p);
        out[p] = (uint16_t)(((f < 255 ? f : 255) << 8) | norms[post_docs[p]]);
    }
}

/* Add postings [s, e) of one query term of weight w into acc[doc - base] (-1 = untouched); the
 * new nt. A posting's score is Lucene's float32 (posting_score): read from
 * impacts (the same floats, computed once per posting) for a boost-1 term when they are kept;
 * else, with codes, looked up in the term's table by the posting's code when the term has one,
 * or computed from the code's frequency and norm byte; else computed from freqs and norms.
 * listed: append each newly touched document to touched (branch-free). fb and model are
 * constants in each instance (see score_block), so neither is a branch per posting. */
static inline __attribute__((always_inline)) int64_t add_postings(
    const batch_t *b, double *acc, int64_t base, int64_t s, int64_t e, int plain, float w, double cp,
    int32_t *touched, int64_t nt, int listed, const float *tab, int64_t fb, int model) {
    const int32_t *docs = b->post_docs;
    const float *cache = b->cache;
    if (plain && b->n_impacts > 0) {
        const float *imp = b->impacts;
        if (listed) {
            for (int64_t p = s; p < e; p++) {
                int64_t a = docs[p] - base;
                double v = acc[a];
                touched[nt] = (int32_t)a;
                nt += v < 0.0;
                acc[a] = (v < 0.0 ? 0.0 : v) + (double)imp[p];  /* Lucene sums clause scores in a double */
            }
        } else {
            for (int64_t p = s; p < e; p++) {
                int64_t a = docs[p] - base;
                double v = acc[a];
                acc[a] = (v < 0.0 ? 0.0 : v) + (double)imp[p];
            }
        }
    } else if (b->n_codes > 0) {
        const uint16_t *codes = b->codes;
        for (int64_t p = s; p < e; p++) {
            int64_t c = codes[p];
            float sc;
            if (tab && c < TAB) {
                sc = tab[c];
            } else {  /* from the code's frequency and norm byte (a frequency of 255 or more: from post_freqs) */
                int64_t f = c < (255 << 8) ? c >> 8 : freq_at(b->post_freqs, fb, p);
                sc = posting_score(model, w, f, (int)(c & 255), cache, b->mu, cp, b->lognorm);
            }
            int64_t a = docs[p] - base;
            double v = acc[a];
            if (listed) {
                touched[nt] = (int32_t)a;
                nt += v < 0.0;
            }
            acc[a] = (v < 0.0 ? 0.0 : v) + (double)sc;
        }
    } else {
        const uint8_t *norms = b->norms;
        for (int64_t p = s; p < e; p++) {
            int32_t d = docs[p];
            float sc = posting_score(model, w, freq_at(b->post_freqs, fb, p), norms[d], cache, b->mu, cp, b->lognorm);
            int64_t a = d - base;
            double v = acc[a];
            if (listed) {
                touched[nt] = (int32_t)a;
                nt += v < 0.0;
            }
            acc[a] = (v < 0.0 ? 0.0 : v) + (double)sc;
        }
    }
    return nt;
}

/* A candidate's order key: float32 bits (scores are >= 0, so bits order as floats) above the
 * reversed docno rank: a larger key is a better hit, ties going to the smaller docno. Offered
 * to the top k; where the k-th best rose, the threshold and the skip bound follow it. */
static inline void consider(const batch_t *b, scratch_t *w, float sc32, int64_t doc, int64_t *nc, float *thr,
                            int64_t *skip_bits) {
    int64_t key = ((int64_t)f32_bits(sc32) << 32) | (LOW32 - b->rank[doc]);
    int64_t kth = push(w->keys, w->n_keys, nc, b->k, key);
    if (kth >= 0) {
        int32_t kb = (int32_t)(kth >> 32);
        *thr = bits_f32(kb);
        if (kb > 0) *skip_bits = f64_bits((double)bits_f32(kb - 1));  /* every double below the float32 just under thr rounds below thr */
    }
}

/* Top k of queries q0 <= q < q1 over documents lo <= doc < hi, written to the out arrays.
 * Documents are scored window by window (window documents: acc and touched are one window
 * long, so a thread's memory does not grow with the collection and the accumulator stays in
 * cache). Candidates go through the top k, whose smallest score is the threshold below which a
 * document is not even keyed. */
static inline __attribute__((always_inline)) void score_block(const batch_t *b, scratch_t *w, int64_t q0, int64_t q1,
                                                               int64_t fb, int model) {
    const int32_t *docs = b->post_docs;
    const int64_t lo = b->lo, hi = b->hi, k = b->k, window = b->window;
    double *acc = w->acc;
    for (int64_t q = q0; q < q1; q++) {
        int64_t j0 = b->q_ptr[q], nterms = b->q_ptr[q + 1] - j0;
        for (int64_t j = 0; j < nterms; j++) {
            int64_t t = b->q_terms[j0 + j];
            int64_t s = b->post_off[t], e = b->post_off[t + 1];
            if (lo > 0) s += lower_bound(docs + s, e - s, lo);
            if (hi < b->n_all) e = s + lower_bound(docs + s, e - s, hi);
            w->starts[j] = s;
            w->ends[j] = e;
        }
        /* Heavy terms (when codes are given and not impacts) get a table of their scores by
         * code: TAB divisions once instead of one per posting. */
        int64_t ns = 0;
        for (int64_t j = 0; j < nterms; j++) {
            w->slots[j] = -1;
            if (b->n_codes > 0 && w->ends[j] - w->starts[j] >= b->tab_min && ns < w->n_tabs) {
                if (b->q_plain[j0 + j] && b->n_impacts > 0) continue;
                float wt = b->q_weights[j0 + j];
                double cp = model == QL ? b->q_cp[j0 + j] : 0.0;
                float *tab = w->tabs + ns * TAB;
                for (int64_t c = 0; c < TAB; c++)
                    tab[c] = posting_score(model, wt, c >> 8, (int)(c & 255), b->cache, b->mu, cp, b->lognorm);
                w->slots[j] = ns++;
            }
        }
        int64_t nc = 0;             /* keys in the top k */
        float thr = -0.5f;          /* the k-th best score once there are k; an untouched document (-1) never enters */
        int64_t skip_bits = 0;      /* (dense windows) blocks whose largest bits are below cannot enter */
        for (int64_t wlo = lo; wlo < hi; wlo += window) {
            int64_t whi = wlo + window < hi ? wlo + window : hi, wn = whi - wlo, work = 0;
            for (int64_t j = 0; j < nterms; j++) {
                int64_t s = w->starts[j], e = w->ends[j];
                if (whi < hi) e = s + lower_bound(docs + s, e - s, whi);
                w->wends[j] = e;
                work += e - s;
            }
            if (work == 0) continue;
            /* A window with many postings is read whole afterwards; a sparse one lists the
             * documents it touches as they come. For a short top k (a heap) reading whole pays
             * sooner, since its threshold, high, skips most blocks (measured: 4x vs 1x postings). */
            int dense = work * (w->n_keys == k ? 4 : 1) > wn;
            int64_t nt = 0;
            for (int64_t j = 0; j < nterms; j++) {
                const float *tab = w->slots[j] >= 0 ? w->tabs + w->slots[j] * TAB : NULL;
                nt = add_postings(b, acc, wlo, w->starts[j], w->wends[j], b->q_plain[j0 + j], b->q_weights[j0 + j],
                                  model == QL ? b->q_cp[j0 + j] : 0.0, w->touched, nt, !dense, tab, fb, model);
                w->starts[j] = w->wends[j];
            }
            if (dense) {
                /* The threshold rises fast, so most blocks of 16 documents hold nothing above it:
                 * an integer max over their bits (non-negative doubles order as their bits; -1,
                 * untouched, has the sign bit) skips them without a branch per document. */
                for (int64_t a = 0; a < wn; a += 16) {
                    int64_t end = a + 16 < wn ? a + 16 : wn, mb = f64_bits(acc[a]);
                    for (int64_t x = a + 1; x < end; x++) {
                        int64_t bx = f64_bits(acc[x]);
                        mb = bx > mb ? bx : mb;
                    }
                    if (mb < skip_bits) continue;
                    for (int64_t x = a; x < end; x++) {
                        float sc32 = (float)acc[x];
                        if (sc32 >= thr) consider(b, w, sc32, x + wlo, &nc, &thr, &skip_bits);
                    }
                }
                for (int64_t x = 0; x < wn; x++) acc[x] = -1.0;
            } else {
                for (int64_t i = 0; i < nt; i++) {
                    int64_t a = w->touched[i];
                    float sc32 = (float)acc[a];
                    acc[a] = -1.0;
                    if (sc32 >= thr) consider(b, w, sc32, a + wlo, &nc, &thr, &skip_bits);
                }
            }
        }
        int64_t *top = w->keys;
        if (nc > k) {
            select_top(top, nc, nc - k);
            top += nc - k;
            nc = k;
        }
        qsort(top, (size_t)nc, sizeof(int64_t), cmp_i64);
        float prev = 0.0f;
        int64_t dup = 0;
        for (int64_t i = 0; i < nc; i++) {
            int64_t key = top[nc - 1 - i], o = q * k + i;
            float sc = bits_f32((int32_t)(key >> 32));
            b->out_keys[o] = key;
            b->out_docs[o] = b->order[LOW32 - (key & LOW32)];
            b->out_scores[o] = sc;
            if (!b->tie_adjust) {
                b->out_dec[o] = irkit_shortest(sc, b->pow10);
                continue;
            }
            /* Anserini's ScoreTiesAdjusterReranker, in its operations (read off its bytecode in
             * Anserini 1.7.1): (float) (Math.round((double) s * 10000.0) / 10000.0), Math.round
             * being floor(x + 0.5), exact here (s * 10000.0 needs 38 bits); then 1e-6f less per
             * tie with the score before (as adjusted), in float, so that any tool's order is the
             * ranking's. */
            float v = (float)(floor((double)sc * 10000.0 + 0.5) / 10000.0);
            if (i == 0 || prev - v > 1e-4f) {
                dup = 0;
            } else {
                dup++;
                v -= 1e-6f * (float)dup;
            }
            prev = v;
            b->out_dec[o] = (double)v;
        }
        b->out_counts[q] = nc;
    }
}

/* On x86-64 the search is compiled twice, for the baseline and for AVX2 (the block maximum and
 * the window reset take 4 doubles an instruction), and the loader picks the one the CPU runs:
 * one library serves any x86-64 machine. AVX2 adds no fused multiply-add, so the floats stay Lucene's. */
#if defined(__x86_64__) && defined(__GNUC__)
#define CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CPU_CLONES
#endif

/* One instance per model and frequency width: both are constants inside each. */
CPU_CLONES void irkit_score_block(const batch_t *b, scratch_t *w, int64_t q0, int64_t q1) {
    int64_t fb = b->freq_bytes;
    if (b->model == QL) {
        if (fb == 1) score_block(b, w, q0, q1, 1, QL);
        else if (fb == 2) score_block(b, w, q0, q1, 2, QL);
        else score_block(b, w, q0, q1, 4, QL);
    } else {
        if (fb == 1) score_block(b, w, q0, q1, 1, BM25);
        else if (fb == 2) score_block(b, w, q0, q1, 2, BM25);
        else score_block(b, w, q0, q1, 4, BM25);
    }
}
