"""The char-level recurrent model: TBPTT data, carried state, sampling, UTF-8, exact resume, clear errors."""

import gzip
import json
import math
import random

import pytest
import torch

from deeplearn.cli import main
from deeplearn.engine import TrainConfig, fit, setup
from deeplearn.engine import checkpoint as ckpt
from deeplearn.paths import DataError
from deeplearn.text.data import EvalStreams, StreamSource, Vocab, read_text
from deeplearn.text.model import CharRNN
from deeplearn.text.sample import generate
from deeplearn.text.task import build_task

UNICODE = "Ünïcödé ❤ 日本語, ελληνικά 🙂 and ascii.\n"


def _train(tmp_path, name, text, steps, *, task=None, resume=False, on_step_end=None, **train):
    path = tmp_path / "corpus.txt"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    opts = {"file": str(path), "hidden": 32, "layers": 1, "seq_len": 8, "eval_streams": 1, **(task or {})}
    cfg = {"steps": steps, "batch_size": 8, "optimizer": "adam", "lr": 1e-2, "eval_every": steps,
           "progress": "none", "threads": 1, **train}
    c = TrainConfig(**cfg)
    rt = setup(c)
    t = build_task(opts, rt, c.batch_size, c.seed)
    summary = fit(t, c, rt, tmp_path / name, resume=resume, on_step_end=on_step_end)
    return t, summary


def test_vocabulary_round_trips_non_ascii_text():
    v = Vocab.of(UNICODE)
    ids = v.encode(UNICODE)
    assert v.decode(ids) == UNICODE
    assert len(v) == len(set(UNICODE)) and "🙂" in v.chars  # a code point outside the BMP is one character
    with pytest.raises(DataError, match="'Z'"):
        v.encode("Z")


def test_gzip_and_plain_files_read_the_same(tmp_path):
    (tmp_path / "a.txt").write_text(UNICODE, encoding="utf-8")
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(UNICODE.encode()))
    assert read_text(tmp_path / "a.txt") == read_text(tmp_path / "a.txt.gz") == UNICODE


def test_tbptt_batches_are_consecutive_chunks_of_each_stream_and_replicas_split_them():
    ids = torch.arange(1000)
    src = StreamSource(ids, streams=4, seq_len=10, seed=3)
    batches = list(src.iter_epoch(0))
    assert len(batches) == src.batches_per_epoch() > 2
    for (x0, y0, r0), (x1, _, r1) in zip(batches, batches[1:]):
        assert torch.equal(y0, x0 + 1)  # the target is the next character
        assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # the next chunk continues each stream
        assert not r1[0]
    assert batches[0][2][0]  # the stream (re)starts: the state must be reset
    assert [b[0].tolist() for b in src.iter_epoch(0, start=2)] == [b[0].tolist() for b in batches[2:]]
    assert not torch.equal(next(src.iter_epoch(1))[0], batches[0][0])  # epochs start at another offset
    halves = [list(StreamSource(ids, 4, 10, seed=3, rank=r, world=2).iter_epoch(0)) for r in (0, 1)]
    assert torch.equal(torch.cat([halves[0][5][0], halves[1][5][0]]).sort(0).values, batches[5][0].sort(0).values)


def test_evaluation_predicts_every_character_exactly_once():
    ids = torch.arange(1, 101)
    src = EvalStreams(ids, streams=3, seq_len=7)
    ys = torch.cat([b[1] for b in src.iter_epoch(0)], 1)
    assert sorted(ys[ys >= 0].tolist()) == list(range(2, 101))


def test_carrying_the_state_across_chunks_beats_resetting_it_on_a_long_range_dependency(tmp_path):
    # "k------k\n": the second k repeats the first, 7 characters later; chunks are 5 characters long, so only a
    # state carried across chunks can know k (and where the dashes end).
    rng = random.Random(0)
    text = "".join((k := rng.choice("abcd")) + "-" * 6 + k + "\n" for _ in range(600))
    loss = {}
    for carry in (True, False):
        _, s = _train(tmp_path, f"carry-{carry}", text, 400, batch_size=16,
                      task={"seq_len": 5, "carry_state": carry})
        loss[carry] = s["final"]["val_loss"]
    assert loss[True] < loss[False] - 0.1, loss


