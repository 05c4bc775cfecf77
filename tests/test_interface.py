"""The system interface: one run sequence, run directories, registries, options declared once, engine hooks."""

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from torch import nn

from deeplearn import cli
from deeplearn.cli import SYSTEMS, main
from deeplearn.engine import StopTraining, TensorSource, TrainConfig, fit, setup
from deeplearn.engine import checkpoint as ckpt
from deeplearn.engine.optim import lr_factor_at
from deeplearn.engine.options import default_of
from deeplearn.engine.rundir import RunDir
from deeplearn.paths import DataError
from deeplearn.registry import Registry
from deeplearn.supervised.task import build_task

REPO = Path(__file__).resolve().parents[1]


def _train_parsers():
    """(spec, parser) of every system that trains through the engine, built as the CLI builds them."""
    from deeplearn.tune.trial import train_parser

    return [(s.training_spec(), train_parser(s.training_spec())) for s in SYSTEMS if s.training]


def test_every_help_default_is_the_default_that_is_used():
    checked = 0
    for spec, parser in _train_parsers():
        by_dest = {a.dest: a for a in parser._actions}
        for cls, overrides in ((spec.options, {}), (TrainConfig, spec.defaults)):
            for f in fields(cls):
                help_ = by_dest[f.name].help
                value = overrides.get(f.name, default_of(f))
                shown = re.search(r".*\(default: (.*)\)$", help_).group(1)
                expected = f.metadata.get("shown") if value is None and f.metadata.get("shown") else (
                    " ".join(map(str, value)) if isinstance(value, list) else str(value))
                assert shown == expected, (spec.system, f.name, help_)
                checked += 1
    assert checked > 80


def test_an_unknown_model_is_an_argparse_error_listing_the_models(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "foo"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'foo'" in err and "lenet5" in err and "alexnet-cifar" in err


@pytest.mark.parametrize("argv, message", [
    (["train", "--batch-size", "0"], "must be positive"),
    (["train", "--lr", "-1"], "must be positive"),
    (["train", "--log-every", "0"], "must be positive"),
    (["train", "--val-fraction", "1.5"], "must be in"),
])
def test_bad_numbers_are_refused_when_parsed(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_registry_lists_the_known_names():
    reg = Registry("widget")
    reg.add("b", 2, kind="x")
    reg.add("a", 1)
    assert reg.get("b") == 2 and reg.choices() == ["a", "b"] and reg.info("b") == {"kind": "x"}
    with pytest.raises(DataError, match="unknown widget 'c'; known: a, b"):
        reg.get("c")
    with pytest.raises(ValueError, match="twice"):
        reg.add("a", 3)


def test_a_registry_module_that_fails_to_import_is_not_hidden():
    reg = Registry("thing", modules=["deeplearn.no_such_module"])
    with pytest.raises(ModuleNotFoundError):
        reg.names()


def test_run_directories_say_which_system_made_them(tmp_path):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "run"), "--progress", "none",
                 "--threads", "1"]) == 0
    run = RunDir(tmp_path / "run")
    assert run.config["system"] == "supervised" and run.summary["status"] == "completed"
    assert run.checkpoint_path("best").name == "best.pt"
    assert main(["text", "sample", str(tmp_path / "run")]) == 2  # a supervised run is not a text run


