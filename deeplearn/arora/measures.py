"""Recovery measures of a learned net against the true one.

Hidden units carry no names, so learned units are matched to true ones, layer by layer from the bottom, by
the Hungarian algorithm (scipy.optimize.linear_sum_assignment) on the Jaccard similarity of their positive
child sets, the children written in the true labels (observed units are labelled alike in both nets; a
higher layer's children are mapped through the matching of the layer below). Then per layer:

- positive / negative edge precision, recall and F1 (an edge is right when its matched parent, mapped child
  and sign agree with the true net);
- the fraction of true units whose matched unit has exactly the true positive child set (and the true
  positive and negative sets);
- `identifiable`: true units with at least 3 positive children (smaller ones form no triangle of the
  correlation graph, so no pairwise-statistics learner can see them);
- decoding error on held-out samples: the fraction of (sample, matched unit) entries decoded wrong, and the
  fraction of samples whose whole layer is decoded exactly.

Every score is invariant under relabelling the hidden units of either net (tested).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from deeplearn.arora.learn import LearnedNet
from deeplearn.arora.model import DeepNet


def jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(p, n) bool x (q, n) bool -> (p, q) Jaccard similarity of the rows."""
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    inter = a32 @ b32.T
    union = a32.sum(1)[:, None] + b32.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def match_units(true_pos: np.ndarray, learned_pos: np.ndarray) -> np.ndarray:
    """Hungarian matching on child sets (both in the true child labels).

    Returns:
        (m_learned,) int: the true unit each learned unit is matched to, -1 if none (or Jaccard 0).
    """
    sim = jaccard(learned_pos, true_pos)  # (m_learned, m_true)
    assign = np.full(learned_pos.shape[0], -1, dtype=np.int64)
    if sim.size == 0:
        return assign
    rows, cols = linear_sum_assignment(-sim)
    ok = sim[rows, cols] > 0
    assign[rows[ok]] = cols[ok]
    return assign


def _to_true_children(mat: np.ndarray, child_map: np.ndarray | None, n_true: int) -> np.ndarray:
    """Rewrite a learned (m, n_learned_child) edge matrix in true child labels; unmatched children dropped."""
    if child_map is None:
        return mat
    out = np.zeros((mat.shape[0], n_true), bool)
    ok = child_map >= 0
    out[:, child_map[ok]] = mat[:, ok]
    return out


def _prf(tp: int, n_learned: int, n_true: int) -> dict:
    precision = tp / n_learned if n_learned else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true": int(n_true), "learned": int(n_learned),
            "correct": int(tp)}


def score(true: DeepNet, learned: LearnedNet, heldout: list[sp.csr_matrix] | None = None) -> dict:
    """All measures, one dict per layer (bottom first) plus an overall `exact` flag.

    Args:
        heldout: held-out samples of every true layer [y, h(1), ..., h(L)] (from DeepNet.sample), for the
            decoding error; None to skip it.
    """
    layers, child_map = [], None
    decoded = learned.decode(heldout[0]) if heldout is not None else None
    for k in range(1, true.depth + 1):
        tp_true, tn_true = true.positive(k), true.negative(k)
        n_child = tp_true.shape[1]
        if k - 1 < len(learned.layers):
            lay = learned.layers[k - 1]
            lp = _to_true_children(lay.pos, child_map, n_child)
            ln = _to_true_children(lay.neg, child_map, n_child)
        else:  # the learner stopped below this layer
            lp = ln = np.zeros((0, n_child), bool)
        assign = match_units(tp_true, lp)
        row = _layer_scores(tp_true, tn_true, lp, ln, assign)
        if decoded is not None and k - 1 < len(decoded):
            row.update(_decoding(heldout[k], decoded[k - 1], assign))
        layers.append(row)
        child_map = assign
    exact = all(r["positive"]["f1"] == 1.0 and r["negative"]["f1"] == 1.0 for r in layers)
    return {"layers": layers, "exact": exact,
            "positive_exact": all(r["positive"]["f1"] == 1.0 for r in layers)}


def _layer_scores(tp_true, tn_true, lp, ln, assign) -> dict:
    ok = assign >= 0
    pos_hit = (lp[ok] & tp_true[assign[ok]]).sum() if ok.any() else 0
    neg_hit = (ln[ok] & tn_true[assign[ok]]).sum() if ok.any() else 0
    m_true = tp_true.shape[0]
    exact_pos = np.zeros(m_true, bool)
    exact_all = np.zeros(m_true, bool)
    if ok.any():
        same_pos = (lp[ok] == tp_true[assign[ok]]).all(1)
        same_neg = (ln[ok] == tn_true[assign[ok]]).all(1)
        exact_pos[assign[ok]] = same_pos
        exact_all[assign[ok]] = same_pos & same_neg
    ident = tp_true.sum(1) >= 3
    return {"positive": _prf(int(pos_hit), int(lp.sum()), int(tp_true.sum())),
            "negative": _prf(int(neg_hit), int(ln.sum()), int(tn_true.sum())),
            "true_units": int(m_true), "learned_units": int(lp.shape[0]), "matched_units": int(ok.sum()),
            "identifiable_units": int(ident.sum()),
            "exact_children_fraction": float(exact_pos.mean()) if m_true else 0.0,
            "exact_children_identifiable": float(exact_pos[ident].mean()) if ident.any() else 0.0,
            "exact_all_edges_fraction": float(exact_all.mean()) if m_true else 0.0}


def _decoding(h_true: sp.csr_matrix, h_dec: sp.csr_matrix, assign: np.ndarray) -> dict:
    """Entry error rate and exact-sample fraction of decoded held-out hidden values on matched units; true
    units with no match count as decoded all-zero."""
    t = np.asarray(h_true.todense(), bool)  # (N, m_true)
    d = np.zeros_like(t)
    ok = assign >= 0
    if ok.any():
        d[:, assign[ok]] = np.asarray(h_dec.todense(), bool)[:, ok]
    wrong = t != d
    return {"decode_error_rate": float(wrong.mean()), "decode_exact_samples": float((~wrong.any(1)).mean()),
            "decode_true_density": float(t.mean())}


def coactivation_gap(true_y: sp.csr_matrix, model_y: sp.csr_matrix) -> float:
    """Relative Frobenius distance between the observed co-activation matrices E[y y^T] of two sample sets."""
    a = np.asarray((true_y.T @ true_y).todense(), np.float64) / true_y.shape[0]
    b = np.asarray((model_y.T @ model_y).todense(), np.float64) / model_y.shape[0]
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-300))


def summary_line(scores: dict) -> str:
    parts = []
    for k, r in enumerate(scores["layers"], 1):
        s = (f"L{k}: units {r['learned_units']}/{r['true_units']} pos F1 {r['positive']['f1']:.3f} "
             f"neg F1 {r['negative']['f1']:.3f} exact {r['exact_children_fraction']:.3f}")
        if "decode_error_rate" in r:
            s += f" dec.err {r['decode_error_rate']:.2e}"
        parts.append(s)
    return " | ".join(parts)
