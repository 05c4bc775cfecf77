"""Plain reference forms of the learner's vectorized steps: the first, loop-by-loop implementations, kept
so that the fast versions are tested against them (tests/arora: identical outputs on small nets). Not used by
the learner."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from deeplearn.arora.explain import rate_setup, shared_children, unit_rows


def explain_away_rates_plain(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, fraction: float = 0.75,
                       candidate: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plain loop form of `deeplearn.arora.explain.explain_away_rates` (the reference it is tested
    against; the statistic is described there): one pass per tested pair (i, j) and per unit that could
    explain j. Returns (tested, stay, total), each (m, n)."""
    m, n = pos.shape
    tested, stay, total, need_all, need_loo, cnt = rate_setup(x, h, pos, fraction, candidate)
    common = shared_children(pos)
    xr = x.tocsr()
    claimants = [np.flatnonzero(pos[:, j]) for j in range(n)]
    for i in range(m):
        rows, mine, js = unit_rows(cnt, tested, i, min(need_loo[i], need_all[i]))
        if len(rows) == 0 or len(js) == 0:
            continue
        rivals = np.flatnonzero(common[i] >= need_loo[i])
        others = np.setdiff1d(np.concatenate([claimants[j] for j in js] + [rivals]), [i])
        priv = pos[others] & ~pos[i]  # (o, n) the others' private children
        cols = np.union1d(js, np.flatnonzero(priv.any(0)))
        xs = xr[rows][:, cols].toarray()  # (r, c) only the columns the tests read
        pc = xs @ priv[:, cols].T.astype(np.float32)  # (r, o) private children on
        xj_all = xs[:, np.searchsorted(cols, js)] > 0  # (r, |js|)
        nprv = priv.sum(1)
        is_rival = np.isin(others, rivals)
        for k, j in enumerate(js):
            xj = xj_all[:, k]
            alive = mine - (xj & pos[i, j]) >= (need_loo[i] if pos[i, j] else need_all[i])
            for q in np.flatnonzero(is_rival | pos[others, j]):
                if nprv[q] - priv[q, j] > 0:  # a unit with no private child but j cannot be ruled out
                    alive &= pc[:, q] - (xj & priv[q, j]) == 0
            total[i, j] = int(alive.sum())
            stay[i, j] = int(xj[alive].sum())
    return tested, stay, total



def explained_fraction_plain(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray) -> np.ndarray:
    """The plain loop form of `deeplearn.arora.explain.explained_fraction` (its tested reference). For each unit s: the fraction of the samples where h_s is on in which every child of s that is on is
    also a child of another unit that is on. A spurious clique (one child of each of several true units under
    a common grandparent) is on only together with those units, so it is always explained; a true unit is on
    alone whenever its own parent fires. (m,) float."""
    drive = sp.csr_matrix(h @ sp.csr_matrix(pos.astype(np.float32)))  # (N, n) on units covering each child
    hc = h.tocsc()
    out = np.zeros(pos.shape[0])
    for i in range(pos.shape[0]):
        rows = hc.indices[hc.indptr[i]:hc.indptr[i + 1]]
        if len(rows) == 0:
            continue
        kids = np.flatnonzero(pos[i])
        cover = drive[rows][:, kids].toarray() - 1  # (r, |S|): other on units covering the child
        on = x[rows][:, kids].toarray() > 0
        out[i] = float(((cover > 0) | ~on).all(1).mean())
    return out


def vote_counts_plain(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, neg: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The plain loop form of `deeplearn.arora.reestimate.vote_counts` (its tested reference): for every
    (parent i, child j) and every sample with h_i = 1, the field of j's other parents summed directly,
    S_-ij = sum_{k != i} W_kj h_k, and the sample tallied by S_-ij in {0, 1} and x_j."""
    w = pos.astype(np.int64) - neg.astype(np.int64)
    hd, xd = h.toarray() > 0, x.toarray() > 0
    m, n = pos.shape
    out = [np.zeros((m, n)) for _ in range(4)]  # c0on, c0all, c1on, c1all
    for i in range(m):
        for r in np.flatnonzero(hd[:, i]):
            for j in range(n):
                others = hd[r].copy()
                others[i] = False
                s = int(w[others, j].sum())
                if s in (0, 1):
                    out[2 * s][i, j] += xd[r, j]
                    out[2 * s + 1][i, j] += 1
    return tuple(out)
