"""DeeProb-kit as an oracle: the same circuit gives the same log-likelihoods (skipped without the package)."""

import numpy as np
import pytest
import torch

pytest.importorskip("deeprob.spn.algorithms.inference",
                    reason="DeeProb-kit is not installed: pip install --no-deps deeprob-kit==1.1.0 (CI's .ci/run does)")

from deeplearn.spn.circuit import Circuit  # noqa: E402
from deeplearn.spn.learnspn import LearnSPNConfig, learnspn  # noqa: E402
from deeplearn.spn.oracle import deeprob_log_prob, to_deeprob  # noqa: E402
from deeplearn.spn.structures import hclt_graph, rat_graph  # noqa: E402


@pytest.mark.parametrize("kind", ["hclt", "rat", "learnspn"])
def test_deeprob_agrees(kind):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (500, 12))
    x[:, 3] = x[:, 2] ^ (rng.random(500) < 0.1)
    g = {"hclt": lambda: hclt_graph(x, 4), "rat": lambda: rat_graph(12, 2, 3, 4, 3),
         "learnspn": lambda: learnspn(x, LearnSPNConfig(min_instances=50, pvalue=0.05))}[kind]()
    c = Circuit(g, seed=1)
    q = rng.integers(0, 2, (300, 12))
    q[::3, rng.integers(0, 12)] = -1  # some marginal queries too
    ours = c(torch.tensor(q)).detach().double().numpy()
    theirs = deeprob_log_prob(to_deeprob(c.to_graph()), q)
    np.testing.assert_allclose(ours, theirs, atol=2e-4, rtol=1e-5)
