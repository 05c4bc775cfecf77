"""Arora, Bhaskara, Ge and Ma (ICML 2014, arXiv 1310.6343), "Provable Bounds for Learning Some Deep
Representations": the random sparse deep generative net and its layer-wise provable learner.

- `model`: the generative model (Section 2 of the paper): layers h(L) -> ... -> h(1) -> y of 0/1 units, a
  sparse random top layer, random sparse bipartite graphs of degree d with +-1 (basic) or [-1, 1] (general)
  weights and a threshold.
- `learn`: the layer-wise learner (the paper's Algorithm 1): correlation graph from pairwise co-activations,
  graph recovery (the graph square root, Algorithm RecoverGraph, with the 3-wise variant), decoding of the
  hidden layer (PartialEncoder), negative edges, repeated one layer up.
- `measures`: recovery scores against the true net (Hungarian matching of hidden units on child sets).
- `experiment`: the theorem's shape as pictures (success vs samples, degree, sparsity; time vs n).
- `sgd`: deep learning as usually done (a layer-wise sparse autoencoder trained through the engine), scored by
  the same measures.
"""
