"""The README's tour, walked with the bad inputs a new user types: every one is a short message, never a traceback.

Each case is a command of the tour with one mistake in it. The walk fails if a mistake raises (a traceback), exits
0, or answers with more than a few lines; and a test below fails if the README's tour gains a command that no case
here walks.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from deeplearn.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIGIT = str(ROOT / "tests" / "data" / "digit.png")
TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished supervised run and a finished text run, made once for the walk."""
    tmp = tmp_path_factory.mktemp("tour")
    sup, txt = tmp / "mlp", tmp / "text"
    assert main(["train", "--epochs", "1", "--out", str(sup), "--progress", "none", "--threads", "1"]) == 0
    corpus = tmp / "corpus.txt"
    corpus.write_text(TEXT)
    assert main(["text", "train", str(corpus), "--out", str(txt), "--hidden", "16", "--layers", "1", "--seq-len",
                 "32", "--steps", "4", "--batch-size", "4", "--progress", "none", "--threads", "1"]) == 0
    truncated = tmp / "truncated"
    shutil.copytree(sup, truncated)
    last = truncated / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    bad = tmp / "bad"
    bad.mkdir()
    from PIL import Image

    Image.new("RGB", (48, 32), (200, 120, 40)).save(bad / "rgb.png")
    (bad / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (bad / "latin1.p").write_bytes("fof(a, axiom, p(\xe9)).\n".encode("latin-1"))
    (bad / "malformed.p").write_text("fof(a, axiom, (p & ).\n")
    (bad / "good.p").write_text("fof(a, axiom, p).\nfof(c, conjecture, p).\n")
    (bad / "empty.txt").write_text("")
    (bad / "bad.toml").write_text("lr = = 1\n")
    return {"SUP": str(sup), "TEXT": str(txt), "TRUNC": str(truncated), "BAD": str(bad), "TMP": str(tmp)}


# (the tour's command, the mistake) -> the arguments; {NAME} is filled from the `runs` fixture.
CASES = {
    "train: a zero batch": "train --batch-size 0",
    "train: negative epochs": "train --epochs -1",
    "train: zero steps between logs": "train --log-every 0",
    "train: a negative learning rate": "train --lr -1",
    "train: an unknown model": "train --model foo",
    "train: an unknown activation": "train --activation sigmoidal",
    "train: a metric the task does not report": "train --monitor val_foo",
    "train: a device that is not here": "train --device cuda",
    "train: a device name that does not exist": "train --device tpu",
    "train: data that is not there": "train --data mnist --data-dir {TMP}/nowhere",
    "train: a learning rate that makes the loss NaN": "train --lr 1e30 --epochs 3 --progress none --out {TMP}/nan",
    "train --resume: no such run": "train --resume {TMP}/nowhere",
    "train --resume: a truncated checkpoint": "train --resume {TRUNC} --epochs 2",
    "train --resume: a text run": "train --resume {TEXT} --epochs 2",
    "train --resume: an option that cannot change": "train --resume {SUP} --hidden 8",
    "train --config: no such recipe": "train --config {TMP}/nowhere.toml",
    "train --config: not TOML": "train --config {BAD}/bad.toml",
    "baseline: an unknown method": "baseline --method magic",
    "evaluate: no such run": "evaluate {TMP}/nowhere",
    "evaluate: a text run": "evaluate {TEXT}",
    "predict: a missing image": "predict {SUP} {TMP}/nowhere.png",
    "predict: a corrupt image": "predict {SUP} {BAD}/corrupt.png",
    "predict: a text run": "predict {TEXT} " + DIGIT,
    "models: an argument it does not take": "models --bogus",
    "vision filters: a text run": "vision filters {TEXT} -o {TMP}/f.png",
    "vision detect: an unknown detector": "vision detect train --model yolo9000 --data mnist-detect",
    "vision detect: a data set that does not exist": "vision detect train --data voc:{TMP}/nowhere --out {TMP}/det",
    "vision detect: predict with a text run": "vision detect predict {TEXT} " + DIGIT + " -o {TMP}/det-out",
    "vision style: a missing style image": "vision style {BAD}/rgb.png {TMP}/nowhere.jpg -o {TMP}/s.png",
    "vision style: a one-channel image": "vision style " + DIGIT + " {BAD}/rgb.png -o {TMP}/s.png",
    "vision style: a corrupt content image": "vision style {BAD}/corrupt.png {BAD}/rgb.png -o {TMP}/s.png",
    "vision doodle: a missing map": "vision doodle --style {BAD}/rgb.png --style-map {TMP}/nowhere.png "
                                    "--target-map {TMP}/nowhere2.png -o {TMP}/d.png",
    "premises loop: no data": "premises loop --out {TMP}/loop --data-dir {TMP}/nowhere",
    "premises loop: zero rounds": "premises loop --out {TMP}/loop --rounds 0",
    "premises loop: no E processes": "premises loop --out {TMP}/loop --workers 0",
    "lecture: an unknown section": "lecture --quick --only nosuchsection --out {TMP}/lec",
    "launch: no processes": "launch --nproc 0 -- train",
    "tune: a malformed search space": "tune --param lr=sometimes:1 --trials 2 --out {TMP}/tune",
    "tune: an unknown system": "tune --system nope --param lr=loguniform:1e-3:1 --trials 2 --out {TMP}/tune2",
    "premises export: data that is not there": "premises export NOPE0000 -o {TMP}/x.p --data-dir {TMP}/nowhere",
    "premises prove: a file that is not UTF-8": "premises prove {BAD}/latin1.p --method sine --no-cache",
    "premises prove: malformed TPTP": "premises prove {BAD}/malformed.p --method sine --no-cache",
    "premises prove: a negative --top": "premises prove {BAD}/good.p --top -1",
    "premises prove: a prover that is not there": "premises prove {BAD}/good.p --prover {TMP}/no-eprover --no-cache",
    "text train: no such file": "text train {TMP}/nowhere.txt",
    "text train: an empty file": "text train {BAD}/empty.txt --steps 2",
    "text train: zero hidden units": "text train {BAD}/empty.txt --hidden 0",
    "text sample: a supervised run": "text sample {SUP}",
    "text sample: a negative length": "text sample {TEXT} --length -5",
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_in_the_tour_is_a_short_message(case, runs, capsys):
    argv = CASES[case].format(**runs).split()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse: the problem and where the help is
        code = e.code
    err = capsys.readouterr().err
    assert code in (1, 2), f"{case}: exit {code}\n{err}"
    assert "Traceback" not in err, err
    message = [line for line in err.strip().splitlines() if line.strip()]
    assert message and len(message) <= 4, f"{case}: {len(message)} lines:\n{err}"
    assert "weights_only=False" not in err and "allow_pickle=True" not in err


def _tour_commands() -> set[str]:
    """'deeplearn VERB [SUBVERB]' of each line of the README's tour block."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A short tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    heads = set()
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2 or words[0] != "deeplearn" or words[1].startswith("-"):
            continue  # `deeplearn --help` is walked by the help test
        two = len(words) > 2 and not words[2].startswith("-") and re.fullmatch(r"[a-z-]+", words[2])
        heads.add(" ".join(words[1:3]) if two and words[1] in ("vision", "premises", "text") else words[1])
    return heads


def test_every_command_of_the_readme_tour_is_walked_with_a_mistake():
    walked = {re.split(r"[:]", case)[0].split(" --")[0] for case in CASES}
    missing = _tour_commands() - walked
    assert not missing, f"README tour commands with no bad-input case in this file: {sorted(missing)}"


@pytest.mark.parametrize("system,run", [("supervised", "SUP"), ("text", "TEXT")])
def test_the_metrics_a_spec_declares_for_monitor_are_the_ones_its_validation_reports(system, run, runs):
    import json

    from deeplearn.cli import get_system

    rows = [json.loads(line) for line in (Path(runs[run]) / "metrics.jsonl").read_text().splitlines()]
    reported = {k for row in rows for k in row if k.startswith("val_")}
    declared = set(get_system(system).training_spec().metrics)
    assert reported and reported <= declared, (reported, declared)
