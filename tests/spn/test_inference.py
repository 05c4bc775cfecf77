"""Exact inference of the tensorized circuit against brute-force enumeration on small circuits."""

import itertools

import numpy as np
import pytest
import torch

from deeplearn.spn.baselines import ChowLiuTree
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.graph import Graph, StructureError, naive_log_prob
from deeplearn.spn.learnspn import LearnSPNConfig, learnspn
from deeplearn.spn.structures import chow_liu_graph, hclt_graph, rat_graph

V = 6


def all_assignments(v=V, k=2):
    return torch.tensor(list(itertools.product(range(k), repeat=v)))


def dag_graph(seed=0, k=2) -> Graph:
    """A hand-made DAG with shared sub-circuits, unequal fan-ins and mixed-level children."""
    rng = np.random.default_rng(seed)
    g = Graph(4, k)
    leaf = lambda v: g.leaf(v, rng.dirichlet(np.ones(k)))
    a = g.sum([g.product([leaf(0), leaf(1)]), g.product([leaf(0), leaf(1)]), g.product([leaf(0), leaf(1)])],
              rng.dirichlet(np.ones(3)))
    b = g.sum([leaf(2), leaf(2)], rng.dirichlet(np.ones(2)))
    shared = g.product([b, leaf(3)])
    p1 = g.product([a, shared])
    p2 = g.product([leaf(0), leaf(1), shared])  # the shared node has two parents
    p3 = g.product([g.product([leaf(0), leaf(2)]), g.product([leaf(1), leaf(3)])])
    g.sum([p1, p2, p3], rng.dirichlet(np.ones(3)))
    return g


def circuits():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (400, V))
    x[:, 1] = x[:, 0] ^ (rng.random(400) < 0.1)  # some dependence for the learners to find
    yield "dag", Circuit(dag_graph(0)), 4
    yield "dag3", Circuit(dag_graph(1, k=3)), 4
    yield "hclt", Circuit(hclt_graph(x, hidden=3), seed=2), V
    yield "rat", Circuit(rat_graph(V, depth=2, repetitions=2, sums=3, inputs=2), seed=3), V
    yield "learnspn", Circuit(learnspn(x, LearnSPNConfig(min_instances=30, pvalue=0.05))), V


CIRCUITS = list(circuits())


@pytest.mark.parametrize("name,c,v", CIRCUITS, ids=[n for n, _, _ in CIRCUITS])
def test_likelihood_matches_naive_and_sums_to_one(name, c, v):
    X = all_assignments(v, c.num_states)
    lp = c(X).detach().double()
    assert torch.logsumexp(lp, 0).exp().item() == pytest.approx(1.0, abs=1e-5)
    ref = naive_log_prob(c.to_graph(), X.numpy())
    np.testing.assert_allclose(lp.numpy(), ref, atol=1e-4)


@pytest.mark.parametrize("name,c,v", CIRCUITS, ids=[n for n, _, _ in CIRCUITS])
def test_marginals_equal_summing_out(name, c, v):
    k = c.num_states
    X = all_assignments(v, k)
    p = c(X).detach().double().exp().view((k,) * v)
    rng = np.random.default_rng(0)
    for _ in range(5):
        keep = sorted(rng.choice(v, size=rng.integers(1, v), replace=False).tolist())
        summed = p.sum(dim=[d for d in range(v) if d not in keep])  # brute force over the others
        q = torch.full((k ** len(keep), v), -1)
        q[:, keep] = all_assignments(len(keep), k)
        marg = c(q).detach().double().exp().view(summed.shape)
        torch.testing.assert_close(marg, summed, atol=1e-5, rtol=1e-4)
    assert c(torch.full((1, v), -1)).exp().item() == pytest.approx(1.0, abs=1e-5)


def test_mpe_is_exact_on_a_selective_circuit():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (500, V))
    x[:, 2] = x[:, 1] | x[:, 0]
    c = Circuit(chow_liu_graph(ChowLiuTree(x, 0.5)))
    X = all_assignments()
    p = c(X).detach()
    for e in [[-1] * V, [1, -1, -1, 0, -1, -1], [-1, 0, 1, -1, -1, 1]]:
        ev = torch.tensor([e])
        ok = ((X == ev) | (ev < 0)).all(1)  # assignments consistent with the evidence
        best = X[ok][p[ok].argmax()]
        got, value = c.mpe(ev)
        assert torch.equal(got[0], best)
        assert value.item() == pytest.approx(p[ok].max().item(), abs=1e-5)