def test_a_tiny_non_ascii_text_is_learned_to_near_zero_loss_and_sampled_back(tmp_path):
    text = UNICODE * 60
    task, s = _train(tmp_path, "tiny", text, 250)
    assert s["final"]["val_loss"] < 0.05, s["final"]
    vocab = Vocab(task.meta["vocab"])
    out = "".join(generate(task.model, vocab, 2 * len(UNICODE), temperature=0, prime="Ün"))
    assert ("Ün" + out).startswith(UNICODE + "Ün")  # greedy decoding reproduces the text, emoji included


def _random_model(vocab_size=20):
    torch.manual_seed(0)
    return CharRNN(vocab_size, hidden=16, layers=2, cell="lstm")


def test_sampling_with_a_seed_is_deterministic():
    model, vocab = _random_model(), Vocab("abcdefghijklmnopqrs\n")
    a = "".join(generate(model, vocab, 80, temperature=1.0, seed=7))
    b = "".join(generate(model, vocab, 80, temperature=1.0, seed=7))
    c = "".join(generate(model, vocab, 80, temperature=1.0, seed=8))
    assert a == b and a != c


def test_temperature_towards_zero_equals_greedy_argmax_and_top_k_limits_choices():
    model, vocab = _random_model(), Vocab("abcdefghijklmnopqrs\n")
    greedy = "".join(generate(model, vocab, 60, temperature=0, prime="abc"))
    cold = "".join(generate(model, vocab, 60, temperature=1e-6, prime="abc", seed=3))
    warm = "".join(generate(model, vocab, 60, temperature=1.0, prime="abc", seed=3))
    top1 = "".join(generate(model, vocab, 60, temperature=1.0, top_k=1, prime="abc", seed=3))
    assert cold == greedy == top1
    assert warm != greedy


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_every_cell_trains(tmp_path, cell):
    _, s = _train(tmp_path, cell, "abcabd" * 100, 60, task={"cell": cell, "layers": 2, "dropout": 0.1})
    assert s["final"]["val_loss"] < math.log(4) / 2  # well under the 1.39 nats of guessing among a,b,c,d


class Crash(Exception):
    pass


