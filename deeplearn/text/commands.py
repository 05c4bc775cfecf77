"""Commands of the text system: `deeplearn text train | sample | evaluate`."""

from __future__ import annotations

import json
import sys
import time

from deeplearn.engine.command import TrainingSpec, add_training_arguments, train_verb
from deeplearn.engine.options import checked, non_negative, positive
from deeplearn.paths import DataError
from deeplearn.text.options import TextOptions

# Defaults of `text train`: Adam with a cosine decay; 32 streams, since on a 2-core CPU batch 32 trains as many
# characters/s as 64 and gives twice the updates (docs/text.md has the sweep behind these numbers). With
# --max-time alone the cosine is laid over the training time (the engine's time plan).
TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 32, "optimizer": "adam", "lr": 4e-3, "schedule": "cosine",
                  "warmup_steps": 50, "min_lr": 1e-4, "clip_grad": 1.0, "eval_every": 500, "log_every": 50}


def _check(opts: dict, resuming: bool) -> None:
    if not opts.get("file"):
        raise DataError("text train needs a FILE (or --resume RUN_DIR)")


def _build_task(opts, rt, c):
    from deeplearn.text.task import build_task

    task = build_task(opts, rt, c.batch_size, c.seed)
    if rt.is_main:
        n = sum(p.numel() for p in task.model.parameters())
        print(f"{task.config['cell']} {task.config['layers']}x{task.config['hidden']}, {n:,} parameters, vocabulary "
              f"{len(task.meta['vocab'])}, {task.meta['num_train']:,} training / {task.meta['num_val']:,} validation "
              f"characters, {task.train.batches_per_epoch()} steps per epoch", flush=True)
    return task


def _describe(summary: dict) -> str:
    final = summary.get("final") or {}
    if "val_loss" not in final:
        return f"{summary['status']} after {summary['steps']} steps (no validation text)"
    return (f"validation loss {final['val_loss']:.4f} nats/char = {final['val_bpc']:.4f} bits/char "
            f"({summary['status']}, {summary['steps']} steps, {summary['train_time_s']:.1f} s training, "
            f"{summary.get('chars_per_s', 0):,.0f} chars/s)")


SPEC = TrainingSpec(system="text", options=TextOptions, build_task=_build_task, defaults=TRAIN_DEFAULTS,
                    run_name=lambda cfg: f"text-{cfg['cell']}", describe=_describe, check=_check,
                    metrics=("val_loss", "val_bpc"))


def register(verbs) -> None:
    p = verbs.add_parser("train", help="train a character model on a UTF-8 text file (.gz too)",
                         description="Recurrent nets on text: a character-level LSTM / GRU / RNN that reads a "
                                     "UTF-8 file and writes more of it (Karpathy 2015).")
    add_training_arguments(p, SPEC)
    p.set_defaults(func=train_verb(SPEC))

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
    p.add_argument("--seq-len", type=checked(int, positive), default=256,
                   help="characters per chunk (state carried; default 256)")
    p.add_argument("--streams", type=checked(int, positive), default=256,
                   help="pieces read in parallel (default 256: wide matrix products)")
    p.add_argument("--burn-in", type=checked(int, non_negative), default=256,
                   help="characters each piece reads before it counts, so its state is warm (default 256)")
    p.add_argument("--amp", choices=["none", "bf16"], default="none",
                   help="bf16 matrix products (faster where the CPU has AMX/AVX-512 bf16; the loss moves ~1e-4)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_evaluate)


def load_model(run_dir: str, weights: str, device: str = "cpu"):
    """(model in eval mode, vocabulary, config) of a text run."""
    from deeplearn.engine.rundir import RunDir
    from deeplearn.text.data import Vocab
    from deeplearn.text.task import build_model

    run = RunDir(run_dir).require_system("text")
    cfg = run.config
    vocab = Vocab(cfg["meta"]["vocab"])
    model = build_model(cfg["task"], len(vocab))
    model.load_state_dict(run.model_state(weights))
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
    import torch

    from deeplearn.text.data import EvalStreams, read_text
    from deeplearn.text.task import TextTask

    model, vocab, cfg = load_model(args.run_dir, args.weights, args.device)
    ids = vocab.encode(read_text(args.file), what=args.file)
    source = EvalStreams(ids, args.streams, args.seq_len, burn_in=args.burn_in)
    task = TextTask(model, None, {}, cfg["task"], cfg["meta"])
    device = torch.device(args.device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.amp == "bf16" else None
    t0 = time.perf_counter()
    result = task.summarize(task.evaluate(model, source, device, autocast=autocast))
    out = {"file": args.file, "characters": len(ids), "loss_nats_per_char": result["loss"],
           "bits_per_char": result["bpc"], "weights": args.weights, "seconds": round(time.perf_counter() - t0, 3)}
    print(json.dumps(out, indent=2))
    return 0
