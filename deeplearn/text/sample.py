"""Sampling text from a trained model, one character at a time (as char-rnn does).

temperature T divides the logits before the softmax (T -> 0 approaches the greedy argmax, which T = 0 gives
exactly; T > 1 flattens the distribution); top-k keeps only the k likeliest characters. A seed fixes the draws.

Speed: the priming text is read in one call of the model; after that each character is one step of the cell
with the state carried. For an LSTM the step uses nn.LSTM's own weights directly (`LSTMStepper`): the first
layer's input projection of every character is precomputed (embedding x W_ih + biases, a V x 4H table), each
layer is one or two matrix-vector products plus five element-wise ops, under inference mode; about 10x fewer
Python and dispatch costs than a full `nn.LSTM` call per character (benchmarks/text_speed_user.py).
"""

from __future__ import annotations

from typing import Iterator

import torch

from deeplearn.paths import DataError
from deeplearn.text.data import Vocab
from deeplearn.text.model import CharRNN


def next_id(logits: torch.Tensor, temperature: float, top_k: int | None, gen: torch.Generator) -> int:
    """Draw the next character id from the logits (V,) of the last position."""
    if temperature <= 0:
        return int(logits.argmax())
    logits = logits.double() / temperature  # float64: T = 1e-6 must not overflow to inf / nan
    if top_k is not None and 0 < top_k < len(logits):
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=0)
    return int(torch.multinomial(probs, 1, generator=gen))


class LSTMStepper:
    """One character at a time through a CharRNN whose cell is an LSTM (eval mode: no dropout).

    Gate order and equations are nn.LSTM's: gates = W_ih x + b_ih + W_hh h + b_hh = [i, f, g, o];
    c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c'). Results equal the model's to float
    rounding (tested to 1e-5 against `model(x, state)`).
    """

    def __init__(self, model: CharRNN):
        rnn = model.rnn
        if model.cell != "lstm" or rnn.proj_size or rnn.bidirectional:
            raise ValueError("LSTMStepper needs a plain unidirectional LSTM")
        self.hidden = rnn.hidden_size
        with torch.no_grad():
            w = [(getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}"),
                  getattr(rnn, f"bias_ih_l{k}") + getattr(rnn, f"bias_hh_l{k}")) for k in range(rnn.num_layers)]
            self.table = torch.addmm(w[0][2], model.embed.weight, w[0][0].t())  # (V, 4H)
            self.w_hh = [whh.t().contiguous() for _, whh, _ in w]  # (H, 4H) each
            self.w_ih = [None] + [wih.t().contiguous() for wih, _, _ in w[1:]]
            self.bias = [None] + [b[None] for _, _, b in w[1:]]  # (1, 4H)
            self.head_w, self.head_b = model.head.weight.t().contiguous(), model.head.bias[None]

    def step(self, i: int, h: list, c: list) -> torch.Tensor:
        """Read character id `i`; update the per-layer states h, c (lists of (1, H)) in place; logits (1, V)."""
        H = self.hidden
        x = None
        for k in range(len(h)):
            if k == 0:
                g = torch.addmm(self.table[i:i + 1], h[0], self.w_hh[0])
            else:
                g = torch.addmm(self.bias[k], x, self.w_ih[k]).addmm_(h[k], self.w_hh[k])
            s = torch.sigmoid(g)
            c[k] = torch.addcmul(s[:, H:2 * H] * c[k], s[:, :H], torch.tanh(g[:, 2 * H:3 * H]))
            h[k] = x = s[:, 3 * H:] * torch.tanh(c[k])
        return torch.addmm(self.head_b, x, self.head_w)


@torch.inference_mode()
def generate(model: CharRNN, vocab: Vocab, length: int, temperature: float = 1.0, top_k: int | None = None,
             prime: str = "", seed: int = 0) -> Iterator[str]:
    """Yield `length` new characters as they are made (the priming text is read, not repeated).

    Without a priming text the model starts from a newline (or, if the vocabulary has none, its first character).
    The draws are those of the one-model-call-per-character loop for the same seed (the same generator calls on
    logits equal to float rounding).
    """
    gen = torch.Generator().manual_seed(seed)
    if not prime:
        prime = "\n" if "\n" in vocab.index else vocab.chars[0]
    ids = vocab.encode(prime, what="the priming text")
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(ids.to(device)[None], None)  # read the whole priming text in one call
    logits = logits[0, -1:]
    if model.cell == "lstm" and not model.rnn.proj_size:
        stepper = LSTMStepper(model)
        h, c = list(state[0].unbind(0)), list(state[1].unbind(0))  # per layer (1, H)
        for _ in range(length):
            i = next_id(logits[0].float().cpu(), temperature, top_k, gen)
            yield vocab.chars[i]
            logits = stepper.step(i, h, c)
        return
    for _ in range(length):  # GRU / vanilla RNN: one model call per character
        i = next_id(logits[0].float().cpu(), temperature, top_k, gen)
        yield vocab.chars[i]
        logits, state = model(torch.tensor([[i]], device=device), state)
        logits = logits[0]


def check_options(length: int, temperature: float, top_k: int | None) -> None:
    if length < 0:
        raise DataError(f"--length must be >= 0, not {length}")
    if temperature < 0:
        raise DataError(f"--temperature must be >= 0 (0 = greedy), not {temperature}")
    if top_k is not None and top_k < 1:
        raise DataError(f"--top-k must be >= 1, not {top_k}")
