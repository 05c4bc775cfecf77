"""EM, the baselines, the data reader's errors, and LearnSPN's splits."""

import gzip

import numpy as np
import pytest
import torch

from deeplearn.paths import DataError
from deeplearn.spn.baselines import ChowLiuTree, independent_fit, independent_ll
from deeplearn.spn.circuit import Circuit
from deeplearn.spn.data import load_for_training, load_split, read_binary
from deeplearn.spn.em import EMConfig, expected_counts, fit_em, m_step, mean_ll
from deeplearn.spn.learnspn import g_statistics, variable_components
from deeplearn.spn.structures import chow_liu_graph, hclt_graph, rat_graph


def toy_data(n=600, v=8, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    x = (rng.random((n, v)) < np.where(z[:, None] == 1, 0.8, 0.25)).astype(np.int64)
    return x


@pytest.mark.parametrize("make", [lambda x: hclt_graph(x, hidden=4), lambda x: rat_graph(x.shape[1], 2, 2, 3, 3)],
                         ids=["hclt", "rat"])
def test_full_batch_em_never_lowers_the_training_likelihood(make):
    x = toy_data()
    c = Circuit(make(x), seed=0)
    xt = torch.tensor(x)
    prev = mean_ll(c, xt)
    for _ in range(8):
        counts, _ = expected_counts(c, xt, batch_size=256)  # several batches: counts add up exactly
        m_step(c, counts)
        now = mean_ll(c, xt)
        assert now >= prev - 1e-5
        prev = now


def test_em_counts_are_the_exact_posterior_counts():
    """For a two-component mixture, the expected count of a component is the sum of its posteriors."""
    x = torch.tensor(toy_data(50, 3))
    c = Circuit(rat_graph(3, depth=0, repetitions=1, sums=1, inputs=2), seed=4)
    params = [p.detach() for p in c.params()]
    counts, _ = expected_counts(c, x)
    comp = []
    for k in range(2):  # log w_k + sum_v log p_kv(x_v), by hand
        rows = torch.arange(3 * k, 3 * k + 3)  # the leaves of component k, over variables leaf_var[rows]
        comp.append(params[1][k] + params[0][rows, x[:, c.leaf_var[rows]]].sum(1))
    post = torch.softmax(torch.stack(comp, 1), 1).sum(0)
    torch.testing.assert_close(counts[1], post, atol=1e-4, rtol=1e-4)


def test_fit_em_improves_on_the_start_and_keeps_the_best_valid():
    x = toy_data(800)
    c = Circuit(hclt_graph(x[:600], hidden=4), seed=1)
    tr, va = torch.tensor(x[:600]), torch.tensor(x[600:])
    start = mean_ll(c, va)
    hist = fit_em(c, tr, va, EMConfig(epochs=10, minibatch_epochs=4, batch_size=100, patience=None))
    assert mean_ll(c, va) == pytest.approx(hist.best_valid_ll, abs=1e-5)
    assert hist.best_valid_ll > start + 0.1


def test_fit_em_keeps_the_start_when_it_is_the_best_on_valid():
    """EM from a learned structure (LearnSPN's counts) counts the start as epoch 0: a harmful EM run (here a huge
    pseudo-count that flattens every leaf) leaves the start in place."""
    from deeplearn.spn.learnspn import LearnSPNConfig, learnspn

    x = toy_data(800)
    c = Circuit(learnspn(x[:600], LearnSPNConfig(min_instances=50, pvalue=0.05)))
    tr, va = torch.tensor(x[:600]), torch.tensor(x[600:])
    start = [p.detach().clone() for p in c.params()]
    hist = fit_em(c, tr, va, EMConfig(epochs=3, batch_size=100, alpha_leaf=1e4, alpha_sum=1e4))
    assert hist.best_epoch == 0 and hist.rows[0]["kind"] == "start"
    for a, b in zip(start, c.params()):
        torch.testing.assert_close(a, b.detach())


def test_chow_liu_circuit_equals_the_tree():
    x = toy_data(500, 7)
    clt = ChowLiuTree(x, 0.5)
    c = Circuit(chow_liu_graph(clt))
    np.testing.assert_allclose(c(torch.tensor(x)).detach().double().numpy(), clt.log_prob(x), atol=1e-4)
    assert clt.log_prob(x).mean() > independent_ll(independent_fit(x, 0.5), x)


def test_g_test_splits_independent_blocks():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, (2000, 1))
    b = rng.integers(0, 2, (2000, 1))
    x = np.hstack([a, a ^ (rng.random((2000, 1)) < 0.05), b, b, rng.integers(0, 2, (2000, 1))])
    g = g_statistics(x)
    assert g[0, 1] > 1000 and g[0, 2] < 20
    comps = sorted(tuple(c) for c in variable_components(x, 0.001))
    assert comps == [(0, 1), (2, 3), (4,)]


def write(path, text, gz=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


def test_data_errors(tmp_path):
    root = tmp_path / "density"
    write(root / "toy" / "toy.train.data.gz", "0,1,1\n1,0,1\n")
    write(root / "toy" / "toy.valid.data.gz", "0,1,1\n")
    write(root / "toy" / "toy.test.data", "0,1,1\n", gz=False)
    d = load_for_training("toy", tmp_path)
    assert d["train"].tolist() == [[0, 1, 1], [1, 0, 1]] and d["test"].shape == (1, 3)
    write(root / "bad" / "bad.train.data.gz", "0,1,1\n1,2,1\n")
    with pytest.raises(DataError, match=r"line 2 holds the value '2'"):
        read_binary(root / "bad" / "bad.train.data.gz")
    write(root / "ragged" / "ragged.train.data.gz", "0,1,1\n1,0\n")
    with pytest.raises(DataError, match="line 2 has 2 values, the first row has 3"):
        read_binary(root / "ragged" / "ragged.train.data.gz")
    write(root / "partial" / "part" / "part.valid.data.gz", "0,1\n")
    write(root / "partial" / "part" / "part.test.data.gz", "0,1\n")
    with pytest.raises(DataError, match="lacks its train split.*partial copy"):
        load_for_training("part", tmp_path)
    assert load_split("part", "valid", tmp_path).shape == (1, 2)  # reading it for evaluation is fine
    with pytest.raises(DataError, match="no data set 'nope'.*known: .*toy"):
        load_for_training("nope", tmp_path)
    with pytest.raises(DataError, match="has no train split"):
        load_split("part", "train", tmp_path)


def test_real_data_and_the_anchors(shared_data):
    from deeplearn.spn.baselines import run_baselines

    r = run_baselines(load_for_training("nltcs", shared_data))
    assert r["independent"]["test_ll"] == pytest.approx(-9.234, abs=1e-3)
    assert r["chow_liu"]["test_ll"] == pytest.approx(-6.759, abs=1e-3)
    with pytest.raises(DataError, match="partial copy"):
        load_for_training("msnbc", shared_data)


def test_hclt_clt_start_is_near_the_chow_liu_tree():
    x = toy_data(800, 10, seed=3)
    xt = torch.tensor(x)
    clt = float(ChowLiuTree(x, 0.1).log_prob(x).mean())
    near = mean_ll(Circuit(hclt_graph(x, hidden=4, init="clt")), xt)
    rand = mean_ll(Circuit(hclt_graph(x, hidden=4), seed=0), xt)
    assert rand < near and abs(near - clt) < 0.05
