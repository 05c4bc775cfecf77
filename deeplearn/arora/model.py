"""The generative model of Arora, Bhaskara, Ge and Ma 2014 (arXiv 1310.6343, Section 2 "Definitions and
results"), seeded and vectorized.

A net of depth L has layers h(L), ..., h(1), h(0) = y of n units each, all {0, 1}. The top layer h(L) is a
random sparse vector: each unit is on independently with probability rho (the paper's rho_L; on average rho*n
units on). Layer k-1 is computed from layer k through a random sparse bipartite graph G_k with weights W_k:

    h(k-1) = sgn(W_k^T h(k) - theta),   sgn(x) = 1 if x > 0 else 0            (threshold theta, 0 by default)

Each parent has d children ("regular": a uniformly random d-subset, so every unit has degree exactly d; or
"bernoulli": every edge independently with probability d/n; "biregular", ours: every unit has exactly d
parents and d children, so the in-degree does not vary either). Edge weights are +-1 with probability 1/2 each
(the basic model) or uniform in [-1, 1] (the general model). `balanced` (our addition, not the paper's) is
the basic model with exactly ceil(d/2) positive edges per parent: at the small d a CPU allows, a Binomial(d,
1/2) positive degree leaves some units with fewer than 3 positive children, which no learner that reads
pairwise statistics can see (the paper's d = n^gamma makes them vanishingly rare). With theta = 0 a child is on when the weights of
its active parents sum to more than 0, so in the sparse regime (rho_k * d small) a layer's density is about
rho_k * d / 2: rho_{k-1} ~ rho_k d / 2, the growth behind the paper's density condition rho_L (d/2)^L = O(1).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from deeplearn.paths import DataError

WEIGHT_MODELS = ("pm1", "uniform", "balanced")
GRAPH_MODELS = ("regular", "bernoulli", "biregular")


@dataclass(frozen=True)
class NetSpec:
    """The parameters of one random net (Section 2). `degree` is d, `rho` the top layer's density."""

    n: int = 600  # defaults: a 2-layer net inside the regime (docs/arora.md: positive F1 0.995 / 0.996)
    depth: int = 2
    degree: int = 8
    rho: float = 0.003
    weights: str = "balanced"
    graph: str = "biregular"
    threshold: float = 0.0
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def check(self) -> "NetSpec":
        """Raise DataError naming the first bad parameter."""
        if not (isinstance(self.n, int) and self.n >= 2):
            raise DataError(f"--n {self.n}: the number of units per layer must be an integer >= 2")
        if not (isinstance(self.depth, int) and self.depth >= 1):
            raise DataError(f"--depth {self.depth}: the number of hidden layers must be an integer >= 1")
        if not (isinstance(self.degree, int) and 1 <= self.degree <= self.n):
            raise DataError(f"--degree {self.degree}: the degree d must be an integer in [1, n={self.n}]; "
                            f"a parent cannot have more children than the layer has units")
        if not (0.0 < self.rho < 1.0):
            raise DataError(f"--rho {self.rho}: the top layer's sparsity must lie strictly between 0 and 1")
        if self.weights not in WEIGHT_MODELS:
            raise DataError(f"--weights {self.weights!r}: choose one of {', '.join(WEIGHT_MODELS)}")
        if self.graph not in GRAPH_MODELS:
            raise DataError(f"--graph {self.graph!r}: choose one of {', '.join(GRAPH_MODELS)}")
        if not math.isfinite(self.threshold):
            raise DataError(f"--threshold {self.threshold}: must be a finite number")
        return self

    def expected_densities(self) -> list[float]:
        """Sparse-regime estimate of each layer's density, top first: rho_{k-1} = P(sum of active weights >
        theta), computed exactly for Poisson(rho_k d) active parents with the model's weight law (a
        Poisson approximation of the in-degree; exact enough to test the generator against)."""
        dens = [self.rho]
        for _ in range(self.depth):
            lam = dens[-1] * self.degree  # mean number of active parents of a unit
            dens.append(_p_on(lam, self.weights, self.threshold))
        return dens


