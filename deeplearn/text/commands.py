"""Commands of the text system: `deeplearn text train | sample | evaluate`."""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch

from deeplearn.engine import config as engine_config
from deeplearn.text.schedule import TimeCosine

# Defaults of `text train`: Adam with a cosine decay; 32 streams, since on a 2-core CPU batch 32 trains as many
# characters/s as 64 and gives twice the updates (docs/text.md has the sweep behind these numbers).
TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "optimizer": "adam", "lr": 4e-3, "schedule": "cosine",
                  "warmup_steps": 50, "min_lr": 1e-4, "clip_grad": 1.0, "eval_every": 500, "log_every": 50}
TASK_KEYS = ["cell", "hidden", "layers", "embed", "dropout", "seq_len", "val_fraction", "eval_streams",
             "carry_state"]


def register(sub) -> None:
    text = sub.add_parser("text", help="character-level recurrent language models (char-rnn): train, sample, evaluate",
                          description="Recurrent nets on text: a character-level LSTM / GRU / RNN that reads a UTF-8 "
                                      "file and writes more of it (Karpathy 2015).")
    verbs = text.add_subparsers(dest="text_command", metavar="<verb>")

    p = verbs.add_parser("train", help="train a character model on a UTF-8 text file (.gz too)")
    p.add_argument("file", nargs="?", help="the text file (not needed with --resume)")
    p.add_argument("--out", help="run directory (default: runs/text-<cell>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR exactly where it stopped")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], help="recurrent cell (default: lstm)")
    p.add_argument("--hidden", type=int, help="hidden units per layer (default: 256)")
    p.add_argument("--layers", type=int, help="recurrent layers (default: 2)")
    p.add_argument("--embed", type=int, help="character embedding size (default: = hidden)")
    p.add_argument("--dropout", type=float, help="dropout between layers and before the output (default: 0)")
    p.add_argument("--seq-len", type=int, help="characters per TBPTT chunk (default: 128)")
    p.add_argument("--val-fraction", type=float, help="last part of the file held out (default: 0.1)")
    p.add_argument("--eval-streams", type=int, help="pieces the validation text is read in, in parallel (default 32)")
    p.add_argument("--carry-state", action=argparse.BooleanOptionalAction,
                   help="carry the hidden state across chunks (default); --no-carry-state resets it every chunk")
    engine_config.add_train_arguments(p, TRAIN_DEFAULTS)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("sample", help="write text with a trained model, streaming characters as they are made")
    p.add_argument("run_dir")
    p.add_argument("--length", type=int, default=1000, help="characters to write (default: 1000)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default: 1)")
    p.add_argument("--top-k", type=int, help="sample only among the k likeliest characters")
    p.add_argument("--prime", default="", help="text the model reads first (printed, then continued)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_sample)

    p = verbs.add_parser("evaluate", help="bits per character of a trained model on any text file")
    p.add_argument("run_dir")
    p.add_argument("file")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--seq-len", type=int, default=256, help="characters per chunk (state carried; default 256)")
    p.add_argument("--streams", type=int, default=32, help="pieces read in parallel (default 32)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_evaluate)
    text.set_defaults(func=lambda args: text.print_help() or 0)


def cmd_train(args) -> int:
    from deeplearn.engine import fit, setup
    from deeplearn.paths import DataError
    from deeplearn.supervised.runs import read_config
    from deeplearn.text.task import build_task

    stored_train, stored_task = {}, {}
    if args.resume:
        stored = read_config(args.resume)
        stored_train, stored_task = stored["train"], stored["task"]
    elif not args.file:
        raise DataError("text train needs a FILE (or --resume RUN_DIR)")
    c = engine_config.merge(args, stored_train, TRAIN_DEFAULTS)
    if args.max_time is not None and args.epochs is None and args.steps is None and not args.resume:
        c.epochs = None  # a time budget alone: no epoch limit from the defaults
    opts = {**stored_task, **{k: getattr(args, k) for k in TASK_KEYS if getattr(args, k) is not None}}
    if args.file and not args.resume:
        opts["file"] = args.file
    rt = setup(c)
    task = build_task(opts, rt, c.batch_size, c.seed)
    if c.max_time is not None and c.steps is None and c.epochs is None and c.schedule == "cosine":
        # The LR anneals over the time budget (schedule.py); the engine keeps a constant LR that it sets.
        task.config["time_schedule"] = {"lr": c.lr, "min_lr": c.min_lr, "warmup_steps": c.warmup_steps}
        c.schedule, c.warmup_steps = "constant", 0
    elif c.max_time is not None and c.steps is None and c.epochs is None and c.schedule != "constant":
        c.steps = steps_for_time(task, c, rt)  # other schedules need a length: the steps that fit the budget
    plan = task.config.get("time_schedule")
    if plan:
        task.clock = TimeCosine(plan["lr"], plan["min_lr"], plan["warmup_steps"], c.max_time, rt.distributed)
    run_dir = Path(args.resume or args.out or Path("runs") / f"text-{task.config['cell']}{time.strftime('-%Y%m%d-%H%M%S')}")
    if rt.is_main:
        n = sum(p.numel() for p in task.model.parameters())
        print(f"run directory: {run_dir}\n{task.config['cell']} {task.config['layers']}x{task.config['hidden']}, "
              f"{n:,} parameters, vocabulary {len(task.meta['vocab'])}, {task.meta['num_train']:,} training / "
              f"{task.meta['num_val']:,} validation characters, {task.train.batches_per_epoch()} steps per epoch"
              + (f", {c.steps} steps planned for {c.max_time:g} s" if c.max_time and c.steps else "")
              + (f", cosine LR over {c.max_time:g} s of training" if plan else ""), flush=True)
    with task.clock or contextlib.nullcontext():
        summary = fit(task, c, rt, run_dir, resume=bool(args.resume))
    if rt.is_main:
        final = finish(task, summary, c, rt, run_dir)
        print(f"validation loss {final['val_loss']:.4f} nats/char = {final['val_bpc']:.4f} bits/char "
              f"({summary['status']}, {summary['steps']} steps, {summary['train_time_s']:.1f} s training, "
              f"{final['train_chars_per_s']:,.0f} chars/s)")
    return 0


def steps_for_time(task, c, rt) -> int:
    """Estimate how many steps fit in --max-time by timing a few updates of a throw-away copy of the model."""
    model = copy.deepcopy(task.model).to(rt.device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-9)
    probe = copy.copy(task)
    probe.state = None
    times = []
    with torch.random.fork_rng():  # the real run's random stream stays untouched
        for i, batch in enumerate(task.train.iter_epoch(0)):
            t0 = time.perf_counter()
            batch = tuple(t.to(rt.device) for t in batch)
            out = probe.forward(model, batch)
            opt.zero_grad(set_to_none=True)
            probe.loss(out, batch).backward()
            opt.step()
            if rt.device.type == "cuda":
                torch.cuda.synchronize()  # kernels run asynchronously: wait for them before reading the clock
            times.append(time.perf_counter() - t0)
            if i >= 4 and (sum(times[2:]) > min(10.0, 0.03 * c.max_time) or i >= 200):
                break
    per_step = sorted(times[2:])[len(times[2:]) // 2]  # median of the timed steps, after 2 warm-up steps
    # Cosine is already at ~1% of its peak at 90% of its length: overshooting the estimate a little costs
    # nothing, falling short wastes budget, so aim 5% high (--max-time still ends the run on time).
    return max(1, math.ceil(1.05 * c.max_time / per_step))


def finish(task, summary: dict, c, rt, run_dir: Path) -> dict:
    """Validation loss of the final weights (re-evaluated if the time budget stopped the run between
    evaluations) and training characters/s; added to summary.json as `text`."""
    from deeplearn.engine.logger import read_jsonl, write_json

    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "val_loss" in r]
    if rows and rows[-1]["step"] == summary["steps"]:
        final = {"val_loss": rows[-1]["val_loss"], "val_bpc": rows[-1]["val_bpc"]}
    elif "val" in task.evals:
        model = task.model.eval()
        final = task.summarize(task.evaluate(model, task.evals["val"], rt.device))
        final = {f"val_{k}": v for k, v in final.items()}
    else:
        final = {"val_loss": float("nan"), "val_bpc": float("nan")}
    best = summary.get("best") or {}
    if c.monitor == "val_loss" and best.get("val_loss") is not None and final["val_loss"] < best["val_loss"]:
        # The final weights beat every earlier evaluation: they become best.pt (what sample/evaluate load).
        shutil.copyfile(run_dir / "checkpoints" / "last.pt", run_dir / "checkpoints" / "best.pt")
        summary["best"] = {"step": summary["steps"], "val_loss": final["val_loss"]}
    final["step"] = summary["steps"]
    final["train_chars_per_s"] = summary["samples"] * task.config["seq_len"] / max(summary["train_time_s"], 1e-9)
    summary["text"] = final
    write_json(run_dir / "summary.json", summary)
    return final


def load_model(run_dir: str, weights: str, device: str = "cpu"):
    """(model in eval mode, vocabulary, config) of a text run."""
    from deeplearn.engine import checkpoint as ckpt
    from deeplearn.paths import DataError
    from deeplearn.supervised.runs import checkpoint_path, read_config
    from deeplearn.text.data import Vocab
    from deeplearn.text.task import build_model

    cfg = read_config(run_dir)
    if "vocab" not in cfg.get("meta", {}):
        raise DataError(f"{run_dir} is not a text run (its config.json has no vocabulary)")
    vocab = Vocab(cfg["meta"]["vocab"])
    model = build_model(cfg["task"], len(vocab))
    try:
        model.load_state_dict(ckpt.load(checkpoint_path(run_dir, weights))["model"])
    except ckpt.CheckpointError as e:
        raise DataError(str(e)) from e
    return model.to(device).eval(), vocab, cfg


def cmd_sample(args) -> int:
    from deeplearn.text.sample import check_options, generate

    check_options(args.length, args.temperature, args.top_k)
    model, vocab, _ = load_model(args.run_dir, args.weights, args.device)
    t0 = time.perf_counter()
    chars = generate(model, vocab, args.length, args.temperature, args.top_k, args.prime, args.seed)
    sys.stdout.write(args.prime)
    n = 0
    for ch in chars:  # print each character as it is made
        sys.stdout.write(ch)
        sys.stdout.flush()
        n += 1
    sys.stdout.write("\n")
    dt = time.perf_counter() - t0
    print(f"[{n} characters in {dt:.2f} s: {n / max(dt, 1e-9):,.0f} chars/s]", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from deeplearn.text.data import EvalStreams, read_text
    from deeplearn.text.task import TextTask

    model, vocab, cfg = load_model(args.run_dir, args.weights, args.device)
    ids = vocab.encode(read_text(args.file), what=args.file)
    source = EvalStreams(ids, args.streams, args.seq_len)
    task = TextTask(model, None, {}, cfg["task"], cfg["meta"])
    t0 = time.perf_counter()
    result = task.summarize(task.evaluate(model, source, torch.device(args.device)))
    out = {"file": args.file, "characters": len(ids), "loss_nats_per_char": result["loss"],
           "bits_per_char": result["bpc"], "weights": args.weights, "seconds": round(time.perf_counter() - t0, 3)}
    print(json.dumps(out, indent=2))
    return 0
