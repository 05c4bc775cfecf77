"""Step 8 of the learner (ours): re-estimating every layer's edges from the decoded layers, after the
layer-wise pass of Algorithm 1 (Arora, Bhaskara, Ge, Ma 2014, arXiv 1310.6343; the paper learns each layer
once, bottom-up, and relies on its d = n^gamma for the margins; section numbers of the paper could not be
checked, docs/arora.md "Sources").

The model (Section 2 of the paper as we know it) says each child is a threshold unit of its parents:
x_j = 1[sum_i W_ij h_i > 0] with W_ij in {-1, 0, +1}. With the hidden layer h decoded, the column W_:j is
the one that explains x_j best: the fewest samples with x_j != sgn(h W_:j). This module does coordinate
descent on that count, one child column at a time, from the graph the layer-wise pass found:

- **Single votes** (`vote_counts`, `single_votes`). For parent i and child j, let S_-ij = sum_{k != i}
  W_kj h_k be the field from j's other parents. In a sample where h_i = 1 the weight w = W_ij matters only
  when S_-ij is 0 or 1: at S_-ij = 0 the child is on iff w = +1, at S_-ij = 1 it is on iff w >= 0. So with
  c0on / c0off (c1on / c1off) the samples with h_i = 1, S_-ij = 0 (1) and x_j on / off, the mismatches are
  w = +1: c0off + c1off, w = 0: c0on + c1off, w = -1: c0on + c1on; the gain of +1 over 0 is c0on - c0off,
  of -1 over 0 is c1off - c1on. All four counts for all pairs are eight sparse products h^T M (M an
  indicator of the field's value, with or without x).
- **Joint votes** (`pair_votes`). Two edges of one child can mask each other: a missing positive parent a
  and a missing negative parent b that are siblings (on together often, through their common parent) make
  each single vote ambiguous (a's child is on only when b is off: about half the time). For every child with
  two or more ambiguous entries (a single vote with enough samples and an evidence fraction strictly between
  `ambiguous` and 1 - `ambiguous`), every pair of them is judged together: the 9 weight combinations counted
  directly on the samples where either parent is on, the combination with the fewest mismatches kept when it
  beats the current one by `min_gain`.
- **Negative edges need more.** A negative edge is seen only where its parent is on with another positive
  parent of the child (S_-ij = 1), about 4 rho^2 of the samples at the top of the main net (15 at 600,000
  samples), and a few decoding errors of the layer below (a child decoded off where it was on) look exactly
  like cancellations. So adding -1 needs at least `neg_min` such samples, the child off in at least
  `neg_fraction` of them, and, since every parent of the model has exactly d children (Section 2's d-regular
  graph; the learner knows d as in the paper), a parent over d children in all keeps its d best-supported
  ones, positive edges first (`cap_degree`), and a parent under d takes its best candidate negative child
  on weaker evidence (`complete_degree`).

`reestimate` alternates these votes with re-decoding (step 7's consistency search, warm-started from the
current decoding, so only samples whose reconstruction changed are searched) layer by layer from the bottom,
for a few rounds or until nothing changes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from deeplearn.arora.decoding import _entries, decode_consistent


@dataclass
class RefitOptions:
    """Knobs of step 8 (every default measured on the main net, docs/arora.md)."""

    rounds: int = 6  # re-vote / re-decode rounds (stops early when nothing changes)
    min_gain: int = 3  # a weight changes only when that removes at least this many mismatches
    neg_min: int = 5  # adding a negative edge: at least this many samples with S_-ij = 1 ...
    neg_fraction: float = 0.75  # ... and the child off in at least this fraction of them
    pos_fraction: float = 0.75  # adding a positive edge: the child on in >= this of the S_-ij = 0 samples
    ambiguous: float = 0.2  # a single vote with evidence fraction in (this, 1 - this) is judged in pairs
    pair_lead: int = 4  # the joint vote pairs each of a child's `pair_lead` best ambiguous parents ...
    max_pair_units: int = 16  # ... with each of its `max_pair_units` best (best single gain first)
    events: float = 50.0  # samples read per layer: enough for this many S_-ij = 1 events per negative edge
    complete_min: int = 2  # degree completion: the child off in at least this many more decisive samples than on
    regular: bool = True  # every parent has exactly d children (`regular`, `biregular` graphs): the degree
    # cap and completion; False for a graph whose out-degrees vary (`bernoulli`)


def field(h: sp.csr_matrix, pos: np.ndarray, neg: np.ndarray) -> sp.csr_matrix:
    """S = h W (N, n), W = pos - neg: the summed weight of every child's active parents (explicit zeros
    dropped)."""
    w = sp.csr_matrix(pos.astype(np.float32) - neg.astype(np.float32))
    s = sp.csr_matrix(h @ w)
    s.eliminate_zeros()
    return s


def vote_counts(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, neg: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every (parent i, child j): the samples with h_i = 1 split by the leave-i-out field S_-ij in {0, 1}
    and by x_j. Returns (c0on, c0all, c1on, c1all), each (m, n) float64 (`all` = on + off).

    In a sample with h_i = 1, S_-ij = S_j - W_ij, so for W_ij = 0 the S_-ij = 0 samples are those with S_j = 0,
    for W_ij = +1 those with S_j = 1 and for W_ij = -1 those with S_j = -1 (S_-ij = 1: one more). Eight sparse
    products T_v = h^T 1[S = v], X_v = h^T (1[S = v] x) for v = -1, 1, 2 and "S != 0" give every count."""
    h = sp.csr_matrix(h, dtype=np.float32)
    x = sp.csr_matrix(x, dtype=np.float32)
    ht = h.T.tocsr()
    s = field(h, pos, neg)
    on = np.asarray(h.sum(0)).ravel()[:, None]  # (m, 1)
    nz = s.copy()
    nz.data[:] = 1.0
    prod = lambda mat: np.asarray((ht @ mat).todense(), dtype=np.float64)  # noqa: E731
    T, X = {}, {}
    for v in (-1, 1, 2):
        ind = _entries(s, lambda d, c, v=v: d == v)
        T[v], X[v] = prod(ind), prod(ind.multiply(x))
    T[0] = on - prod(nz)
    X[0] = prod(x) - prod(nz.multiply(x))
    w = pos.astype(np.int8) - neg.astype(np.int8)
    c0on, c0all, c1on, c1all = (np.zeros(pos.shape) for _ in range(4))
    for val in (-1, 0, 1):
        sel = w == val
        c0on[sel], c0all[sel] = X[val][sel], T[val][sel]
        c1on[sel], c1all[sel] = X[val + 1][sel], T[val + 1][sel]
    return c0on, c0all, c1on, c1all