def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path):
    text = (UNICODE + "the quick brown fox jumps over the lazy dog\n") * 8
    opts = dict(task={"layers": 2, "dropout": 0.2, "seq_len": 8}, batch_size=4, checkpoint_every=5,
                eval_every=10, log_every=3, lr=3e-3, schedule="cosine", warmup_steps=3)
    straight, _ = _train(tmp_path, "straight", text, 40, **opts)
    assert straight.train.batches_per_epoch() < 40  # the run crosses an epoch boundary (a state reset)

    def crash(step):
        if step == 23:  # between the checkpoints of steps 20 and 25, mid-epoch: a carried state to restore
            raise Crash()

    with pytest.raises(Crash):
        _train(tmp_path, "crashed", text, 40, on_step_end=crash, **opts)
    saved = ckpt.load(tmp_path / "crashed/checkpoints/last.pt")
    assert saved["state"]["step"] == 20 and len(saved["task"]["state"]) == 2  # (h, c) saved
    resumed, _ = _train(tmp_path, "crashed", text, 40, resume=True, **opts)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit
    assert all(torch.equal(x, y) for x, y in zip(straight.state, resumed.state))
    rows = lambda d: [{k: v for k, v in json.loads(r).items() if not k.endswith("_per_s")}  # noqa: E731
                      for r in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
    assert rows("straight") == rows("crashed")


def test_cli_train_sample_evaluate_on_a_gzip_file(tmp_path, capsys):
    path = tmp_path / "u.txt.gz"
    path.write_bytes(gzip.compress((UNICODE * 30).encode()))
    run = tmp_path / "run"
    assert main(["text", "train", str(path), "--out", str(run), "--hidden", "24", "--layers", "1", "--seq-len",
                 "16", "--batch-size", "4", "--steps", "40", "--progress", "none", "--threads", "1"]) == 0
    capsys.readouterr()
    assert main(["text", "sample", str(run), "--length", "50", "--prime", "日本", "--seed", "1", "--top-k", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("日本") and len(out.rstrip("\n")) >= 50 and set(out) <= set(UNICODE)
    assert main(["text", "evaluate", str(run), str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["characters"] == len(UNICODE) * 30 and 0 < result["bits_per_char"] < math.log2(len(set(UNICODE)))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"caf\xe9 latin-1", "not UTF-8"),
    ("short text".encode(), "fewer than one sequence"),
])
def test_bad_training_files_give_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert main(["text", "train", str(path), "--out", str(tmp_path / "run"), "--seq-len", "64", "--steps", "1",
                 "--progress", "none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deeplearn: error:") and "bad.txt" in err and message in err
    assert "Traceback" not in err


def test_a_priming_character_outside_the_vocabulary_gives_a_clear_error(tmp_path, capsys):
    _train(tmp_path, "run", "abcabc" * 50, 5)
    assert main(["text", "sample", str(tmp_path / "run"), "--prime", "abz", "--length", "5"]) == 2
    err = capsys.readouterr().err
    assert "priming text" in err and "'z'" in err


def test_tiny_shakespeare_is_read_with_the_usual_split(shared_data):
    path = shared_data / "text" / "tinyshakespeare.txt"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    opts = {"file": str(path), "hidden": 8, "layers": 1}
    task = build_task(opts, setup(TrainConfig(threads=1)), 64, 0)
    assert len(task.meta["vocab"]) == 65
    assert (task.meta["num_train"], task.meta["num_val"]) == (1_003_854, 111_540)  # nanoGPT's 90/10 split


def test_a_time_budget_anneals_the_learning_rate_to_its_minimum_when_the_budget_ends(tmp_path, capsys):
    path = tmp_path / "t.txt"
    path.write_text("abcabd" * 300)
    run = tmp_path / "run"
    assert main(["text", "train", str(path), "--out", str(run), "--hidden", "16", "--layers", "1", "--seq-len",
                 "16", "--batch-size", "4", "--max-time", "1.5", "--lr", "0.01", "--min-lr", "0.0001",
                 "--warmup-steps", "5", "--log-every", "5", "--eval-every", "40", "--progress", "none",
                 "--threads", "1"]) == 0
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "time_budget" and len(rows) > 5
    lrs = [r["lr"] for r in rows]
    assert max(lrs) > 0.008 and lrs[-1] < 0.0015  # the cosine reached (nearly) min_lr as the time ran out
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:]))  # and fell monotonically after the warm-up
    assert [r for r in rows if "val_loss" in r][-1]["step"] == summary["steps"]  # the final weights were evaluated


def test_final_weights_that_beat_every_evaluation_become_best(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabd" * 300)
    run = tmp_path / "run"
    assert main(["text", "train", str(path), "--out", str(run), "--hidden", "16", "--layers", "1", "--seq-len",
                 "16", "--batch-size", "4", "--max-time", "1", "--eval-every", "7", "--lr", "0.01",
                 "--progress", "none", "--threads", "1"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "time_budget"  # it stopped between evaluations (6 times in 7)
    evals = {r["step"]: r["val_loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if "val_loss" in r}
    assert summary["steps"] in evals  # the engine evaluated the final weights when the budget ran out
    best_step = min(evals, key=evals.get)
    assert ckpt.load(run / "checkpoints/best.pt")["state"]["step"] == best_step == summary["best"]["step"]
