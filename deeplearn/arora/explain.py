"""Step 4 of the learner, the refinement with explaining away (ours; docs/arora.md), vectorized.

`explain_away_rates` and `explained_fraction` compute the same numbers as the plain per-pair loops kept in
`deeplearn.arora.reference` (tested: identical outputs), with the loop over (child, rival) pairs replaced by
small matrix products per unit and the sample gathers read from one dense 0/1 copy of the samples.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DENSE_LIMIT = 200_000_000  # entries of a dense uint8 copy of the samples (200 MB) before falling back to CSR


def dense01(x: sp.csr_matrix) -> np.ndarray | sp.csr_matrix:
    """A dense uint8 copy of the 0/1 samples for fast row/column gathers where it fits, else CSR."""
    return x.toarray().astype(np.uint8) if x.shape[0] * x.shape[1] <= DENSE_LIMIT else x.tocsr()


def _gather(xd, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """x[rows][:, cols] as a dense float32 array, from dense01's output."""
    if isinstance(xd, np.ndarray):
        return xd[np.ix_(rows, cols)].astype(np.float32)
    return xd[rows][:, cols].toarray().astype(np.float32)


def rate_setup(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, fraction: float, candidate: float):
    """What both forms of explain_away_rates start from: the pairs tested (m, n), zeroed stay / total
    counts, the two "i is on" thresholds per unit (all children, all but j) and the (N, m) CSC counts of each
    unit's children that are on."""
    m, n = pos.shape
    on = np.maximum(np.asarray(h.sum(0)).ravel(), 1.0)
    tested = (np.asarray((h.T @ x).todense()) >= candidate * on[:, None]) | pos  # (m, n)
    size = pos.sum(1)
    need_all = np.maximum(1, np.ceil(fraction * size - 1e-9)).astype(np.int64)
    need_loo = np.maximum(1, np.ceil(fraction * (size - 1) - 1e-9)).astype(np.int64)
    cnt = (x @ sp.csr_matrix(pos.T.astype(np.float32))).tocsc()  # (N, m) children of each unit that are on
    return tested, np.zeros((m, n), np.int64), np.zeros((m, n), np.int64), need_all, need_loo, cnt


def unit_rows(cnt: sp.csc_matrix, tested: np.ndarray, i: int, need: int):
    """Unit i's samples with at least `need` of its children on, those counts, and its tested children."""
    a, b = cnt.indptr[i], cnt.indptr[i + 1]
    sel = cnt.data[a:b] >= need
    return cnt.indices[a:b][sel], cnt.data[a:b][sel], np.flatnonzero(tested[i])


def shared_children(pos: np.ndarray) -> np.ndarray:
    """(m, m) int32: the number of children each pair of units shares."""
    return pos.astype(np.int32) @ pos.T.astype(np.int32)


