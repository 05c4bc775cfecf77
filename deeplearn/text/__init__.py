"""Recurrent nets and the lecture's generative model of text: a character-level LSTM (Karpathy 2015, char-rnn)."""
