"""The search-space syntax (CLI and TOML) and the checks made before any trial runs."""

import optuna
import pytest

from deeplearn.cli import main
from deeplearn.paths import DataError
from deeplearn.tune import space
from deeplearn.supervised.commands import SPEC
from deeplearn.tune.trial import check_options, train_parser


def test_cli_specs():
    p = space.parse_params(["lr=loguniform:1e-4:1", "weight-decay=uniform:0:0.01", "epochs=int:2:10:2",
                            "batch_size=logint:16:256", "hidden=categorical:[64],[256,256]",
                            "optimizer=categorical:sgd,adam", "nesterov=choice:true,false"])
    assert (p["lr"].kind, p["lr"].low, p["lr"].high, p["lr"].log) == ("float", 1e-4, 1.0, True)
    assert "weight_decay" in p and not p["weight_decay"].log
    assert (p["epochs"].kind, p["epochs"].step) == ("int", 2.0)
    assert p["batch_size"].log and p["batch_size"].kind == "int"
    assert p["hidden"].choices == [[64], [256, 256]]
    assert p["optimizer"].choices == ["sgd", "adam"] and p["nesterov"].choices == [True, False]


@pytest.mark.parametrize("spec, message", [
    ("lr", "expected NAME=KIND:ARGS"),
    ("lr=normal:0:1", "expected uniform"),
    ("lr=uniform:1", "expected uniform"),
    ("lr=uniform:a:b", "must be numbers"),
    ("lr=loguniform:0:1", "LOW > 0"),
    ("lr=uniform:1:0.5", "LOW < HIGH"),
    ("opt=categorical:", "no choices"),
])
def test_bad_cli_specs(spec, message):
    with pytest.raises(DataError, match=message):
        space.parse_params([spec])


def test_toml_file(tmp_path):
    f = tmp_path / "space.toml"
    f.write_text('[params]\nlr = "loguniform:1e-3:1"\nhidden = {choices = [[32], [64, 64]]}\n'
                 'optimizer = ["sgd", "adam"]\nepochs = {type = "int", low = 1, high = 4}\n'
                 '[fixed]\nbatch-size = 16\nnesterov = false\nhidden = [8]\n')
    params, fixed = space.load_file(f)
    assert params["hidden"].choices == [[32], [64, 64]] and params["optimizer"].kind == "categorical"
    assert (params["epochs"].kind, params["epochs"].low, params["epochs"].high) == ("int", 1, 4)
    assert fixed == {"batch_size": 16, "nesterov": False, "hidden": [8]}
    assert space.option_tokens("nesterov", False) == ["--no-nesterov"]
    assert space.option_tokens("hidden", [8, 4]) == ["--hidden", "8", "4"]
    f.write_text("[search]\nlr = 1\n")
    with pytest.raises(DataError, match="unknown tables"):
        space.load_file(f)


def test_suggested_lists_come_back_as_lists():
    p = space.parse_spec("hidden", "categorical:[64],[256,256]")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = [p.suggest(study.ask()) for _ in range(12)]
    assert {tuple(v) for v in seen} == {(64,), (256, 256)}  # both choices, as lists the train parser can take


@pytest.mark.parametrize("fixed, specs, message", [
    ([], ["momentm=uniform:0:1"], "unrecognized arguments: --momentm"),
    ([], ["moment=uniform:0:1"], "unrecognized arguments: --moment"),  # no abbreviation of --momentum
    ([], ["optimizer=categorical:sgd,lbfgs"], "invalid choice: 'lbfgs'"),
    ([], ["batch_size=uniform:16:64"], "invalid int value"),
    (["--out", "x"], ["lr=uniform:0.1:1"], "drop --out"),
    (["--epochs", "two"], [], "invalid float value"),
])
def test_options_are_checked_before_training(fixed, specs, message):
    with pytest.raises(DataError, match=message):
        check_options(train_parser(SPEC), fixed, space.parse_params(specs))


def test_cli_reports_a_bad_space_without_training(tmp_path, capsys):
    assert main(["tune", "--param", "lr=uniform:1:0.1", "--out", str(tmp_path / "t")]) == 2
    assert "LOW < HIGH" in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
