"""Gaussian leaves and the RDC independence test: exact inference against numerical integration and brute force
over induced trees; EM for Gaussian leaves; RDC splits in LearnSPN; the CLI on gray-level digits."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

from deeplearn.cli import main
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.em import EMConfig, expected_counts, fit_em, m_step, mean_ll
from deeplearn.spn.graph import Graph, StructureError, naive_log_prob
from deeplearn.spn.learnspn import LearnSPNConfig, learnspn, rdc_matrix, variable_components
from deeplearn.spn.structures import init_gaussian_leaves, rat_graph

NAN = float("nan")


def gauss_dag(seed=0) -> Graph:
    """Two real variables: a mixture of three products, one of which reuses a shared mixture over x1."""
    rng = np.random.default_rng(seed)
    g = Graph(2, leaf_type="gaussian")
    leaf = lambda v: g.leaf(v, [rng.normal(0, 2), rng.uniform(0.5, 1.5)])
    shared = g.sum([leaf(1), leaf(1)], rng.dirichlet(np.ones(2)))
    prods = [g.product([leaf(0), leaf(1)]), g.product([leaf(0), shared]), g.product([leaf(0), shared])]
    g.sum(prods, rng.dirichlet(np.ones(3)))
    return g


GRID = torch.linspace(-14, 14, 1401, dtype=torch.float64)
DX = float(GRID[1] - GRID[0])


def density(c: Circuit, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return c(x.float()).double().exp()


def test_gaussian_likelihood_matches_naive_and_integrates_to_one():
    c = Circuit(gauss_dag())
    x = torch.tensor([[0.3, -1.0], [NAN, 2.0], [1.5, NAN], [NAN, NAN]])
    np.testing.assert_allclose(c(x).detach().double().numpy(), naive_log_prob(c.to_graph(), x.numpy()), atol=1e-5)
    pts = torch.cartesian_prod(GRID[::4], GRID[::4])
    assert float(density(c, pts).sum()) * (4 * DX) ** 2 == pytest.approx(1.0, abs=1e-3)


def test_gaussian_marginal_equals_numerical_integration():
    c = Circuit(gauss_dag(1))
    for x0 in (-2.0, 0.5, 3.0):
        pts = torch.stack([torch.full_like(GRID, x0), GRID], 1)
        integral = float(density(c, pts).sum()) * DX
        assert float(density(c, torch.tensor([[x0, NAN]]))) == pytest.approx(integral, rel=1e-4)


def test_gaussian_conditional_mean_and_samples():
    c = Circuit(gauss_dag(2))
    x0 = 0.7
    pts = torch.stack([torch.full_like(GRID, x0), GRID], 1)
    p = density(c, pts)
    mean = float((p * GRID).sum() / p.sum())
    var = float((p * GRID ** 2).sum() / p.sum()) - mean ** 2
    ev = torch.tensor([[x0, NAN]])
    assert float(c.conditional_means(ev)[0, 1]) == pytest.approx(mean, abs=1e-4)
    s = c.sample(evidence=ev.repeat(40000, 1), seed=0)
    assert (s[:, 0] == x0).all()
    assert float(s[:, 1].mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / 40000))
    assert float(s[:, 1].var()) == pytest.approx(var, rel=0.05)
    free = c.sample(20000, seed=1)  # unconditional: E[x0] against the integral of the marginal of x0
    p0 = density(c, torch.stack([GRID, torch.full_like(GRID, NAN)], 1))
    assert float(free[:, 0].mean()) == pytest.approx(float((p0 * GRID).sum() / p0.sum()), abs=0.08)


def induced_trees(g: Graph):
    """Every induced tree of a graph as (log weight product, {leaf ids}) by brute force."""
    def trees(n):
        kind = g.kind[n]
        if kind == 0:
            yield 0.0, (n,)
        elif kind == 1:
            for parts in itertools.product(*[list(trees(ch)) for ch in g.children[n]]):
                yield sum(p[0] for p in parts), sum((p[1] for p in parts), ())
        else:
            w = g.params[n] / g.params[n].sum()
            for ch, wc in zip(g.children[n], w):
                for lw, leaves in trees(ch):
                    yield lw + math.log(wc), leaves
    return list(trees(g.root_id()))


def test_gaussian_mpe_is_the_best_induced_tree():
    c = Circuit(gauss_dag(3))
    g = c.to_graph()
    ev = torch.tensor([[0.4, NAN], [NAN, -1.2], [NAN, NAN]])
    x, value = c.mpe(ev)
    for row, xr, vr in zip(ev.numpy(), x.numpy(), value.numpy()):
        best, best_x = -np.inf, None
        for lw, leaves in induced_trees(g):
            total, xs = lw, row.copy()
            for n in leaves:
                mu, sd = g.params[n]
                v = g.var[n]
                xs[v] = mu if np.isnan(row[v]) else row[v]
                total += -0.5 * ((xs[v] - mu) / sd) ** 2 - math.log(sd) - 0.5 * math.log(2 * math.pi)
            if total > best:
                best, best_x = total, xs
        assert vr == pytest.approx(best, abs=1e-4)
        np.testing.assert_allclose(xr, best_x, atol=1e-5)


def test_gaussian_structure_errors():
    g = Graph(1, leaf_type="gaussian")
    g.leaf(0, [0.0, -1.0])
    with pytest.raises(StructureError, match="std > 0"):
        g.check()
    with pytest.raises(StructureError, match="unknown leaf type"):
        Graph(1, leaf_type="poisson")
    c = Circuit(gauss_dag())
    with pytest.raises(StructureError, match="float inputs"):
        c(torch.zeros(1, 2, dtype=torch.long))
    assert Graph.from_dict(gauss_dag().to_dict()).gaussian


def mixture_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    x = np.stack([rng.normal(np.where(z, 2.0, -1.0), 0.5), rng.normal(np.where(z, -1.5, 1.0), 0.8),
                  rng.normal(0.0, 1.0, n)], 1)
    return torch.tensor(x, dtype=torch.float32)


def test_gaussian_em_never_lowers_the_training_likelihood_and_matches_the_closed_form():
    x = mixture_data()
    g = rat_graph(3, depth=1, repetitions=2, sums=2, inputs=3, leaf_type="gaussian")
    init_gaussian_leaves(g, x.numpy(), seed=0)
    c = Circuit(g, seed=0)
    lls = []
    for _ in range(8):
        counts, total = expected_counts(c, x)
        lls.append(total)
        m_step(c, counts, 0.0, 0.0, 1.0)
    assert all(b >= a - 1e-3 for a, b in zip(lls, lls[1:])) and lls[-1] > lls[0]
    # one Gaussian leaf alone: the M-step is the sample mean and variance
    one = Graph(1, leaf_type="gaussian")
    one.leaf(0, [5.0, 3.0])
    c1 = Circuit(one)
    counts, _ = expected_counts(c1, x[:, :1])
    m_step(c1, counts, 0.0, 0.0, 1.0)
    assert float(c1.leaf_gauss[0, 0].detach()) == pytest.approx(float(x[:, 0].double().mean()), abs=1e-5)
    assert float(c1.leaf_gauss[0, 1].detach().exp() ** 2) == pytest.approx(float(x[:, 0].double().var(unbiased=False)),
                                                                    rel=1e-4)


def test_fit_em_on_gaussian_rat():
    x = mixture_data(900, 1)
    g = rat_graph(3, depth=1, repetitions=2, sums=3, inputs=3, leaf_type="gaussian")
    init_gaussian_leaves(g, x[:600].numpy(), seed=0)
    c = Circuit(g, seed=0)
    start = mean_ll(c, x[600:])
    hist = fit_em(c, x[:600], x[600:], EMConfig(epochs=12, batch_size=100))
    assert hist.best_valid_ll > start + 0.5 and mean_ll(c, x[600:]) == pytest.approx(hist.best_valid_ll)


def test_rdc_finds_nonlinear_dependence_and_equals_abs_correlation_on_binary():
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, 2000)
    x = np.stack([a, a ** 2 + 0.05 * rng.normal(size=2000), rng.uniform(-1, 1, 2000)], 1)
    r = rdc_matrix(x, seed=0)
    assert abs(np.corrcoef(x[:, 0], x[:, 1])[0, 1]) < 0.1  # uncorrelated, yet dependent
    assert r[0, 1] > 0.8 and r[0, 2] < 0.15 and r[1, 2] < 0.15
    np.testing.assert_allclose(r, r.T, atol=1e-9)
    b = rng.integers(0, 2, (3000, 4))
    b[:, 1] = b[:, 0] ^ (rng.random(3000) < 0.2)
    np.testing.assert_allclose(rdc_matrix(b, seed=1), np.abs(np.corrcoef(b.T)) * (1 - np.eye(4)), atol=1e-6)


def test_learnspn_rdc_splits_and_gaussian_leaves():
    rng = np.random.default_rng(1)
    z = rng.integers(0, 2, 800)
    block1 = np.stack([z + 0.3 * rng.normal(size=800), -z + 0.3 * rng.normal(size=800)], 1)
    block2 = rng.normal(size=(800, 2)) @ np.array([[1.0, 0.9], [0.0, 0.4]])
    x = np.concatenate([block1, block2], 1)
    comps = variable_components(x, 0.0, "rdc", 0.3)
    assert sorted(map(tuple, comps)) == [(0, 1), (2, 3)]
    g = learnspn(x, LearnSPNConfig(min_instances=100, independence="rdc", leaf_type="gaussian"))
    c = Circuit(g)
    q = torch.tensor(x[:50], dtype=torch.float32)
    q[::4, 1] = NAN
    np.testing.assert_allclose(c(q).detach().double().numpy(), naive_log_prob(g, q.numpy()), atol=1e-4)
    assert g.kind[g.root_id()] == 1  # the root is the product over the two independent blocks
    with pytest.raises(ValueError, match="G-test is for binary"):
        learnspn(x, LearnSPNConfig(leaf_type="gaussian"))
    binary = (x > 0).astype(np.int64)  # RDC also drives the binary learner
    gb = learnspn(binary, LearnSPNConfig(min_instances=100, independence="rdc"))
    allx = torch.tensor(list(itertools.product(range(2), repeat=4)))
    assert float(Circuit(gb)(allx).detach().logsumexp(0).exp()) == pytest.approx(1.0, abs=1e-5)


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_gaussian_digits(tmp_path, capsys):
    out = tmp_path / "g"
    rc, text, _ = run(capsys, "spn", "train", "--data", "digits", "--structure", "rat", "--leaves", "gaussian",
                      "--depth", "2", "--repetitions", "2", "--sums", "3", "--inputs", "3", "--epochs", "3",
                      "--out", str(out))
    assert rc == 0 and "test log-likelihood" in text
    png = tmp_path / "grid.png"
    rc, text, _ = run(capsys, "spn", "complete", str(out), "--half", "bottom", "-o", str(png), "--show", "2")
    assert rc == 0 and png.stat().st_size > 1000
    done = json.loads((out / "completion_bottom.json").read_text())
    assert done["leaves"] == "gaussian" and 0 < done["mse"]["SPN conditional mean"] < 0.2
    rc, text, _ = run(capsys, "spn", "sample", str(out), "-n", "2", "--evidence", "x0=0.5")
    assert rc == 0 and all(r.split()[0] == "0.5000" for r in text.splitlines())
    rc, text, _ = run(capsys, "spn", "query", str(out), "--evidence", "x0=0.5", "--marginal", "x9", "--mpe")
    assert rc == 0 and "E[x9 | evidence]" in text
    rc, _, _ = run(capsys, "spn", "train", "--data", "digits", "--structure", "rat", "--leaves", "gaussian",
                   "--depth", "1", "--repetitions", "2", "--sums", "2", "--inputs", "2", "--learner", "sgd",
                   "--epochs", "2", "--progress", "none", "--out", str(tmp_path / "sgd"))
    res = json.loads((tmp_path / "sgd" / "spn.json").read_text())  # SGD through the engine on float inputs
    assert rc == 0 and res["learner"] == "sgd" and math.isfinite(res["test_ll"])
    rc, _, err = run(capsys, "spn", "train", "--data", "digits", "--structure", "learnspn", "--leaves", "gaussian",
                     "--out", str(tmp_path / "l"))
    assert rc == 2 and "--independence rdc" in err
    rc, _, err = run(capsys, "spn", "train", "--data", "nltcs", "--leaves", "gaussian", "--structure", "rat",
                     "--data-dir", str(tmp_path), "--out", str(tmp_path / "n"))
    assert rc == 2 and "need real-valued data" in err