def _p_on(lam: float, weights: str, theta: float, kmax: int = 40, mc: int = 200_000) -> float:
    """P(sum of K weights > theta) with K ~ Poisson(lam), weights +-1 or uniform [-1, 1]."""
    rng = np.random.default_rng(12345)
    total, pk = 0.0, math.exp(-lam)
    for k in range(kmax + 1):
        if k > 0:
            pk *= lam / k
        if pk < 1e-15 and k > lam:
            break
        if k == 0:
            p = 1.0 if 0 > theta else 0.0
        elif weights in ("pm1", "balanced"):  # balanced: the same law to first order  # number of +1 among k is Binomial(k, 1/2): sum = 2j - k
            j = np.arange(k + 1)
            logc = np.array([math.lgamma(k + 1) - math.lgamma(i + 1) - math.lgamma(k - i + 1) for i in j])
            p = float(np.exp(logc - k * math.log(2))[2 * j - k > theta].sum())
        else:
            p = float((rng.uniform(-1, 1, size=(mc, k)).sum(1) > theta).mean())
        total += pk * p
    return total


@dataclass
class DeepNet:
    """A net: `weights[k-1]` is W_k, the (n_parent, n_child) matrix from layer k down to layer k-1."""

    spec: NetSpec
    weights: list[np.ndarray]  # depth x (n, n) float32, bottom (W_1: h(1) -> y) first

    @property
    def depth(self) -> int:
        return len(self.weights)

    def positive(self, k: int) -> np.ndarray:
        """(n_parent, n_child) bool: the positive edges of W_k (k = 1 is the bottom graph)."""
        return self.weights[k - 1] > 0

    def negative(self, k: int) -> np.ndarray:
        return self.weights[k - 1] < 0

    def sample(self, num: int, seed: int, chunk: int = 20_000, top_density: float | None = None
               ) -> list[sp.csr_matrix]:
        """`num` samples of every layer, drawn top-down.

        Returns:
            [h(0) = y, h(1), ..., h(L)], each a (num, n_k) CSR matrix of 0/1 float32.
        """
        rng = np.random.default_rng(seed)
        rho = self.spec.rho if top_density is None else top_density
        top_n = self.weights[-1].shape[0]
        top = sp.random(num, top_n, density=rho, format="csr", dtype=np.float32, random_state=rng)
        top.data[:] = 1.0
        layers = [top]
        for W in reversed(self.weights):
            layers.append(_propagate(layers[-1], W, self.spec.threshold, chunk))
        return layers[::-1]


def _propagate(h: sp.csr_matrix, W: np.ndarray, theta: float, chunk: int) -> sp.csr_matrix:
    """sgn(h W - theta) row block by row block (the dense pre-activation of a block only). (N, m) -> (N, n).
    With integer weights (+-1) and theta >= 0 the pre-activation is an exact sparse product instead: the same
    output (integer sums are exact in float32), without the dense (block, n) intermediate."""
    if theta >= 0 and np.array_equal(W, np.round(W)):
        z = sp.csr_matrix(sp.csr_matrix(h, dtype=np.float32) @ sp.csr_matrix(W))
        z.data = (z.data > theta).astype(np.float32)
        z.eliminate_zeros()
        z.sort_indices()
        return z
    out = []
    for a in range(0, h.shape[0], chunk):
        z = np.asarray(h[a:a + chunk] @ W)  # (b, n) pre-activation
        out.append(sp.csr_matrix((z > theta).astype(np.float32)))
    return sp.vstack(out, format="csr") if out else sp.csr_matrix((0, W.shape[1]), dtype=np.float32)