def explain_away_rates(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, fraction: float = 0.75,
                       candidate: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The statistic of `refine_explained`: for each pair (i, j) tested, the number of samples where i is on
    and j's other explanations are ruled out (`total`) and how many of them have x_j on (`stay`).

    "i is on": at least `fraction` of i's children other than j are on (leaving j out keeps the test from
    being circular). "Ruled out": for every other unit u whose child set holds j (a claimant of j), or that
    holds enough of i's other children to fake i's evidence by itself (a rival), none of u's private children
    (those not in i's set, and not j) is on. The pairs tested are the current edges and those with
    P(x_j | h_i) >= `candidate`.

    Per unit i, with pc (r, o) the number of private children of each other unit q that are on in each of
    i's samples: q rules j out unless pc > [x_j on and j is q's private child]. So the test is three products
    of the indicators pc > 0 and pc > 1 with the (o, |js|) masks of which q matter for which j.

    Args:
        x: (N, n) 0/1 samples of the layer below; h: (N, m) the current decoding; pos: (m, n) bool.

    Returns:
        (tested (m, n) bool, stay (m, n) int, total (m, n) int).
    """
    m, n = pos.shape
    tested, stay, total, need_all, need_loo, cnt = rate_setup(x, h, pos, fraction, candidate)
    common = shared_children(pos)
    xd = dense01(x)
    for i in range(m):
        rows, mine, js = unit_rows(cnt, tested, i, min(need_loo[i], need_all[i]))
        if len(rows) == 0 or len(js) == 0:
            continue
        is_rival_unit = common[i] >= need_loo[i]
        other = pos[:, js].any(1) | is_rival_unit  # claimants of some tested j, and rivals
        other[i] = False
        others = np.flatnonzero(other)
        priv = pos[others] & ~pos[i]  # (o, n) the others' private children
        cols = np.union1d(js, np.flatnonzero(priv.any(0)))
        xs = _gather(xd, rows, cols)  # (r, c) only the columns the tests read
        pc = xs @ priv[:, cols].T.astype(np.float32)  # (r, o) private children on
        xj = xs[:, np.searchsorted(cols, js)] > 0  # (r, |js|)
        pj = priv[:, js]  # (o, |js|) j is q's private child
        matters = ((is_rival_unit[others][:, None] | pos[others][:, js])
                   & (priv.sum(1)[:, None] - pj > 0))  # (o, |js|): a unit with no private child but j is no rival
        g0, g1 = (pc > 0).astype(np.float32), (pc > 1).astype(np.float32)
        m1 = (matters & pj).astype(np.float32)
        ruled_in = ((g0 @ (matters & ~pj).astype(np.float32) > 0) | ((g0 @ m1 > 0) & ~xj)
                    | ((g1 @ m1 > 0) & xj))  # (r, |js|): some unit that matters has another private child on
        own = pos[i, js]
        need = np.where(own, need_loo[i], need_all[i])
        alive = (mine[:, None] - (xj & own[None, :]) >= need[None, :]) & ~ruled_in
        total[i, js] = alive.sum(0)
        stay[i, js] = (alive & xj).sum(0)
    return tested, stay, total


def refine_explained(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, min_count: int,
                     plain: float = 0.5, keep: float = 0.2, max_children: int | None = None) -> np.ndarray:
    """LearnGraph with explaining away (ours): j is a positive child of i when x_j is on in at least `plain` of
    the samples where h_i is on (the test of `refine_positive`) and in at least `keep` of the samples where i
    is on and every other explanation of j is ruled out (`explain_away_rates`).

    With +-1 weights and threshold 0 a unit is on only if a positive parent is, so a non-child of i whose
    other parents are ruled out is (almost) never on, while a true child is on unless one of its negative
    parents is. The plain rate is about 0.9 for a child against up to 0.6 for a child of two of i's siblings
    (units that share a parent with i are on together with it); the explaining-away rate on the true graph
    of a depth-3 net (n = 1000, d = 5, rho = 0.005, 100,000 samples, layer 1) is 0.30-0.91 for the 3,000 true
    edges against at most 0.24 for the 17,831 other pairs tested (99% below 0.03), and with the plain rate
    >= 0.5 no other pair passes (docs/arora.md). It also dissolves spurious units (one child of each of
    several siblings under one grandparent): each child is explained by its true parent. Where fewer than
    `min_count` samples decide a pair, the current edge is kept; a unit with more than `max_children` keeps
    its best-supported ones.

    Returns:
        (m, n) bool: the new child sets.
    """
    if pos.shape[0] == 0:
        return pos
    tested, stay, total = explain_away_rates(x, h, pos, candidate=plain)
    decided = tested & (total >= min_count)
    on = np.maximum(np.asarray(h.sum(0)).ravel(), 1.0)
    plain_ok = np.asarray((h.T @ x).todense()) >= plain * on[:, None]  # the plain test of refine_positive
    rate = np.where(decided, stay / np.maximum(total, 1), np.where(pos, 1.0, 0.0))
    out = (rate >= keep) & plain_ok
    if max_children is not None:  # a unit grown past d keeps its d best-supported children, not none
        for i in np.flatnonzero(out.sum(1) > max_children):
            js = np.flatnonzero(out[i])
            out[i, js[np.argsort(-rate[i, js], kind="stable")[max_children:]]] = False
    return out



def explained_fraction(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray) -> np.ndarray:
    """For each unit s: the fraction of the samples where h_s is on in which every child of s that is on is
    also a child of another unit that is on. A spurious clique (one child of each of several true units under
    a common grandparent) is on only together with those units, so it is always explained; a true unit is on
    alone whenever its own parent fires.

    Vectorized over the nonzero entries (r, s) of h: each child slot of s reads the coverage count and x at
    (r, child) from dense copies.

    Args:
        x: (N, n) 0/1 samples; h: (N, m) 0/1 decoding; pos: (m, n) bool.

    Returns:
        (m,) float.
    """
    m = pos.shape[0]
    out = np.zeros(m)
    hh = sp.csr_matrix(h, dtype=np.float32)
    hh.sum_duplicates()
    hh.eliminate_zeros()
    if hh.nnz == 0:
        return out
    drive = dense01(sp.csr_matrix(hh @ sp.csr_matrix(pos.astype(np.float32))) >= 2)  # covered by 2+ on units
    xd = dense01(x)
    rows = np.repeat(np.arange(hh.shape[0]), np.diff(hh.indptr))
    units = hh.indices
    size = pos.sum(1)
    kids = np.full((m, max(int(size.max()), 1)), -1, np.int64)  # (m, s_max) child slots, -1 padded
    for s in range(m):  # m small rows, once
        kids[s, :size[s]] = np.flatnonzero(pos[s])
    explained = np.ones(len(rows), bool)
    for slot in range(kids.shape[1]):
        k = kids[units, slot]
        has = k >= 0
        r, kk = rows[has], k[has]
        if isinstance(xd, np.ndarray):
            on, cov = xd[r, kk] > 0, drive[r, kk] > 0
        else:
            on = np.asarray(xd[r, kk]).ravel() > 0
            cov = np.asarray(drive[r, kk]).ravel() > 0
        explained[has] &= cov | ~on
    per_unit = np.bincount(units, weights=explained, minlength=m)
    count = np.bincount(units, minlength=m)
    np.divide(per_unit, count, out=out, where=count > 0)
    return out
