"""Options of `deeplearn arora train` (one layer of the SGD baseline's sparse autoencoder); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from deeplearn.engine.options import defaults_of, fraction, non_negative, opt, positive


@dataclass
class AutoencoderOptions:
    """A sparse autoencoder x -> h = sigmoid(E x + a) -> x^ = sigmoid(D h + b) of one layer."""

    samples: str | None = opt(None, "an .npz of 0/1 samples (train.npz of `arora generate`, or codes.npz of "
                                    "the layer below)", positional=True, shown="none")
    hidden: int | None = opt(None, "hidden units; as many as inputs is the true shape", shown="= inputs",
                             check=positive)
    l1: float = opt(1e-3, "weight of the L1 sparsity penalty on the hidden activity", check=non_negative)
    val_fraction: float = opt(0.1, "last part of the samples held out for validation", check=fraction)
    max_samples: int | None = opt(None, "use at most this many samples", shown="all", check=positive)


TASK_DEFAULTS = defaults_of(AutoencoderOptions)