@pytest.mark.parametrize("name,c,v", CIRCUITS, ids=[n for n, _, _ in CIRCUITS])
def test_mpe_backtracks_the_best_induced_tree(name, c, v):
    """For a non-selective SPN, max-product gives the best induced tree: its completion keeps the evidence, and
    its probability is at least the tree's value; with a single tree it is the brute-force argmax."""
    ev = torch.full((3, v), -1)
    ev[1, 0] = 1
    ev[2, :2] = torch.tensor([0, 1])
    got, value = c.mpe(ev)
    assert ((got == ev) | (ev < 0)).all()
    assert (c(got).detach() >= value - 1e-5).all()


def test_mpe_matches_brute_force_max_product():
    """Enumerating induced trees of the DAG circuit by brute force: max over trees = the max-product value."""
    g = dag_graph(0)
    c = Circuit(g)
    X = all_assignments(4)
    # Max-product by brute force: replace each sum with a max in the naive evaluator.
    vals = []
    for kind, var, ch, p in zip(g.kind, g.var, g.children, g.params):
        if kind == 0:
            vals.append(np.log(p[X[:, var].numpy()]))
        elif kind == 1:
            vals.append(np.sum([vals[i] for i in ch], 0))
        else:
            vals.append(np.max([vals[i] + np.log(w) for i, w in zip(ch, p / p.sum())], 0))
    best = vals[-1].max()
    got, value = c.mpe(torch.full((1, 4), -1))
    assert value.item() == pytest.approx(best, abs=1e-5)
    assert vals[-1][int((got[0] * torch.tensor([8, 4, 2, 1])).sum())] == pytest.approx(best, abs=1e-5)


@pytest.mark.parametrize("name,c,v", CIRCUITS[:3], ids=[n for n, _, _ in CIRCUITS[:3]])
def test_sampling_frequencies_match_the_model(name, c, v):
    n = 40000
    k = c.num_states
    X = all_assignments(v, k)
    p = c(X).detach().double().exp()
    s = c.sample(n, seed=0)
    codes = (s * (k ** torch.arange(v - 1, -1, -1))).sum(1)
    freq = torch.bincount(codes, minlength=len(X)).double() / n
    assert (freq - p).abs().max().item() < 4 * (p.max().item() / n) ** 0.5 + 1e-3
    # conditional sampling: frequencies of x1 given x0 = 1 match p(x1 | x0 = 1)
    ev = torch.full((n, v), -1)
    ev[:, 0] = 1
    s = c.sample(evidence=ev, seed=1)
    assert (s[:, 0] == 1).all()
    q = torch.full((k, v), -1)
    q[:, 0], q[:, 1] = 1, torch.arange(k)
    cond = (c(q) - c(q[:1].masked_fill(torch.arange(v) == 1, -1))).exp().detach()
    emp = torch.bincount(s[:, 1], minlength=k).double() / n
    assert (emp - cond.double()).abs().max().item() < 0.015


def test_structure_errors():
    g = Graph(2)
    a, b = g.leaf(0), g.leaf(1)
    g.sum([a, b])
    with pytest.raises(StructureError, match="not complete"):
        Circuit(g)
    g = Graph(2)
    a, b = g.leaf(0), g.leaf(0)
    g.product([a, b])
    with pytest.raises(StructureError, match="not decomposable"):
        Circuit(g)
    g = Graph(3)
    g.product([g.leaf(0), g.leaf(1)])
    with pytest.raises(StructureError, match="does not cover every variable: missing {x2}"):
        Circuit(g)
    with pytest.raises(StructureError, match="not a distribution"):
        Graph.from_dict({"num_vars": 1, "nodes": [{"leaf": 0, "p": [0.5, 0.6]}]})
    with pytest.raises(StructureError, match="not a circuit description"):
        Graph.from_dict({"nodes": []})
    c = Circuit(dag_graph())
    with pytest.raises(StructureError, match=r"takes \[batch, 4\]"):
        c(torch.zeros(2, 3, dtype=torch.long))


def test_json_roundtrip():
    g = dag_graph(2)
    h = Graph.from_dict(g.to_dict())
    X = all_assignments(4)
    np.testing.assert_allclose(naive_log_prob(g, X.numpy()), naive_log_prob(h, X.numpy()))


@pytest.mark.parametrize("name,c,v", CIRCUITS, ids=[n for n, _, _ in CIRCUITS])
def test_conditional_marginals_in_one_backward_pass(name, c, v):
    k = c.num_states
    X = all_assignments(v, k)
    p = c(X).detach().double().exp()
    ev = torch.full((2, v), -1)
    ev[1, 0], ev[1, v - 1] = 1, 0
    got = c.conditional_marginals(ev).double()
    for row in range(2):
        ok = ((X == ev[row]) | (ev[row] < 0)).all(1)
        pe = p[ok].sum()
        for var in range(v):
            brute = torch.stack([p[ok & (X[:, var] == s)].sum() / pe for s in range(k)])
            torch.testing.assert_close(got[row, var], brute, atol=1e-5, rtol=1e-4)
