"""The layer-wise learner of Arora, Bhaskara, Ge and Ma 2014 (arXiv 1310.6343, Algorithm 1: learn the bottom
layer from samples of y, decode the hidden layer, repeat one layer up). Section names below are pointers to
the paper as we know it (the stored copies we could read stop after its introduction); every numeric
threshold is ours and derived or measured where it is defined (docs/arora.md).

One layer (`learn_layer`), from the 0/1 samples X (N, n) of the layer below:

1. Correlation graph ("the correlation graph and its square root"): in the sparse regime two units
   are positively correlated essentially when they share a parent through positive edges, so the graph G^ of
   strongly correlated pairs is about the square of the positive part G+ of the graph above. We threshold the
   pairwise correlation of the co-activation counts X^T X (one sparse matrix product).
2. Graph recovery, the graph square root (Algorithm RecoverGraph): every hidden unit's positive
   children form a clique of G^. Seeded by an uncovered edge (u, v) of G^, the candidate clique is the set S of
   units s that are on in most samples where u and v are both on (the 3-wise correlation E[x_u x_v x_s] /
   E[x_u x_v] >= 1/2, the paper's 3-wise variant), or, with `method="pairwise"`, the common neighbours of u and v in
   G^ (the paper's triangle step); S is peeled to a near-clique of G^ and accepted if it has between
   `min_children` and d units (the paper's size test: a seed pair related only through a grandparent gives
   the grandparent's ~d^2/4 grandchildren), and its pairs are covered. Each accepted clique is one hidden unit.
3. Decoding (the reversibility / denoising property, PartialEncoder): a hidden unit is on when at least
   3/4 of its positive children are on; then (ours) a likelihood-ratio linear threshold unit fit from that
   first decoding (`fit_decoder`), still h = sgn(W^T x + b).
4. Refinement with the decoded layer (LearnGraph, ours in this form: `refine_explained`): j is a positive
   child of i when x_j is on in at least half of the samples where h_i is on, and in at least
   `explain_keep` of those where i is on (read from its other children) and every other explanation of j
   (another unit that holds j, or could fake i's evidence) is ruled out. Alternated with decoding until
   nothing changes; units whose whole activity is explained by other units are dropped
   (`explained_fraction`).
5. Negative edges ("learning the negative edges"): an edge i -> j is negative when j is off in most samples
   where i is on together with a positive parent of j (each parent read from its children other than j,
   `_driven`), re-tested where i is the only candidate on (`_explain_away`). This needs co-activations of two
   hidden units: the quadratic sample complexity of the paper's theorem.
6. Decoding for the layer above (ours, `decode_signed`): with the negative edges, a unit whose child is
   cancelled by an active negative parent is still on, and a unit whose evidence is all explained by other
   active units is off.

7. Decoding by consistency (ours, `decode_consistent`): a local search for the hidden layer that regenerates
   the layer below, sgn(W^T h) = x (the paper's reversible property read literally).

`learn_network` stacks layers bottom-up, each on the decoded layer below (Algorithm 1), then (ours, step 8,
`deeplearn.arora.reestimate`, `refit_rounds`) re-votes every layer's edges from the decoded layers: each
child's column is the one that explains it best, by coordinate votes, a joint vote over pairs of edges that
mask each other, and the degree d known to the learner; re-decoding in between.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp

from deeplearn.arora.bits import decode_signed_bits
from deeplearn.arora.decoding import (_entries, decode, decode_consistent, decode_linear, decode_signed,  # noqa: F401
                                      fit_decoder)
from deeplearn.arora.explain import explain_away_rates, explained_fraction, refine_explained  # noqa: F401
from deeplearn.paths import DataError


@dataclass
class LearnOptions:
    """The learner's knobs (all have defaults derived from the paper's argument; see each comment)."""

    degree: int = 16  # d, known to the learner as in the paper: sets the correlation threshold
    method: str = "triple"  # triple (3-wise correlations) | pairwise (triangles of G^)
    corr_threshold: float | None = None  # G^ edge if correlation >= this; default sqrt(8 / d^3), see below
    min_count: int = 5  # fewest co-activations for any statistic to be used
    min_children: int | None = None  # smallest clique accepted as a unit (default 3, a triangle)
    decode_fraction: float = 0.75  # PartialEncoder: on when >= this fraction of positive children is on
    decoder: str = "consistent"  # consistent (decode_signed, then decode_consistent) | signed | likelihood | fraction
    decode_rounds: int = 4  # rounds of decode_signed (measured: 3 -> 6 rounds changes misses by < 0.1%)
    refine_rounds: int = 0  # rounds of the plain step 4 (refine_positive; 0: the explaining-away test only)
    refine_fraction: float = 0.5  # step 4: j can be a child of i when x_j is on in >= this of i's samples
    clique_slack: float | None = None  # step 2: a member must be G^-adjacent to >= 1 - this of the others
    split_unions: bool = False  # step 2: skip a non-clique candidate larger than a triangle (`_is_union`)
    explain_rounds: int = 5  # rounds of step 4 with explaining away (refine_explained), until nothing changes
    explain_keep: float = 0.2  # ... j stays a child of i when on in >= this of the samples it decides
    negative_fraction: float = 0.75  # j off in >= this fraction of co-activations -> negative edge
    prune: float | None = 0.9  # drop units explained by other units in >= this fraction of their activity
    max_layers: int | None = None  # stop after this many layers (default: until a layer finds no unit)
    positive_samples: int | None = 100_000  # steps 1-4 read at most this many samples (None: all)
    negative_events: float = 50.0  # step 5 reads enough samples for this many co-activations per edge
    refit_rounds: int = 6  # step 8 (reestimate.py): re-vote every layer's edges from the decoded layers
    refit_min_gain: int = 3  # step 8: a weight changes only when that removes >= this many mismatches
    refit_neg_min: int = 5  # step 8: a new negative edge needs >= this many samples where it decides
    refit_regular: bool = True  # step 8: use d as every parent's exact out-degree (cap and completion)

    def smallest(self) -> int:
        """The lower end of the size test on a recovered clique: a triangle (the upper end is d)."""
        if self.min_children is not None:
            return self.min_children
        return 3

    def slack(self) -> float:
        """Step 2's peeling slack: 1/4 (a member adjacent to 3/4 of the others), or 1/2 where a child set
        is a triangle (d <= 6): there one missing pair of G^ would peel a true unit away. Measured: at d = 8
        the looser 1/2 loses 2 of 200 units of the tests' one-layer net at 20,000 samples, 1/4 none."""
        if self.clique_slack is not None:
            return self.clique_slack
        return 0.5 if (self.degree + 1) // 2 <= 3 else 0.25

    def threshold(self) -> float:
        """Pairs sharing a parent correlate at about 2/d (a unit with ~d/2 positive parents is on through a
        given one about 2/d of the time); pairs sharing only a grandparent at about 4/d^2. Their geometric
        mean sqrt(8/d^3) splits the medians and is the default. Where a child set is a triangle (at most 3
        positive children, d <= 6) the tails matter: in a depth-3 net with d = 5, n = 500, 5% of the sibling
        pairs fall below it (measured, docs/arora.md) and a unit with one of its three pairs missing is lost,
        so there the default is 0.6 sqrt(8/d^3), and the cousin pairs it lets in are rejected by the 3-wise,
        size and explaining-away tests. (At d = 8 the lower threshold costs more than it gains: positive F1
        0.973 against 0.995 on the 2-layer net of the tests.)"""
        if self.corr_threshold is not None:
            return self.corr_threshold
        base = math.sqrt(8.0 / self.degree ** 3)
        return 0.6 * base if (self.degree + 1) // 2 <= 3 else base


