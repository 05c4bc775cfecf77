"""The lecture's slide groups, in the order of its text (Szegedy and Irving, "Deep Learning Introduction";
../shared/lecture/). A Section's `slide` is one of these ids; the report orders sections by it."""

from __future__ import annotations

# (id, heading of the slide group in the lecture)
SLIDES = [
    ("supervised", "Supervised learning; traditional machine learning against deep learning"),
    ("tractable", "Provably tractable deep learning: sum-product networks and Arora et al.'s learner"),
    ("feedforward", "Classical feed-forward nets: tanh replaced by ReLU"),
    ("sgd", "Optimizing the parameters: gradient descent, stochastic minibatches, the chain rule"),
    ("real-life", "Real-life deep network training: optimizers, replicas, hyperparameters"),
    ("convnets", "Convolutional networks: spatial parameter sharing; low-level features learned"),
    ("deepdream", "DeepDream: visualizing internal feature representations"),
    ("imagenet", "The Cambrian explosion: Zeiler-Fergus, Inception, batch normalization"),
    ("detection", "Object detection: deformable parts (36 % mAP) against deep learning (78 % mAP)"),
    ("style", "Style transfer and neural doodles"),
    ("recurrent", "Recurrent nets and generative models of text (LSTM writing LaTeX)"),
    ("frameworks", "Open-source deep learning frameworks: automatic differentiation"),
    ("premises", "Deep learning for lemma selection"),
]

SLIDE_IDS = [s for s, _ in SLIDES]


def slide_index(slide: str) -> int:
    """Position of a slide group in the lecture; unknown ones go last."""
    return SLIDE_IDS.index(slide) if slide in SLIDE_IDS else len(SLIDE_IDS)


def slide_title(slide: str) -> str:
    return dict(SLIDES).get(slide, slide)
