"""The lecture's neural lemma ranker (DeepMath: Alemi et al., NeurIPS 2016): the conjecture and each premise are
embedded by two separately weighted encoders (LSTM, GRU, CNN or CNN->LSTM over tokens or characters), a head
combines the two embeddings into a usefulness logit, and premises are ranked by it.

`model.py` (the three parts), `encoders.py` and `heads.py` (their variants), `encoding.py` (input ids), `data.py` (training pairs), `task.py` (the engine Task),
`train.py` (`premises train`, hard-negative mining), `ranker.py` (`--method neural --model RUN`, cached ranking).
"""

from deeplearn.premises.neural.ranker import NeuralRanker

__all__ = ["NeuralRanker"]