@dataclass
class LearnedLayer:
    """One learned graph: `pos`/`neg` are (m, n_child) bool; m = the number of hidden units found."""

    pos: np.ndarray
    neg: np.ndarray
    density: float  # mean of the decoded hidden layer
    stats: dict = field(default_factory=dict)
    dec_w: np.ndarray | None = None  # (n_child, m) likelihood-ratio encoder weights (fit_decoder)
    dec_b: np.ndarray | None = None  # (m,)

    @property
    def m(self) -> int:
        return self.pos.shape[0]


@dataclass
class LearnedNet:
    layers: list[LearnedLayer]  # bottom first: layers[0] maps h(1) -> y
    options: LearnOptions
    seconds: float = 0.0

    def decode(self, y: sp.csr_matrix, decode_fraction: float | None = None) -> list[sp.csr_matrix]:
        """[h(1), h(2), ...] decoded bottom-up from observed samples y (N, n)."""
        f = self.options.decode_fraction if decode_fraction is None else decode_fraction
        out, x = [], y
        for layer in self.layers:
            if self.options.decoder in ("signed", "consistent") and decode_fraction is None:
                h = decode_signed_bits(x, layer.pos, layer.neg, self.options.decode_rounds)
                x = decode_consistent(x, layer.pos, layer.neg, h) if self.options.decoder == "consistent" else h
            elif self.options.decoder == "likelihood" and decode_fraction is None:
                x = decode_linear(x, layer.dec_w, layer.dec_b)
            else:
                x = decode(x, layer.pos, f)
            out.append(x)
        return out

    def weights(self) -> list[np.ndarray]:
        """+1 / -1 / 0 weight matrices, bottom first (the learned net as a DeepNet would hold it)."""
        return [l.pos.astype(np.float32) - l.neg.astype(np.float32) for l in self.layers]


