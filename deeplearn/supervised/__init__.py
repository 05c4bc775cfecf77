"""The lecture's first system: supervised learning (data S, model f, metric sigma, loss), trained by the engine."""
