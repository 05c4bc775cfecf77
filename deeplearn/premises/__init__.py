"""Lemma selection (the lecture's last system): TPTP, the MPTP2078 Mizar corpus, the E prover, ranking baselines.

Modules: `tptp` (AST + parser), `printer` (AST -> TPTP), `features` (symbols, MaSh features, model tokens),
`corpus` (MPTP2078 and TPTP problem directories), `prover` (E runner + cache), `ranker` (the `Ranker`
interface and registry), `sine`, `mepo`, `knn`, `nb` (baselines), `evaluate` (split, metrics, proof rates),
`commands` (the `deeplearn premises` CLI).
"""