def generate(spec: NetSpec) -> DeepNet:
    """A random net of `spec` (seeded by spec.seed; the same spec always gives the same net)."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    weights = [_random_graph(rng, spec) for _ in range(spec.depth)]
    return DeepNet(spec, weights)


def _random_graph(rng: np.random.Generator, spec: NetSpec) -> np.ndarray:
    """One (n, n) weight matrix: rows are parents, columns children."""
    n, d = spec.n, spec.degree
    if spec.graph == "biregular":
        perms = _disjoint_permutations(rng, n, d)  # (d, n): child of parent i in round r
        w = np.zeros((n, n), np.float32)
        for r, perm in enumerate(perms):
            if spec.weights == "balanced":
                val = np.full(n, 1.0 if r < (d + 1) // 2 else -1.0, np.float32)
            elif spec.weights == "pm1":
                val = rng.choice(np.array([-1.0, 1.0], np.float32), size=n)
            else:
                val = rng.uniform(-1.0, 1.0, size=n).astype(np.float32)
            w[np.arange(n), perm] = val
        return w
    if spec.graph == "regular":  # each parent: a uniformly random d-subset of children
        keys = rng.random((n, n))
        children = np.argpartition(keys, d - 1, axis=1)[:, :d]
        mask = np.zeros((n, n), bool)
        mask[np.arange(n)[:, None], children] = True
    else:
        mask = rng.random((n, n)) < d / n
    if spec.weights == "pm1":
        w = rng.choice(np.array([-1.0, 1.0], np.float32), size=(n, n))
    elif spec.weights == "balanced":  # +-1, exactly ceil(d/2) positive edges per parent
        rank = np.argsort(np.argsort(np.where(mask, rng.random((n, n)), 2.0), axis=1), axis=1)
        w = np.where(rank < (d + 1) // 2, 1.0, -1.0).astype(np.float32)
    else:
        w = rng.uniform(-1.0, 1.0, size=(n, n)).astype(np.float32)
    return np.where(mask, w, 0.0).astype(np.float32)


def _disjoint_permutations(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """d permutations of range(n) with no (i, perm[i]) pair shared: a d-biregular bipartite graph (every unit
    has exactly d parents and d children). Collisions of a new random permutation are repaired by swaps."""
    used = np.zeros((n, n), bool)
    perms = []
    for _ in range(d):
        perm = rng.permutation(n)
        for _ in range(100 * n):
            bad = np.flatnonzero(used[np.arange(n), perm])
            if len(bad) == 0:
                break
            i, j = int(bad[0]), int(rng.integers(n))
            if not used[i, perm[j]] and not used[j, perm[i]]:
                perm[i], perm[j] = perm[j], perm[i]
        else:
            raise DataError(f"--graph biregular: could not draw {d} disjoint matchings on n={n}; lower --degree")
        used[np.arange(n), perm] = True
        perms.append(perm)
    return np.array(perms)


# --- storage: a net directory holds spec.json and net.npz (plus samples, written by the CLI) ---

def save_net(net: DeepNet, directory: str | Path) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    _atomic_json(d / "spec.json", asdict(net.spec))
    _atomic_npz(d / "net.npz", **{f"W{k + 1}": w for k, w in enumerate(net.weights)})


def load_net(directory: str | Path) -> DeepNet:
    d = Path(directory)
    spec_path, net_path = d / "spec.json", d / "net.npz"
    for p in (spec_path, net_path):
        if not p.is_file():
            raise DataError(f"{p}: missing; write a net with `deeplearn arora generate --out {d}`")
    try:
        spec = NetSpec(**json.loads(spec_path.read_text()))
        with np.load(net_path) as z:
            weights = [z[f"W{k + 1}"].astype(np.float32) for k in range(spec.depth)]
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise DataError(f"{d}: spec.json / net.npz unreadable ({e}); regenerate it") from None
    for k, w in enumerate(weights):
        if w.shape != (spec.n, spec.n):
            raise DataError(f"{net_path}: W{k + 1} has shape {w.shape}, expected ({spec.n}, {spec.n})")
    return DeepNet(spec, weights)


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def _atomic_npz(path: Path, **arrays) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def save_samples(path: Path, layers: list[sp.csr_matrix]) -> None:
    """Layers of samples as one .npz of sparse matrices (layer k under the keys k_data, k_indices, ...)."""
    arrays = {}
    for k, m in enumerate(layers):
        m = m.tocsr()
        arrays.update({f"{k}_data": m.data.astype(np.uint8), f"{k}_indices": m.indices,
                       f"{k}_indptr": m.indptr, f"{k}_shape": np.array(m.shape)})
    _atomic_npz(path, **arrays)


def load_samples(path: Path) -> list[sp.csr_matrix]:
    if not Path(path).is_file():
        raise DataError(f"{path}: missing; write samples with `deeplearn arora generate --out DIR`")
    try:
        with np.load(path) as z:
            layers, k = [], 0
            while f"{k}_shape" in z:
                layers.append(sp.csr_matrix((z[f"{k}_data"].astype(np.float32), z[f"{k}_indices"],
                                             z[f"{k}_indptr"]), shape=tuple(z[f"{k}_shape"])))
                k += 1
    except (ValueError, KeyError, OSError) as e:
        raise DataError(f"{path}: unreadable samples ({e}); regenerate them") from None
    if not layers:
        raise DataError(f"{path}: holds no sample layers")
    return layers
