"""The fast sampling and evaluation paths (issue 13, problem 10) give what the plain paths give: the same
characters for a seed, per-step probabilities to 1e-5, the same loss to 1e-4."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from deeplearn.text.data import EvalStreams, Vocab
from deeplearn.text.model import CharRNN
from deeplearn.text.sample import LSTMStepper, generate, next_id
from deeplearn.text.task import TextTask

VOCAB = Vocab("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@torch.no_grad()
def reference_generate(model, vocab, length, temperature=1.0, top_k=None, prime="", seed=0):
    """The previous implementation: one full model call per character."""
    gen = torch.Generator().manual_seed(seed)
    prime = prime or "\n"
    logits, state = model(vocab.encode(prime)[None], None)
    out = []
    for _ in range(length):
        i = next_id(logits[0, -1].float(), temperature, top_k, gen)
        out.append(vocab.chars[i])
        logits, state = model(torch.tensor([[i]]), state)
    return "".join(out)


def model(cell="lstm", layers=2, hidden=48, embed=16, seed=0):
    torch.manual_seed(seed)
    m = CharRNN(len(VOCAB), hidden, layers, cell, embed).eval()
    with torch.no_grad():
        for p in m.parameters():  # larger weights than the init: peaked, state-dependent predictions
            p.mul_(3.0)
    return m


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_stepper_logits_equal_the_model_to_1e5(layers):
    m = model(layers=layers)
    ids = VOCAB.encode("ROMEO: But soft, what light through yonder window breaks?")
    ref, _ = m(ids[None], None)  # (1, T, V)
    stepper = LSTMStepper(m)
    h = [torch.zeros(1, m.hidden) for _ in range(layers)]
    c = [torch.zeros(1, m.hidden) for _ in range(layers)]
    for t, i in enumerate(ids.tolist()):
        logits = stepper.step(i, h, c)
        assert torch.allclose(torch.softmax(logits[0], 0), torch.softmax(ref[0, t], 0), atol=1e-5)
        assert int(logits.argmax()) == int(ref[0, t].argmax())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("temperature,top_k,prime", [(0.0, None, "ROMEO:"), (1.0, None, ""), (0.8, 5, "A"),
                                                     (1.3, None, "The ")])
def test_sampling_equals_the_plain_loop_for_a_seed(cell, temperature, top_k, prime):
    m = model(cell)
    for seed in (0, 1):
        fast = "".join(generate(m, VOCAB, 300, temperature, top_k, prime, seed))
        assert fast == reference_generate(m, VOCAB, 300, temperature, top_k, prime, seed)


def test_sampling_leaves_grad_mode_alone():
    m = model()
    chars = generate(m, VOCAB, 3)
    next(chars)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


@torch.no_grad()
def reference_loss(task, m, source):
    """The previous evaluation loop: one call per seq_len chunk, state carried."""
    loss, count, state = 0.0, 0, None
    for x, y, reset in source.iter_epoch(0):
        logits, state = m(x, None if bool(reset[0]) else state)
        loss += float(F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum"))
        count += int((y >= 0).sum())
    return loss / count


@pytest.mark.parametrize("streams,seq_len", [(32, 256), (4, 37), (1, 1000), (7, 5)])
def test_evaluate_loss_equals_the_chunk_by_chunk_loop(streams, seq_len):
    m = model()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, len(VOCAB), (20_011,), generator=g)
    task = TextTask(m, None, {}, {"carry_state": True}, {})
    source = EvalStreams(ids, streams, seq_len)
    sums = task.evaluate(m, source, torch.device("cpu"))
    assert int(sums["count"]) == len(ids) - 1 and not sums["loss"].is_inference()
    assert abs(task.summarize(sums)["loss"] - reference_loss(task, m, source)) < 1e-4


def test_evaluate_without_carried_state_resets_every_chunk():
    m = model()
    ids = torch.randint(0, len(VOCAB), (3_000,), generator=torch.Generator().manual_seed(1))
    source = EvalStreams(ids, 4, 50)
    carried = TextTask(m, None, {}, {"carry_state": True}, {}).evaluate(m, source, torch.device("cpu"))
    task = TextTask(m, None, {}, {"carry_state": False}, {})
    reset = task.summarize(task.evaluate(m, source, torch.device("cpu")))["loss"]
    expect, n = 0.0, 0
    with torch.no_grad():
        for x, y, _ in source.iter_epoch(0):
            expect += float(F.cross_entropy(m(x, None)[0].flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum"))
            n += int((y >= 0).sum())
    assert abs(reset - expect / n) < 1e-6 and abs(float(carried["loss"]) / n - expect / n) > 1e-4


@pytest.mark.parametrize("n,streams,seq_len,burn_in", [(1_001, 8, 16, 50), (20_011, 32, 256, 256), (500, 3, 7, 0),
                                                       (300, 16, 4, 1_000)])
def test_each_prediction_is_counted_once_after_its_burn_in(n, streams, seq_len, burn_in):
    ids = torch.randint(0, 50, (n,), generator=torch.Generator().manual_seed(2))
    s = EvalStreams(ids, streams, seq_len, burn_in=burn_in)
    counted = s.y >= 0
    assert int(counted.sum()) == n - 1
    # a counted target follows its input in the text, and the targets counted are the text's, in order
    assert torch.equal(s.y[counted], ids[1:]) and torch.equal(s.x[counted], ids[:-1])
    first = s.y[1:].ne(-1).int().argmax(1) if len(s.y) > 1 else None
    if first is not None and burn_in and n - 1 > burn_in + streams:
        assert int(first.min()) == min(burn_in, n - 1)


def test_a_burn_in_brings_many_pieces_close_to_one_stream():
    torch.manual_seed(0)
    m = CharRNN(len(VOCAB), 32, 1, "lstm").eval()
    ids = torch.randint(0, len(VOCAB), (6_000,), generator=torch.Generator().manual_seed(3))
    task = TextTask(m, None, {}, {"carry_state": True}, {})
    loss = lambda **kw: task.summarize(task.evaluate(m, EvalStreams(ids, seq_len=64, **kw), torch.device("cpu")))["loss"]  # noqa
    one = loss(streams=1)
    cold, warm = abs(loss(streams=64) - one), abs(loss(streams=64, burn_in=64) - one)
    assert warm < 1e-5 and warm < cold / 10, (cold, warm)