def test_a_recipe_file_sets_options_and_the_command_line_wins(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('hidden = [32]\nactivation = "tanh"\nepochs = 1\nlr = 0.2\n')
    assert main(["train", "--config", str(recipe), "--lr", "0.1", "--out", str(tmp_path / "run"),
                 "--progress", "none", "--threads", "1"]) == 0
    cfg = RunDir(tmp_path / "run").config
    assert cfg["task"]["hidden"] == [32] and cfg["task"]["activation"] == "tanh"
    assert cfg["train"]["epochs"] == 1 and cfg["train"]["lr"] == 0.1
    recipe.write_text("hiden = [32]\n")
    assert main(["train", "--config", str(recipe), "--out", str(tmp_path / "run2")]) == 2


def test_the_shipped_recipes_are_valid():
    from deeplearn.engine.command import load_recipe

    recipes = sorted((REPO / "recipes").glob("*.toml"))
    assert recipes
    for path in recipes:
        system = cli.get_system(re.search(r'system = "(\w+)"', path.read_text()).group(1))
        load_recipe(str(path), system.training_spec())  # raises on an unknown key


def test_tune_drives_a_system_other_than_supervised(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("abcabd" * 200)
    out = tmp_path / "study"
    assert main(["tune", "--system", "text", "--param", "lr=loguniform:1e-3:1e-2", "--metric", "val_loss",
                 "--trials", "2", "--pruner", "none", "--out", str(out), "--", str(text), "--hidden", "8",
                 "--layers", "1", "--seq-len", "16", "--batch-size", "4", "--steps", "6", "--eval-every", "3",
                 "--threads", "1"]) == 0
    trials = sorted((out / "trials").iterdir())
    assert len(trials) == 2
    for t in trials:
        assert RunDir(t).system == "text"
        assert json.loads((t / "trial.json").read_text())["state"] == "COMPLETE"


def test_fit_equals_a_plain_loop_bit_for_bit(tmp_path):
    c = TrainConfig(steps=25, batch_size=32, optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True,
                    weight_decay=1e-4, log_every=5, progress="none", threads=1)
    opts = {"model": "mlp", "data": "digits", "hidden": [32]}
    task = build_task(opts, setup(c), c.batch_size, c.seed)
    fit(task, c, setup(c), tmp_path / "run")
    plain = build_task(opts, setup(c), c.batch_size, c.seed)  # the same seed: the same initial weights
    from deeplearn.engine.optim import build_optimizer

    opt = build_optimizer(plain.model, c)
    step = 0
    for epoch in range(10):
        for x, y in plain.train.iter_epoch(epoch):
            loss = nn.functional.cross_entropy(plain.model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step == c.steps:
                break
        if step == c.steps:
            break
    a, b = task.model.state_dict(), plain.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


class Counter:
    def __init__(self):
        self.n = 0

    def state_dict(self):
        return {"n": self.n}

    def load_state_dict(self, s):
        self.n = s["n"]


def test_stop_training_from_a_hook_ends_with_a_summary_and_extra_state_is_checkpointed(tmp_path):
    c = TrainConfig(steps=50, batch_size=32, log_every=5, progress="none", threads=1)
    task = build_task({"model": "mlp", "data": "digits", "hidden": [16]}, setup(c), c.batch_size, c.seed)
    counter = Counter()
    task.register_for_checkpointing("counter", counter)

    def hook(step):
        counter.n += 1
        if step == 12:
            raise StopTraining("enough")

    summary = fit(task, c, setup(c), tmp_path / "run", on_step_end=hook)
    assert summary["status"] == "stopped" and summary["reason"] == "enough" and summary["steps"] == 12
    assert "test" in summary and RunDir(tmp_path / "run").summary["status"] == "stopped"
    saved = ckpt.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert saved["extra"]["counter"] == {"n": 12}
    task2 = build_task({"model": "mlp", "data": "digits", "hidden": [16]}, setup(c), c.batch_size, c.seed)
    restored = Counter()
    task2.register_for_checkpointing("counter", restored)
    fit(task2, TrainConfig(steps=14, batch_size=32, progress="none", threads=1), setup(c), tmp_path / "run",
        resume=True)
    assert restored.n == 12  # restored from the checkpoint (the hook of the first run is not the second's)


def test_the_time_plan_follows_the_budget():
    c = TrainConfig(lr=1.0, min_lr=0.01, schedule="cosine", warmup_steps=4, max_time=10)
    assert lr_factor_at(c, 0, 0.0) == pytest.approx(1 / 5)  # warm-up over steps
    assert lr_factor_at(c, 10, 0.0) == pytest.approx(1.0)
    assert lr_factor_at(c, 10, 0.5) == pytest.approx(0.505)
    assert lr_factor_at(c, 10, 1.0) == pytest.approx(0.01)
    one = TrainConfig(lr=1.0, schedule="onecycle", max_time=10)
    assert lr_factor_at(one, 0, 0.25) == pytest.approx(1.0) and lr_factor_at(one, 0, 0.0) == pytest.approx(1 / 25)


def test_help_imports_no_torch_and_every_system_is_listed():
    code = "import sys; from deeplearn import cli; cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    help_ = subprocess.run([sys.executable, "-m", "deeplearn", "--help"], capture_output=True, text=True).stdout
    for s in SYSTEMS:
        for name in s.top_level or (s.name,):
            assert name in help_


def test_no_layout_literal_and_no_cross_system_import():
    pkg = REPO / "deeplearn"
    systems = {p.name for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"engine"}
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        if path.name != "rundir.py":
            assert "checkpoints/last.pt" not in text and '"checkpoints"' not in text, path
        own = path.relative_to(pkg).parts[0]
        for other in re.findall(r"from deeplearn\.(\w+)", text):
            if other in systems and other != own:
                assert own in ("cli.py",), f"{path} imports the {other} system"


@pytest.mark.parametrize("schedule, warmup", [("cosine", 0), ("cosine", 7), ("step", 5), ("constant", 6),
                                              ("onecycle", 0), ("onecycle", 9)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_step_plan_equals_torchs_schedulers(schedule, warmup, optimizer):
    """The closed-form plan against torch's own schedulers, stepped once per update (the reference)."""
    from deeplearn.engine.optim import build_optimizer, build_scheduler, plan_at_step

    c = TrainConfig(schedule=schedule, warmup_steps=warmup, optimizer=optimizer, lr=0.1, min_lr=1e-3,
                    lr_step_size=13, lr_gamma=0.5)
    total = 60
    opt = build_optimizer(nn.Linear(2, 2), c)
    sched = build_scheduler(opt, c, total)
    for step in range(total):
        lr, momentum = plan_at_step(c, step, total)
        group = opt.param_groups[0]
        assert lr == pytest.approx(group["lr"], rel=1e-9, abs=1e-12), step
        if momentum is not None:
            assert momentum == pytest.approx(group["betas"][0] if optimizer == "adam" else group["momentum"])
        opt.step()
        sched.step()


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_resume_with_a_longer_budget_relays_the_schedule_over_the_new_length(tmp_path, schedule):
    """`--resume RUN --epochs 4` of a 2-epoch run: from the resume on, the LR is that of a run planned for 4
    epochs from the start (onecycle used to crash: "Tried to step 81 times")."""
    def config(epochs):
        return TrainConfig(epochs=epochs, batch_size=64, schedule=schedule, lr=0.05, warmup_steps=3,
                           progress="none", threads=1, log_every=5)

    opts = {"model": "mlp", "data": "digits", "hidden": [32]}
    straight = build_task(opts, setup(config(4)), 64, 0)
    fit(straight, config(4), setup(config(4)), tmp_path / "straight")
    short = build_task(opts, setup(config(2)), 64, 0)
    first = fit(short, config(2), setup(config(2)), tmp_path / "extended")
    extended = build_task(opts, setup(config(4)), 64, 0)
    summary = fit(extended, config(4), setup(config(4)), tmp_path / "extended", resume=True)
    assert summary["steps"] == 2 * first["steps"]

    def lrs(d):
        rows = [json.loads(r) for r in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["lr"] for r in rows if r["step"] > first["steps"]}

    assert lrs("extended") == pytest.approx(lrs("straight"), rel=1e-9)


def test_an_interrupted_run_resumed_with_its_budget_equals_the_uninterrupted_run(tmp_path):
    c = TrainConfig(epochs=3, batch_size=64, schedule="onecycle", lr=0.05, progress="none", threads=1)
    opts = {"model": "mlp", "data": "digits", "hidden": [32]}
    straight = build_task(opts, setup(c), 64, 0)
    fit(straight, c, setup(c), tmp_path / "straight")

    def stop(step):
        if step == 30:
            raise StopTraining("a kill, as far as the run directory can tell")

    fit(build_task(opts, setup(c), 64, 0), c, setup(c), tmp_path / "resumed", on_step_end=stop)
    resumed = build_task(opts, setup(c), 64, 0)
    fit(resumed, c, setup(c), tmp_path / "resumed", resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_options_that_cannot_change_and_records_what_did(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["--epochs", "1", "--progress", "none", "--threads", "1"]
    assert main(["train", "--out", run, *base]) == 0
    assert main(["train", "--resume", run, "--lr", "1e6"]) == 2
    assert "--lr 1000000.0 (the run has 0.05) cannot change" in capsys.readouterr().err
    assert main(["train", "--resume", run, "--hidden", "8"]) == 2
    assert RunDir(run).config["train"]["lr"] == 0.05  # nothing was written
    assert main(["train", "--resume", run, "--epochs", "2", "--progress", "none"]) == 0
    cfg = RunDir(run).config
    assert cfg["train"]["epochs"] == 2 and cfg["resumes"][0]["changed"]["epochs"] == [1, 2]
    assert RunDir(run).summary["epochs"] == 2


def test_an_interrupt_saves_says_how_to_resume_and_exits_130(tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "deeplearn", "train", "--epochs", "100000", "--out", str(run),
                             "--threads", "1", "--progress", "none"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (run / "checkpoints" / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"continue with: deeplearn train --resume {run}" in err and "Traceback" not in err
    assert RunDir(run).summary["status"] == "interrupted"


def test_importing_deeplearn_sets_a_passive_openmp_wait_policy_unless_the_user_chose_one():
    code = "import os, deeplearn; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in __import__("os").environ.items() if k != "OMP_WAIT_POLICY"}
    run = lambda e: subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True).stdout  # noqa
    assert run(env).strip() == "PASSIVE"
    assert run({**env, "OMP_WAIT_POLICY": "ACTIVE"}).strip() == "ACTIVE"
