"""Step 8 of the Arora et al. learner (deeplearn.arora.reestimate): the vote's counts against a plain-loop
reference, the joint vote on a planted pair of mutually masking edges, the degree cap, and the whole step on
a learned net."""

from __future__ import annotations

import numpy as np
import pytest

from deeplearn.arora import reestimate as R
from deeplearn.arora.model import NetSpec, generate
from deeplearn.arora.reference import vote_counts_plain


def test_vote_counts_equal_the_plain_loops():
    """vote_counts (eight sparse products) against the direct per-sample sum of the leave-one-out field, on a
    perturbed graph (extra, missing and sign-flipped edges, so that every field value occurs)."""
    net = generate(NetSpec(n=40, depth=1, degree=7, rho=0.06, weights="balanced", graph="biregular", seed=2))
    y, h = net.sample(400, seed=3)
    rng = np.random.default_rng(0)
    w = net.weights[0].copy()
    w[rng.random(w.shape) < 0.05] = 0.0
    extra = rng.random(w.shape) < 0.04
    w[extra] = rng.choice([-1.0, 1.0], size=int(extra.sum()))
    pos, neg = w > 0, w < 0
    fast, plain = R.vote_counts(y, h, pos, neg), vote_counts_plain(y, h, pos, neg)
    for a, b in zip(fast, plain):
        assert np.array_equal(a, b)
    assert all(t.sum() > 100 for t in plain)  # every category occurs


@pytest.fixture(scope="module")
def masked():
    """A 2-layer net with a planted pair that masks itself: siblings a, b (positive children of one top unit,
    so on together often) with a -> j positive and b -> j negative (edges moved, so every parent keeps d
    children). The graph to refit is the true one without those two edges; the hidden layer is the true one."""
    net = generate(NetSpec(n=300, depth=2, degree=7, rho=0.01, weights="balanced", graph="biregular", seed=0))
    w1, w2 = net.weights
    a, b = np.flatnonzero(w2[0] > 0)[:2]
    j = int(np.flatnonzero((w1[a] == 0) & (w1[b] == 0))[0])
    w1[a, np.flatnonzero(w1[a] > 0)[0]] = 0.0
    w1[b, np.flatnonzero(w1[b] < 0)[0]] = 0.0
    w1[a, j], w1[b, j] = 1.0, -1.0
    y, h1, _ = net.sample(40_000, seed=1)
    pos, neg = w1 > 0, w1 < 0
    start_pos, start_neg = pos.copy(), neg.copy()
    start_pos[a, j] = start_neg[b, j] = False
    return y, h1, pos, neg, start_pos, start_neg, (a, b, j)


def test_joint_vote_resolves_a_planted_masking_pair(masked):
    y, h1, pos, neg, p0, n0, (a, b, j) = masked
    opts = R.RefitOptions()
    counts = R.vote_counts(y, h1, p0, n0)
    _, _, ambiguous, _ = R.single_votes(counts, p0, n0, opts)
    assert ambiguous[a, j] and ambiguous[b, j]  # each alone: the child on about half the time
    new_pos, new_neg, info = R.revote_layer(y, h1, p0, n0, 7, opts)
    assert np.array_equal(new_pos, pos) and np.array_equal(new_neg, neg)  # exactly the two edges back
    assert info["pair_children"] == 1
    # the joint vote does not need the degree rules (graphs whose out-degrees vary: `regular=False`)
    free_pos, free_neg, _ = R.revote_layer(y, h1, p0, n0, 7, R.RefitOptions(regular=False))
    assert np.array_equal(free_pos, pos) and np.array_equal(free_neg, neg)
    # one step of single votes alone (each entry with the rest of its column fixed) does not restore it
    single_pos, single_neg, _, _ = R.single_votes(counts, p0, n0, opts)
    assert not single_pos[a, j]
    assert not (np.array_equal(single_pos, pos) and np.array_equal(single_neg, neg))


def test_degree_cap_keeps_the_best_supported_negative_edges():
    pos = np.zeros((2, 10), bool)
    neg = np.zeros((2, 10), bool)
    pos[0, :4] = True
    neg[0, 4:8] = True  # 8 children, d = 7: one negative too many
    neg[1, 0:3] = True
    gain = np.zeros((2, 10))
    gain[0, 4:8] = [0.99, 0.8, 0.95, 0.9]
    out = R.cap_degree(pos, neg, gain, 7)
    assert out[0].tolist() == [False] * 4 + [True, False, True, True, False, False]
    assert np.array_equal(out[1], neg[1])


def test_reestimate_repairs_a_perturbed_two_layer_net():
    """The whole of step 8 (votes, joint votes, degree cap and completion, re-decoding between rounds) from
    the true graph of a 2-layer net with errors planted in both layers (missing and false negative edges,
    missing positive edges), each hidden layer decoded bottom-up with the perturbed graph as the learner
    would: every layer comes back exactly."""
    from deeplearn.arora.bits import decode_signed_bits
    from deeplearn.arora.decoding import decode_consistent
    from deeplearn.arora.learn import LearnedLayer
    net = generate(NetSpec(n=200, depth=2, degree=7, rho=0.015, weights="balanced", graph="biregular", seed=4))
    y = net.sample(20_000, seed=5)[0]
    rng = np.random.default_rng(6)
    layers, hs, x = [], [y], y
    for k in (1, 2):
        pos, neg = net.positive(k).copy(), net.negative(k).copy()
        r, c = np.nonzero(neg)
        drop = rng.choice(len(r), 12, replace=False)
        neg[r[drop], c[drop]] = False  # missing negative edges
        zr, zc = np.nonzero(~pos & ~neg)
        add = rng.choice(len(zr), 8, replace=False)
        neg[zr[add], zc[add]] = True  # false ones
        if k == 1:
            pr, pc = np.nonzero(pos)
            lose = rng.choice(len(pr), 3, replace=False)
            pos[pr[lose], pc[lose]] = False  # missing positive edges
        h = decode_consistent(x, pos, neg, decode_signed_bits(x, pos, neg, 4))
        layers.append(LearnedLayer(pos, neg, float(h.mean())))
        hs.append(h)
        x = h
    wrong = lambda: [int((l.pos != net.positive(k)).sum() + (l.neg != net.negative(k)).sum())  # noqa: E731
                     for k, l in enumerate(layers, start=1)]
    assert wrong() == [23, 20]
    R.reestimate(hs, layers, 7, R.RefitOptions(), floor=20_000)
    assert wrong() == [0, 0]