def single_votes(counts, pos: np.ndarray, neg: np.ndarray, opts: RefitOptions
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The coordinate step for every entry at once, each with the rest of its column fixed.

    Returns:
        (new_pos, new_neg, ambiguous (m, n) bool, neg_gain (m, n): c1off - c1on, the support of a -1)."""
    c0on, c0all, c1on, c1all = counts
    c0off, c1off = c0all - c0on, c1all - c1on
    gain_pos = c0on - c0off  # mismatches removed by +1 against 0
    gain_neg = c1off - c1on  # ... by -1 against 0
    cur = pos.astype(np.int8) - neg.astype(np.int8)
    f0 = np.where(c0all > 0, c0on / np.maximum(c0all, 1), 0.0)
    f1 = np.where(c1all > 0, c1off / np.maximum(c1all, 1), 0.0)
    ok_pos = (f0 >= opts.pos_fraction) & (c0on >= opts.min_gain)
    ok_neg = (f1 >= opts.neg_fraction) & (c1off >= opts.neg_min)
    # the best weight among those allowed (0 always is), mismatches relative to w = 0
    cost = np.stack([np.where(ok_neg | (cur == -1), -gain_neg, np.inf), np.zeros(pos.shape),
                     np.where(ok_pos | (cur == 1), -gain_pos, np.inf)])  # (3, m, n) for w = -1, 0, +1
    best = np.argmin(cost, 0).astype(np.int8) - 1
    cur_cost = np.take_along_axis(cost, (cur + 1)[None].astype(np.int64), 0)[0]
    better = cur_cost - cost.min(0) >= opts.min_gain  # change only for a clear gain
    new = np.where(better, best, cur)
    amb_f = lambda f, n: (n >= opts.min_gain) & (f > opts.ambiguous) & (f < 1 - opts.ambiguous)  # noqa: E731
    ambiguous = amb_f(f0, c0all) | amb_f(f1, c1all)
    return new == 1, new == -1, ambiguous, gain_neg


def pair_votes(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, neg: np.ndarray, ambiguous: np.ndarray,
               support: np.ndarray, opts: RefitOptions) -> tuple[np.ndarray, np.ndarray, int]:
    """The joint vote over pairs of ambiguous entries of one child (module docstring); a child's ambiguous
    parents enter it in the order of `support` (m, n), largest first. Returns the updated (pos, neg) and the
    number of children changed."""
    pos, neg = pos.copy(), neg.copy()
    kids = np.flatnonzero(ambiguous.sum(0) >= 2)
    if len(kids) == 0:
        return pos, neg, 0
    hc, hr, xc = sp.csc_matrix(h), sp.csr_matrix(h), sp.csc_matrix(x)
    combos = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], np.int8)  # (9, 2)
    changed = 0
    for j in kids:
        units = np.flatnonzero(ambiguous[:, j])
        units = units[np.argsort(-support[units, j], kind="stable")[:opts.max_pair_units]]
        best = _best_pair(hc, hr, xc, pos, neg, units, j, combos, opts)
        if best is None:
            continue
        for u, val in best:
            pos[u, j], neg[u, j] = val == 1, val == -1
        changed += 1
    return pos, neg, changed


def _best_pair(hc: sp.csc_matrix, hr: sp.csr_matrix, xc: sp.csc_matrix, pos: np.ndarray, neg: np.ndarray,
               units: np.ndarray, j: int, combos: np.ndarray, opts: RefitOptions):
    """The joint vote of child j over every pair of `units`: on the samples where any of them is on (the
    others do not change with the pair's weights), the mismatches of x_j against sgn(field) for each of the
    9 weight combinations of each pair, the rest of the column fixed. Returns ((a, wa), (b, wb)) for the
    pair and combination that removes the most mismatches (at least `min_gain`; a new -1 also needs the
    negative-edge evidence of `_neg_supported`), or None."""
    rows = np.unique(np.concatenate([_column_rows(hc, int(u)) for u in units]))
    if len(rows) == 0:
        return None
    col = pos[:, j].astype(np.int8) - neg[:, j].astype(np.int8)
    par = np.flatnonzero(col)
    sub = hr[rows]
    s = np.asarray(sub[:, par] @ col[par].astype(np.float32)).ravel() if len(par) else np.zeros(len(rows))
    hu = sub[:, units].toarray() > 0  # (r, k)
    xrows = _column_rows(xc, j)
    at = np.searchsorted(xrows, rows)
    xj = (at < len(xrows)) & (xrows[np.minimum(at, len(xrows) - 1)] == rows)
    best = None
    for p in range(min(len(units), opts.pair_lead)):
        for q in range(p + 1, len(units)):
            ha, hb = hu[:, p], hu[:, q]
            a, b = int(units[p]), int(units[q])
            rest = s - col[a] * ha - col[b] * hb  # the field without a and b
            pred = rest[None, :] + combos[:, :1] * ha[None, :] + combos[:, 1:] * hb[None, :] > 0  # (9, r)
            mism = (pred != xj[None, :]).sum(1)
            ci = int((col[a] + 1) * 3 + col[b] + 1)  # the current combination
            k = int(np.argmin(mism))
            gain = int(mism[ci] - mism[k])
            if gain < opts.min_gain or (best is not None and gain <= best[0]):
                continue
            wa, wb = int(combos[k, 0]), int(combos[k, 1])
            if (wa == -1 and not _neg_supported(rest, ha, hb, wb, xj, opts)) or \
               (wb == -1 and not _neg_supported(rest, hb, ha, wa, xj, opts)):
                continue
            best = (gain, ((a, wa), (b, wb)))
    return None if best is None else best[1]


def _column_rows(mat: sp.csc_matrix, j: int) -> np.ndarray:
    return mat.indices[mat.indptr[j]:mat.indptr[j + 1]]


def _neg_supported(rest: np.ndarray, ha: np.ndarray, hb: np.ndarray, wb: int, xj: np.ndarray,
                   opts: RefitOptions) -> bool:
    """A -1 for (a, j) chosen by the joint vote still needs the negative-edge evidence of a single vote: at
    least neg_min samples where h_a is on and the rest of the column (b at weight wb) gives field 1, with
    x_j off in at least neg_fraction of them."""
    sel = ha & (rest + wb * hb == 1)
    off = int((~xj[sel]).sum())
    return off >= opts.neg_min and off >= opts.neg_fraction * max(int(sel.sum()), 1)


def cap_degree(pos: np.ndarray, neg: np.ndarray, neg_score: np.ndarray, degree: int) -> np.ndarray:
    """Every parent of the model has d children (Section 2's d-regular graphs): a parent over d children in
    all keeps its positive edges and its best-supported negative ones (largest `neg_score`, the smoothed
    fraction of `neg_purity`) up to d. Returns the new neg."""
    neg = neg.copy()
    room = degree - pos.sum(1)
    for i in np.flatnonzero(neg.sum(1) > np.maximum(room, 0)):
        js = np.flatnonzero(neg[i])
        keep = js[np.argsort(-neg_score[i, js], kind="stable")[:max(int(room[i]), 0)]]
        neg[i] = False
        neg[i, keep] = True
    return neg


def complete_degree(pos: np.ndarray, neg: np.ndarray, counts, neg_score: np.ndarray, degree: int,
                    opts: RefitOptions) -> np.ndarray:
    """The other side of the degree cap: a parent with fewer than d children in all takes, for each missing
    one, its best candidate negative child (largest `neg_score`) whose single vote is for -1 (the child off
    in at least half of the decisive samples, at least `complete_min` more often off than on) but which had
    too few samples for the general rule (`neg_min`) or too low a fraction (`neg_fraction`). Measured on the
    main net (seed 0) after the other votes: at the top layer exactly 5 parents lacked a child, each had
    exactly one such candidate (3-4 decisive samples, the child off in all) and it was its true missing
    negative edge; the runner-up candidates had the child on in 8 of 10 to 28 of 30 decisive samples. On a
    second net (seed 1) one parent lacked a child whose edge had 2 decisive samples (both off; runner-up: off
    in 1 of 7), hence `complete_min` 2: a top-layer negative edge is decided in about 4 rho^2 N = 15 samples
    (Poisson: needing 3 would miss about 0.1 of the 3,000 edges per net, needing 2 about 0.015; the two nets
    had 5 edges with 3-4 and one with 2, a little more than that). Returns the new neg."""
    neg = neg.copy()
    room = degree - pos.sum(1) - neg.sum(1)
    _, _, c1on, c1all = counts
    c1off = c1all - c1on
    ok = (~pos) & (~neg) & (c1off - c1on >= opts.complete_min) & (c1off >= 0.5 * c1all)
    for i in np.flatnonzero((room > 0) & ok.any(1)):
        js = np.flatnonzero(ok[i])
        neg[i, js[np.argsort(-neg_score[i, js], kind="stable")[:int(room[i])]]] = True
    return neg


def neg_purity(counts) -> np.ndarray:
    """(c1off + 1) / (c1all + 2): how cleanly the child is off where the parent would cancel it, smoothed for
    small counts. A true negative edge is off there up to decoding errors (measured: 0.99-1.0 at 150-200
    samples); a sibling of the true negative parent, on with it through their common parent, inherits its
    cancellations with more samples (it is on with the child's positive parents more often) but less purely
    (0.83-0.86 on a d = 5 net, docs/arora.md), so the degree cap ranks by purity, not by the gain."""
    _, _, c1on, c1all = counts
    return (c1all - c1on + 1.0) / (c1all + 2.0)


def vote_samples(h: sp.csr_matrix, pos: np.ndarray, opts: RefitOptions, floor: int) -> int:
    """Samples read by a layer's vote: enough for `events` S_-ij = 1 events per negative edge (a parent on
    with one of the child's k positive parents: about rho^2 k of the samples), at least `floor`."""
    num = h.shape[0]
    rho = float(h.mean()) if h.shape[1] else 0.0
    if rho <= 0:
        return num
    k = max(pos.sum() / max(pos.shape[1], 1), 1.0)
    return min(num, max(int(math.ceil(opts.events / (rho * rho * k))), floor))


def revote_layer(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, neg: np.ndarray, degree: int,
                 opts: RefitOptions) -> tuple[np.ndarray, np.ndarray, dict]:
    """One round of step 8 on one layer: single votes, joint votes for the ambiguous pairs, the degree cap and
    completion (`opts.regular`)."""
    counts = vote_counts(x, h, pos, neg)
    new_pos, new_neg, ambiguous, _ = single_votes(counts, pos, neg, opts)
    purity = neg_purity(counts)
    # a child with two or more ambiguous entries has them judged jointly, not one by one
    amb = ambiguous & (ambiguous.sum(0) >= 2)[None, :]
    new_pos, new_neg = np.where(amb, pos, new_pos), np.where(amb, neg, new_neg)
    if opts.regular:
        new_neg = cap_degree(new_pos, new_neg, purity, degree)
    c0on, c0all, c1on, c1all = counts
    support = np.maximum(2 * c0on - c0all, c1all - 2 * c1on)  # the best single gain: masked edges rank first
    new_pos, new_neg, pairs = pair_votes(x, h, new_pos, new_neg, amb, support, opts)
    if opts.regular:
        new_neg = complete_degree(new_pos, new_neg, counts, purity, degree, opts)
        new_neg = cap_degree(new_pos, new_neg, purity, degree)
    info = {"pos_added": int((new_pos & ~pos).sum()), "pos_removed": int((pos & ~new_pos).sum()),
            "neg_added": int((new_neg & ~neg).sum()), "neg_removed": int((neg & ~new_neg).sum()),
            "ambiguous": int(ambiguous.sum()), "pair_children": int(pairs)}
    return new_pos, new_neg, info


def reestimate(hs: list[sp.csr_matrix], layers, degree: int, opts: RefitOptions, floor: int = 100_000,
               log=None) -> tuple[list[sp.csr_matrix], list[dict]]:
    """Step 8 on a learned net, in place: `hs` = [y, h(1), ..., h(L)] decoded by the layer-wise pass,
    `layers` the LearnedLayer list (bottom first; their pos / neg are replaced). Each round, bottom-up: layer
    k is re-voted from (h(k-1), h(k)), then h(k) is re-decoded from h(k-1) by the consistency search started
    at the current h(k) (also when only the layer below changed). An entry changed in one round is not
    changed again; a layer whose graph and both decoded layers are as at its last vote is not re-voted (the
    same vote). Returns the new hs and one info dict per (round, layer) voted."""
    hs = list(hs)
    history = []
    frozen = {k: np.zeros(layer.pos.shape, bool) for k, layer in enumerate(layers, start=1)}
    dirty = {k: True for k in frozen}
    for r in range(opts.rounds):
        below_changed = False
        for k, layer in enumerate(layers, start=1):
            if not (dirty[k] or below_changed):
                continue
            t0 = time.perf_counter()
            num = vote_samples(hs[k], layer.pos, opts, floor)
            pos, neg, info = revote_layer(hs[k - 1][:num], hs[k][:num], layer.pos, layer.neg, degree, opts)
            # an entry changes at most once over the rounds: no cycling between two near-equal columns
            pos = np.where(frozen[k], layer.pos, pos)
            neg = np.where(frozen[k], layer.neg, neg)
            info.update(pos_added=int((pos & ~layer.pos).sum()), pos_removed=int((layer.pos & ~pos).sum()),
                        neg_added=int((neg & ~layer.neg).sum()), neg_removed=int((layer.neg & ~neg).sum()))
            frozen[k] |= (pos != layer.pos) | (neg != layer.neg)
            changed = not (np.array_equal(pos, layer.pos) and np.array_equal(neg, layer.neg))
            layer.pos, layer.neg = pos, neg
            flips = 0
            if changed or below_changed:
                new_h = decode_consistent(hs[k - 1], pos, neg, hs[k])
                flips = int((new_h != hs[k]).nnz)
                hs[k] = new_h
            info.update(round=r + 1, layer=k, samples=int(num), flips=flips, seconds=time.perf_counter() - t0)
            history.append(info)
            if log:
                log(info)
            dirty[k] = changed or flips > 0
            below_changed = flips > 0
        if not any(dirty.values()):
            break
    return hs, history