# --- step 1: correlation graph ---

def coactivation(x: sp.csr_matrix) -> np.ndarray:
    """(n, n) counts of samples in which both units are on: X^T X as a sparse product."""
    return np.asarray((x.T @ x).todense(), dtype=np.float64)


def correlation_graph(x: sp.csr_matrix, threshold: float, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """G^: pairs whose Pearson correlation is >= threshold and that were on together >= min_count times.

    Returns:
        (adjacency (n, n) bool without the diagonal, correlation (n, n) float).
    """
    num = x.shape[0]
    c = coactivation(x)  # (n, n)
    p = np.diag(c) / num
    sd = np.sqrt(np.maximum(p * (1 - p), 1e-300))
    corr = (c / num - np.outer(p, p)) / np.outer(sd, sd)
    adj = (corr >= threshold) & (c >= min_count)
    np.fill_diagonal(adj, False)
    return adj, corr


# --- step 2: graph recovery (the graph square root) ---

def recover_graph(x: sp.csr_matrix, adj: np.ndarray, corr: np.ndarray, opts: LearnOptions) -> np.ndarray:
    """Algorithm RecoverGraph: one hidden unit per clique of G^ found from a seed edge.

    Returns:
        (m, n) bool: the positive child sets of the m hidden units found.
    """
    n = adj.shape[0]
    xc = x.tocsc()
    # row gathers are the inner loop: a dense uint8 copy where it fits (up to 200 MB), else CSR
    rows_of = x.toarray().astype(np.uint8) if x.shape[0] * n <= 200_000_000 else x
    uncovered = np.triu(adj, 1)
    iu, iv = np.nonzero(uncovered)
    order = np.argsort(-corr[iu, iv], kind="stable")  # strongest pairs first
    units: list[np.ndarray] = []
    for e in order:
        u, v = int(iu[e]), int(iv[e])
        if not uncovered[u, v]:
            continue
        uncovered[u, v] = False
        s = _candidate(xc, rows_of, adj, u, v, opts)
        s = _clean_clique(adj, s, u, v, opts.slack())
        if not opts.smallest() <= s.sum() <= opts.degree:
            continue  # too small for a triangle, or larger than any child set (a grandparent's set)
        idx = np.flatnonzero(s)
        if opts.split_unions and _is_union(adj, idx, opts):
            continue  # (u, v) has two common parents; seeds inside each child set find them one by one
        uncovered[np.ix_(idx, idx)] = False
        if units and _overlaps(np.array(units), s):
            continue  # the same parent again, seen from a pair the first clique missed
        units.append(s)
    return np.array(units, dtype=bool).reshape(len(units), n)


def _is_union(adj: np.ndarray, idx: np.ndarray, opts: LearnOptions) -> bool:
    """Whether a peeled candidate set looks like the union of two child sets that share the seed pair (two
    parents with two common positive children; about C(k, 2)^2 / 2 such parent pairs in a layer, k the
    positive out-degree, whatever n). Only where child sets are triangles (the peel's slack is 1/2): there
    {j1, j2, a} and {j1, j2, b} give the 4-set {j1, j2, a, b} with only the pair (a, b) missing, which the
    peel keeps, and covering its pairs would hide both units. A set larger than a triangle that is not a
    clique of G^ is such a union; it is skipped without covering its pairs, so the seeds (j1, a) and (j1, b)
    find the two triangles. (With 4+ positive children the 3/4 peel already splits such unions.)"""
    if opts.slack() <= 0.25 or len(idx) <= opts.smallest():
        return False
    return int(adj[np.ix_(idx, idx)].sum()) < len(idx) * (len(idx) - 1)


def _overlaps(units: np.ndarray, s: np.ndarray, jac: float = 0.5) -> bool:
    """Whether S shares more than `jac` of its union with an already found child set. Strictly more: two
    true units of three children may share two (Jaccard exactly 1/2), and a wrong set {a, b, cousin} must not
    block the true {a, b, c}; the explaining-away refinement settles such pairs."""
    inter = (units & s).sum(1)
    union = (units | s).sum(1)
    return bool((inter > jac * union).any())


def _candidate(xc: sp.csc_matrix, xr, adj: np.ndarray, u: int, v: int,
               opts: LearnOptions) -> np.ndarray:
    """The candidate child set S for the seed pair (u, v), as an (n,) bool mask containing u and v."""
    if opts.method == "pairwise":
        s = adj[u] & adj[v]
    else:  # 3-wise: P(x_s = 1 | x_u = x_v = 1) >= 1/2
        rows = np.intersect1d(xc.indices[xc.indptr[u]:xc.indptr[u + 1]],
                              xc.indices[xc.indptr[v]:xc.indptr[v + 1]], assume_unique=True)
        if len(rows) < opts.min_count:
            return np.zeros(adj.shape[0], bool)
        frac = np.asarray(xr[rows].sum(0, dtype=np.int64)).ravel() / len(rows)  # (n,) triple / pair
        s = frac >= 0.5
    s = s.copy()
    s[[u, v]] = True
    return s


def _clean_clique(adj: np.ndarray, s: np.ndarray, u: int, v: int, eps: float = 0.5) -> np.ndarray:
    """Peel S to a near-clique of G^: drop the member with the fewest G^-neighbours inside S until every
    member is adjacent to at least (1 - eps) of the others. A true child set is a clique of G^; a seed pair
    with two common parents gives the union of two cliques, and peeling keeps the larger one."""
    idx = np.flatnonzero(s)
    sub = adj[np.ix_(idx, idx)]
    alive = np.ones(len(idx), bool)
    inside = sub.sum(1).astype(np.int64)
    while alive.sum() >= 3:
        k = int(alive.sum())
        worst = int(np.argmin(np.where(alive, inside, np.iinfo(np.int64).max)))
        if inside[worst] >= (1 - eps) * (k - 1):
            break
        alive[worst] = False
        inside -= sub[:, worst]
    out = np.zeros_like(s)
    out[idx[alive]] = True
    return out


# --- steps 3-5: decode, refine, negative edges ---

def refine_positive(x: sp.csr_matrix, h: sp.csr_matrix, min_count: int, fraction: float = 0.6) -> np.ndarray:
    """LearnGraph: pos[i, j] iff x_j is on in at least `fraction` of the samples where h_i is on (a child is
    off only when a negative parent cancels it; a cousin is on only when i's parent is). (m, n) bool."""
    on = np.asarray(h.sum(0)).ravel()  # (m,)
    both = np.asarray((h.T @ x).todense())  # (m, n)
    return (both >= fraction * on[:, None]) & (on[:, None] >= min_count)


def _driven(x: sp.csr_matrix, pos: np.ndarray, fraction: float) -> sp.csr_matrix:
    """(N, n) bool: some positive parent of j is on, each parent read from its children other than j (at
    least `fraction` of them on). Reading a parent from all its children would be circular: with three
    children and all needed, a parent would look on only when j is on, and a cancelled j (the very evidence
    of a negative edge) would never look driven."""
    size = pos.sum(1)
    need = np.maximum(1, np.ceil(fraction * (size - 1) - 1e-9))  # (m,) leave-one-out threshold
    p_in = sp.csr_matrix(pos.T.astype(np.float32))  # (n, m)
    p_out = sp.csr_matrix(pos.astype(np.float32))  # (m, n)
    cnt = sp.csr_matrix(x @ p_in)  # (N, m)
    d0 = _entries(cnt, lambda v, c: v >= need[c])  # parent on from its other children, j off
    d1 = _entries(cnt, lambda v, c: v >= need[c] + 1)  # ... j on (and counted in v)
    on_if_off = sp.csr_matrix(d0 @ p_out) > 0
    on_if_on = sp.csr_matrix(d1 @ p_out) > 0
    xb = x > 0
    return sp.csr_matrix((on_if_off - on_if_off.multiply(xb)) + on_if_on.multiply(xb)) > 0


def learn_negative(x: sp.csr_matrix, h: sp.csr_matrix, pos: np.ndarray, opts: LearnOptions
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Negative edges: i -> j is negative iff, over samples where h_i is on and some other positive parent of
    j is on, j is off in at least `negative_fraction` of them, at least 0.5 more often than j is off whenever
    it is driven at all, and there were >= min_count such samples.

    Returns:
        (neg (m, n) bool, support (m, n) int: the number of such samples, 0 where untestable).
    """
    driven = _driven(x, pos, opts.decode_fraction)  # (N, n): some known positive parent is on
    # "i is on" from the strict encoder (all of i's positive children on): a unit sharing children with a
    # positive parent of j would otherwise look on exactly when j is driven, and hide its negative edges
    ht = decode(x, pos, 1.0).T.multiply(h.T).tocsr()  # (m, N)
    # for a pair (i, j) that is not positive, a driven sample has a positive parent other than i on
    support = np.asarray((ht @ driven.astype(np.float32)).todense())  # (m, n)
    stay_on = np.asarray((ht @ driven.multiply(x).astype(np.float32)).todense())  # j on all the same
    off_frac = 1.0 - stay_on / np.maximum(support, 1)
    # j's own off rate when driven, the baseline a real negative edge must beat by a margin
    drive_n = np.asarray(driven.sum(0)).ravel()
    base = 1.0 - np.asarray(driven.multiply(x).sum(0)).ravel() / np.maximum(drive_n, 1)
    neg = ((~pos) & (support >= opts.min_count) & (off_frac >= opts.negative_fraction)
           & (off_frac - base[None, :] >= 0.5))
    neg = _explain_away(x, ht, driven, neg, opts)
    return neg, np.where(pos, 0, support).astype(np.int64)


def _explain_away(x: sp.csr_matrix, ht: sp.csr_matrix, driven, neg: np.ndarray, opts: LearnOptions
                  ) -> np.ndarray:
    """Second pass over the candidate negative edges (ours): in a deep net, units under one parent are on
    together, so a sibling of j's real negative parent looks negative too. Re-test each candidate (i, j) on the
    samples where i is the only candidate negative parent of j that is on; drop it when there are >= min_count
    of them and j stays on in them (off less than `negative_fraction`). Undecidable candidates are kept."""
    if not neg.any():
        return neg
    h = ht.T.tocsr()  # (N, m) strict "on"
    cand_on = sp.csr_matrix(h @ sp.csr_matrix(neg.astype(np.float32)))  # (N, n) candidates of j that are on
    alone = driven.multiply(cand_on == 1)  # driven, exactly one candidate on (i itself, when h_i is on)
    support = np.asarray((ht @ alone.astype(np.float32)).todense())
    stay_on = np.asarray((ht @ alone.multiply(x).astype(np.float32)).todense())
    off = 1.0 - stay_on / np.maximum(support, 1)
    refuted = (support >= opts.min_count) & (off < opts.negative_fraction)
    return neg & ~refuted


def learn_layer(x: sp.csr_matrix, opts: LearnOptions) -> tuple[LearnedLayer, sp.csr_matrix]:
    """Steps 1-5 on one layer. Returns the learned graph and the decoded hidden samples (N, m)."""
    t0 = time.perf_counter()
    full = x
    if opts.positive_samples is not None and x.shape[0] > opts.positive_samples:
        x = x[:opts.positive_samples]  # the positive graph needs far fewer samples than the negative edges
    adj, corr = correlation_graph(x, opts.threshold(), opts.min_count)
    pos = recover_graph(x, adj, corr, opts)
    h = decode(x, pos, opts.decode_fraction)
    for _ in range(opts.refine_rounds if pos.shape[0] else 0):  # steps 3-4, alternated
        if opts.decoder != "fraction":
            h = decode_linear(x, *fit_decoder(x, h, pos, opts.min_count))
        new, keep = _dedupe(refine_positive(x, h, opts.min_count, opts.refine_fraction), opts.smallest(),
                            opts.degree)
        if new.shape == pos.shape and (new == pos).all():
            break
        pos, h = new, h[:, keep]
    for _ in range(opts.explain_rounds if pos.shape[0] else 0):  # step 4 with explaining away
        new = refine_explained(x, h, pos, opts.min_count, opts.refine_fraction, opts.explain_keep, opts.degree)
        new, keep = _dedupe(new, opts.smallest(), opts.degree)
        if new.shape == pos.shape and (new == pos).all():
            break
        pos, h = new, h[:, keep]
        if opts.decoder != "fraction" and pos.shape[0]:
            h = decode_linear(x, *fit_decoder(x, h, pos, opts.min_count))
        else:
            h = decode(x, pos, opts.decode_fraction)
    if opts.prune is not None and pos.shape[0]:
        keep = explained_fraction(x, h, pos) < opts.prune
        pos, h = pos[keep], h[:, np.flatnonzero(keep)]
    w_dec, b_dec = fit_decoder(x, h, pos, opts.min_count)
    x = full  # decode every sample: the layer above is learned from them
    h = decode(x, pos, opts.decode_fraction) if opts.decoder == "fraction" else decode_linear(x, w_dec, b_dec)
    num_neg = _negative_samples(h, pos, opts)
    neg, support = (learn_negative(x[:num_neg], h[:num_neg], pos, opts) if pos.shape[0]
                    else (np.zeros_like(pos), None))
    if opts.decoder in ("signed", "consistent") and pos.shape[0]:
        h = decode_signed_bits(x, pos, neg, opts.decode_rounds)  # the layer above reads these
        if opts.decoder == "consistent":
            h = decode_consistent(x, pos, neg, h)
    if not pos.shape[0]:
        num_neg = 0
    stats = {"graph_edges": int(adj.sum() // 2), "units": int(pos.shape[0]),
             "positive_edges": int(pos.sum()), "negative_edges": int(neg.sum()),
             "negative_testable_pairs": int((support >= opts.min_count).sum()) if support is not None else 0,
             "positive_samples": int(min(full.shape[0], opts.positive_samples or full.shape[0])),
             "negative_samples": int(num_neg), "seconds": time.perf_counter() - t0}
    density = float(h.mean()) if h.shape[1] else 0.0
    return LearnedLayer(pos, neg, density, stats, w_dec, b_dec), h


def _negative_samples(h: sp.csr_matrix, pos: np.ndarray, opts: LearnOptions) -> int:
    """How many samples step 5 reads: a negative edge i -> j is seen only when i and a positive parent of j
    are on together, about rho^2 k of the samples (rho the hidden density, k the mean positive in-degree),
    so enough for `negative_events` such samples per edge, at least `positive_samples`, at most all."""
    num = h.shape[0]
    rho = float(h.mean()) if h.shape[1] else 0.0
    k = max(pos.sum() / max(pos.shape[1], 1), 1.0)
    if rho <= 0:
        return num
    need = int(math.ceil(opts.negative_events / (rho * rho * k)))
    return min(num, max(need, opts.positive_samples or num))


def _dedupe(pos: np.ndarray, min_children: int, max_children: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop units left with fewer than `min_children` or more than `max_children` children (a spurious seed
    grows to a grandparent's whole set of grandchildren) and duplicate child sets after refinement.
    Returns the kept rows and their indices."""
    size = pos.sum(1)
    big = np.flatnonzero((size >= min_children) & (size <= max_children))
    _, first = np.unique(np.packbits(pos[big], axis=1), axis=0, return_index=True)
    keep = big[np.sort(first)]
    return pos[keep], keep


def learn_network(y: sp.csr_matrix, depth: int | None, opts: LearnOptions) -> LearnedNet:
    """Algorithm 1: learn layer after layer from the bottom, each from the decoded layer below.

    Args:
        y: (N, n) observed 0/1 samples.
        depth: how many layers to learn (None: until a layer finds no hidden unit, at most opts.max_layers).
    """
    check_samples(y, opts)
    t0 = time.perf_counter()
    layers: list[LearnedLayer] = []
    x = y.tocsr().astype(np.float32)
    hs = [x]
    limit = depth if depth is not None else (opts.max_layers or 32)
    while len(layers) < limit:
        layer, h = learn_layer(x, opts)
        if layer.m == 0:
            break
        layers.append(layer)
        x = h
        hs.append(h)
    if opts.refit_rounds and layers and opts.decoder == "consistent":
        refit(hs, layers, opts)
    return LearnedNet(layers, opts, time.perf_counter() - t0)


def refit(hs: list[sp.csr_matrix], layers: list[LearnedLayer], opts: LearnOptions) -> list[dict]:
    """Step 8 (`deeplearn.arora.reestimate`): re-vote every layer's edges from the decoded layers, in place;
    each layer's stats get the rounds' changes and time."""
    from deeplearn.arora.reestimate import RefitOptions, reestimate
    ro = RefitOptions(rounds=opts.refit_rounds, min_gain=opts.refit_min_gain, neg_min=opts.refit_neg_min,
                      neg_fraction=opts.negative_fraction, regular=opts.refit_regular)
    hs, history = reestimate(hs, layers, opts.degree, ro, floor=opts.positive_samples or 0)
    for k, layer in enumerate(layers, start=1):
        rows = [r for r in history if r["layer"] == k]
        layer.stats["refit"] = rows
        layer.stats["refit_seconds"] = float(sum(r["seconds"] for r in rows))
        layer.stats["negative_edges"] = int(layer.neg.sum())
        layer.stats["positive_edges"] = int(layer.pos.sum())
        layer.density = float(hs[k].mean()) if hs[k].shape[1] else 0.0
    return history


def check_samples(y, opts: LearnOptions) -> None:
    """Bad input gets a DataError naming the problem: not 0/1, or too few samples for any statistic."""
    if opts.method not in ("triple", "pairwise"):
        raise DataError(f"--method {opts.method!r}: choose triple or pairwise")
    if opts.degree < 1:
        raise DataError(f"--degree {opts.degree}: the degree d must be >= 1")
    if not sp.issparse(y) or y.ndim != 2:
        raise DataError("samples must be a 2-D sparse 0/1 matrix (samples x units)")
    if y.nnz and not np.all((y.data == 0) | (y.data == 1)):
        raise DataError("samples must be 0/1 valued")
    num = y.shape[0]
    if num < opts.min_count:
        raise DataError(f"{num} samples: too few for any co-activation statistic (min_count = "
                        f"{opts.min_count}); draw more with `deeplearn arora generate --samples N`")
    counts = np.asarray(y.sum(0)).ravel()
    if counts.max(initial=0) < opts.min_count:
        raise DataError(f"{num} samples: no unit is on in {opts.min_count} or more of them, too few for any "
                        f"co-activation statistic; draw more samples (the paper needs about 1/rho^2)")


def options_dict(opts: LearnOptions) -> dict:
    return asdict(opts)
