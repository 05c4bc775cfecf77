"""The neural ranker (issue 7): separate encoders, cached = pairwise scoring, learning a rare-symbol match,
clear errors on bad corpora, unseen symbols. Tiny models: the whole file runs in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from deeplearn import cli
from deeplearn.engine.config import TrainConfig
from deeplearn.paths import DataError
from deeplearn.premises import ranker as ranker_mod
from deeplearn.premises.corpus import Corpus, Problem, load_tptp_dir
from deeplearn.premises.neural.encoders import ENCODERS
from deeplearn.premises.neural.encoding import Encoding
from deeplearn.premises.neural.model import PremiseModel, padded
from deeplearn.premises.neural.ranker import NeuralRanker
from deeplearn.premises.neural.train import train
from deeplearn.premises.tptp import parse_formula

TINY = {"embed_dim": 16, "hidden": 32, "head_hidden": 128}


def f(name, body, role="axiom"):
    return parse_formula(f"fof({name}, {role}, {body}).")


# Toy corpus: conjecture t_i mentions the rare constant s_i and its proof used p_i, the one premise with s_i;
# every premise has the same shape otherwise, so only the shared rare symbol tells them apart.
N = 6
PREMS = [f(f"p{i}", f"! [X] : (r(X, s{i}) | ~ q(X))") for i in range(N)]
PROBS = [Problem(f"T{i}", f(f"t{i}", f"! [X] : (r(X, s{i}) => q(X))", "conjecture"), PREMS, deps=[f"p{i}"], index=i)
         for i in range(N)]


def tiny_opts(encoder="lstm", head="concat"):
    return {**TINY, "encoder": encoder, "head": head, "hard_rounds": 1, "hard_epochs": 5, "val_fraction": 0.0,
            "random_ratio": 5.0}


def tiny_train(tmp_path, encoder="lstm", head="concat", steps=300):
    opts = tiny_opts(encoder, head)
    tc = TrainConfig(steps=steps, batch_size=36, optimizer="adam", lr=3e-3, threads=1, progress="none",
                     log_every=1000)
    return train(Corpus({}, PROBS), opts, tc, tmp_path / "run", all_problems=True, log=lambda s: None)[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return tiny_train(tmp_path_factory.mktemp("neural"))


@pytest.mark.parametrize("kind", ENCODERS.names())
def test_the_two_encoders_have_separate_weights(kind):
    torch.manual_seed(0)
    m = PremiseModel(40, encoder=kind, **TINY)
    conj = {p.data_ptr() for p in m.conjecture.parameters()}
    assert conj and conj.isdisjoint(p.data_ptr() for p in m.premise.parameters())
    ids, lengths = padded([[5, 6, 7, 8], [9, 10]])
    before_c, before_p = m.conjecture(ids, lengths), m.premise(ids, lengths)
    assert not torch.allclose(before_c, before_p)  # same input, different weights, different embeddings
    with torch.no_grad():
        for p in m.conjecture.parameters():
            p.add_(0.1)
    assert torch.equal(m.premise(ids, lengths), before_p)
    assert not torch.allclose(m.conjecture(ids, lengths), before_c)


def test_shared_embedding_keeps_the_encoders_separate():
    """--share-embedding: one symbol table for both sides, every other weight still the encoder's own."""
    m = PremiseModel(40, encoder="lstm", share_embedding=True, **TINY)
    assert m.premise.embed.weight is m.conjecture.embed.weight
    conj = {p.data_ptr() for n, p in m.conjecture.named_parameters() if not n.startswith("embed")}
    assert conj and conj.isdisjoint(p.data_ptr() for p in m.premise.parameters())
    assert len(list(m.parameters())) == len(set(map(id, m.parameters())))  # the table counts (and trains) once


@pytest.mark.parametrize("kind,head", [("lstm", "concat"), ("cnn", "dot"), ("cnn-lstm", "concat"), ("gru", "dot"),
                                       ("cnn", "interact")])
def test_cached_ranking_equals_pairwise_scoring(kind, head):
    torch.manual_seed(1)
    enc = Encoding.build(PREMS + [p.conjecture for p in PROBS], min_count=1, buckets=8)
    model = PremiseModel(enc.size, encoder=kind, head=head, **TINY).eval()
    r = NeuralRanker.from_model(model, enc)
    premises = PREMS + [f("long", "! [X, Y] : ((r(X, Y) & q(Y)) => (q(X) | r(Y, s1)))")]  # mixed lengths
    conj = PROBS[2].conjecture
    cached = dict(r.rank(conj, premises))
    again = dict(r.rank(conj, list(reversed(premises))))  # warm cache, another order
    c_ids, c_len = padded([enc.encode(conj)])
    with torch.no_grad():
        for p in premises:
            p_ids, p_len = padded([enc.encode(p)])
            one = model(c_ids, c_len, p_ids, p_len, torch.tensor([0]), torch.tensor([0])).item()
            assert cached[p.name] == pytest.approx(one, abs=1e-5)
            assert again[p.name] == pytest.approx(one, abs=1e-5)


def test_mirror_init_starts_both_encoders_equal():
    m = PremiseModel(40, encoder="cnn", mirror_init=True, share_embedding=True, **TINY)
    ids, lengths = padded([[5, 6, 7, 8], [9, 10]])
    assert torch.equal(m.conjecture(ids, lengths), m.premise(ids, lengths))
    with torch.no_grad():
        next(m.conjecture.convs.parameters()).add_(0.1)
    assert not torch.allclose(m.conjecture(ids, lengths), m.premise(ids, lengths))  # equal start, own weights


def test_popular_negatives_cancel_the_premise_prior():
    """popular_ratio: each premise is drawn as a negative about as often as it is a positive, so the premise
    alone no longer predicts the label (without them t2_subset-like premises are only ever positive)."""
    import random
    from collections import Counter

    from deeplearn.premises.neural.data import Labels, pairs

    prems = [f(f"a{i}", f"r(c{i}, c{i})") for i in range(40)]
    probs = [Problem(f"P{j}", f(f"g{j}", f"q(d{j})", "conjecture"), prems, index=j) for j in range(200)]
    rng = random.Random(0)
    # premise a_i is used by about 15 / (i + 1) % of the problems (Zipf-like; t2_subset: 7 % of MPTP proofs)
    labels = {p.id: Labels([a.name for i, a in enumerate(prems) if rng.random() < 0.15 / (i + 1)]
                           or [f"a{20 + int(p.id[1:]) % 20}"])  # a rare premise where none was drawn
              for p in probs}
    rows = pairs(probs, labels, random_ratio=0.0, seed=0, popular_ratio=1.0)
    pos = Counter(r[1] for r in rows if r[2] == 1.0)
    neg = Counter(r[1] for r in rows if r[2] == 0.0)
    assert sum(neg.values()) == sum(pos.values())
    for name in ("a0", "a1", "a2"):  # the popular ones: about as often negative as positive
        assert 0.6 < neg[name] / pos[name] < 1.6, (name, pos[name], neg[name])
    assert rows == pairs(probs, labels, random_ratio=0.0, seed=0, popular_ratio=1.0)  # a function of the seed


def test_self_pairs_read_a_premise_as_its_own_conjecture():
    from deeplearn.premises.neural.data import Labels, pairs

    labels = {p.id: Labels([f"p{p.index}"]) for p in PROBS}
    rows = pairs(PROBS, labels, random_ratio=0.0, seed=0, self_ratio=2.0)
    selfs = [r for r in rows if r[0] == r[1]]
    assert len(selfs) == 2 * len(PROBS) and all(r[2] == 1.0 and r[0].startswith("p") for r in selfs)
    assert sum(r[0].startswith("p") and r[0] != r[1] and r[2] == 0.0 for r in rows) == len(selfs)


def test_learns_to_rank_the_premise_sharing_the_rare_symbol_first(trained):
    for i, p in enumerate(PROBS):
        assert trained.rank(p.conjecture, PREMS)[0][0] == f"p{i}"


def test_the_default_recipe_learns_it_too(tmp_path):
    """`premises train`'s defaults (interact head, shared table, mirror init, popular and self pairs) on the toy."""
    from deeplearn.premises.neural.train import TASK_DEFAULTS

    opts = {**TASK_DEFAULTS, **TINY, "val_fraction": 0.0, "hard_epochs": 5}
    tc = TrainConfig(steps=300, batch_size=36, optimizer="adam", lr=3e-3, threads=1, progress="none", log_every=1000)
    ranker = train(Corpus({}, PROBS), opts, tc, tmp_path / "run", all_problems=True, log=lambda s: None)[0]
    for i, p in enumerate(PROBS):
        assert ranker.rank(p.conjecture, PREMS)[0][0] == f"p{i}"


def test_an_untrained_model_does_not_know(tmp_path):
    # the same pipeline with no training steps fails the test above: that test is not vacuous
    r = tiny_train(tmp_path, steps=1)
    firsts = [r.rank(p.conjecture, PREMS)[0][0] for p in PROBS]
    assert sum(first == f"p{i}" for i, first in enumerate(firsts)) < N


def test_unseen_symbols_still_rank(trained, tmp_path):
    enc = trained.encoding
    assert "s1" in enc.stoi and "zz_new_9" not in enc.stoi
    a, b = f("u1", "zz_new_9(c_unseen)"), f("u2", "yy_other_3(c_unseen)")
    ids_a, ids_b = enc.encode(a), enc.encode(b)
    assert all(0 < i <= enc.buckets for i in (ids_a[0], ids_b[0]))  # unseen symbols go to hash buckets
    assert ids_a[0] != ids_b[0]
    problem = tmp_path / "new.p"
    problem.write_text("fof(n1, axiom, ! [X] : (r(X, s3) | ~ zz_new_9(X))).\nfof(n2, axiom, yy_other_3(c_unseen)).\n"
                       "fof(n3, axiom, ! [X] : (r(X, s4) | ~ q(X))).\n"
                       "fof(goal, conjecture, ! [X] : (zz_new_9(X) => r(X, s3))).\n")
    run = tmp_path / "run"
    trained.save(run)
    loaded = ranker_mod.load(run)
    ranking = loaded.rank(*_conj_and_premises(problem))
    assert sorted(n for n, _ in ranking) == ["n1", "n2", "n3"] and all(math.isfinite(s) for _, s in ranking)
    before = trained.rank(*_conj_and_premises(problem))  # save/load keeps the scores (up to float rounding:
    assert [n for n, _ in ranking] == [n for n, _ in before]  # the loaded ranker may use another thread count)
    assert [v for _, v in ranking] == pytest.approx([v for _, v in before], abs=1e-5)


def _conj_and_premises(path):
    from deeplearn.premises.corpus import load_tptp_problem

    p = load_tptp_problem(path)
    return p.conjecture, p.premises


def test_cli_rank_and_select_with_a_neural_model(trained, tmp_path, capsys):
    run = tmp_path / "run"
    trained.save(run)
    problem = tmp_path / "t3.p"
    problem.write_text("".join(f"fof(p{i}, axiom, ! [X] : (r(X, s{i}) | ~ q(X))).\n" for i in range(N)) +
                       "fof(t3, conjecture, ! [X] : (r(X, s3) => q(X))).\n")
    assert cli.main(["premises", "rank", str(problem), "--method", "neural", "--model", str(run), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("p3\t")
    out = tmp_path / "reduced.p"
    assert cli.main(["premises", "select", str(problem), "--method", "neural", "--model", str(run), "--top", "1",
                     "-o", str(out)]) == 0
    assert "fof(p3," in out.read_text() and "fof(p2," not in out.read_text()
    assert cli.main(["premises", "rank", str(problem), "--method", "knn", "--model", str(run)]) == 2
    assert "holds a 'neural' model" in capsys.readouterr().err


def test_empty_or_corrupt_corpus_gives_a_clear_error(tmp_path, capsys):
    tc = TrainConfig(steps=1, threads=1, progress="none")
    with pytest.raises(DataError, match="no problems"):
        train(Corpus({}, []), {}, tc, tmp_path / "a", all_problems=True)
    unproved = [Problem(p.id, p.conjecture, p.premises, deps=None, index=p.index) for p in PROBS]
    with pytest.raises(DataError, match="has a known proof"):
        train(Corpus({}, unproved), {}, tc, tmp_path / "b", all_problems=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["premises", "train", "--tptp-dir", str(empty), "--out", str(tmp_path / "c")]) == 2
    assert "no *.p" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.p").write_text("fof(a, axiom, p(a)).\nfof(b, conjecture, p(a) &).\n")
    with pytest.raises(DataError, match=r"x\.p.*2.*2[0-9]"):
        load_tptp_dir(bad)
    assert cli.main(["premises", "train", "--tptp-dir", str(bad), "--out", str(tmp_path / "d")]) == 2
    assert "x.p" in capsys.readouterr().err
    with pytest.raises(DataError, match="model.pt|neural model"):
        (tmp_path / "e").mkdir()
        (tmp_path / "e" / "ranker.json").write_text('{"method": "neural", "params": {}}')
        ranker_mod.load(tmp_path / "e")


def test_resume_reuses_finished_rounds_and_refuses_to_overwrite(tmp_path):
    first = tiny_train(tmp_path, steps=20)
    with pytest.raises(DataError, match="--resume"):
        tiny_train(tmp_path, steps=20)
    opts = tiny_opts()
    tc = TrainConfig(steps=20, batch_size=36, optimizer="adam", lr=3e-3, threads=1, progress="none")
    again = train(Corpus({}, PROBS), opts, tc, tmp_path / "run", resume=True, all_problems=True, log=lambda s: None)[0]
    conj = PROBS[0].conjecture
    assert again.rank(conj, PREMS) == first.rank(conj, PREMS)  # both rounds reused: the same weights


def test_a_sigterm_mid_round_stops_training_and_resume_equals_uninterrupted(tmp_path, monkeypatch):
    import os
    import signal

    from deeplearn import engine as train_mod  # train() imports fit from here when it runs

    whole = tiny_train(tmp_path / "whole", steps=20)
    real_fit = train_mod.fit

    def fit_killed_at_step_7(*a, **k):  # a SIGTERM (a timeout, a scheduler) arrives in round 0's step 7
        k["on_step_end"] = lambda step: os.kill(os.getpid(), signal.SIGTERM) if step == 7 else None
        return real_fit(*a, **k)

    monkeypatch.setattr(train_mod, "fit", fit_killed_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        tiny_train(tmp_path / "cut", steps=20)
    assert not (tmp_path / "cut" / "run" / "round1").exists()  # the mining round did not start on a cut round
    monkeypatch.setattr(train_mod, "fit", real_fit)
    tc = TrainConfig(steps=20, batch_size=36, optimizer="adam", lr=3e-3, threads=1, progress="none",
                     log_every=1000)
    resumed = train(Corpus({}, PROBS), tiny_opts(), tc, tmp_path / "cut" / "run", resume=True, all_problems=True,
                    log=lambda s: None)[0]
    conj = PROBS[0].conjecture
    assert resumed.rank(conj, PREMS) == whole.rank(conj, PREMS)


# A toy with more candidates than the top 16, so that the validation recall is not trivially 1.
M = 40
PREMS40 = [f(f"p{i}", f"! [X] : (r(X, s{i}) | ~ q(X))") for i in range(M)]
PROBS40 = [Problem(f"T{i}", f(f"t{i}", f"! [X] : (r(X, s{i}) => q(X))", "conjecture"), PREMS40, deps=[f"p{i}"],
                   index=i) for i in range(M)]


def test_validation_ranking_metrics_equal_the_harness(tmp_path):
    """Each evaluation ranks the validation problems; with --monitor val_recall the saved model is the step that
    ranked them best, and its logged val_recall equals part 1's ranking metrics of the saved ranker."""
    import json
    import statistics

    from deeplearn.premises.evaluate import ranking_metrics

    opts = {**TINY, "val_fraction": 0.25, "hard_rounds": 0, "random_ratio": 3.0}
    tc = TrainConfig(steps=40, batch_size=32, optimizer="adam", lr=3e-3, threads=1, progress="none",
                     log_every=10, eval_every=10, monitor="val_recall", monitor_mode="max")
    run = tmp_path / "run"
    ranker = train(Corpus({}, PROBS40), opts, tc, run, all_problems=True, log=lambda s: None)[0]
    rows = [json.loads(x) for x in (run / "round0" / "metrics.jsonl").read_text().splitlines()]
    logged = [r["val_recall"] for r in rows if "val_recall" in r]
    assert len(logged) == 4 and all(0.0 <= v <= 1.0 for v in logged) and "val_auc" in rows[-1]
    best = json.loads((run / "report.json").read_text())["rounds"][0]["val"]["val_recall"]
    assert best == max(logged)
    per = [ranking_metrics([n for n, _ in ranker.rank(p.conjecture, p.premises)], p.deps) for p in PROBS40[-10:]]
    assert best == pytest.approx(statistics.fmean(statistics.fmean(m[f"recall@{k}"] for k in (16, 32, 64, 128))
                                                  for m in per), abs=1e-9)
    assert (run / "knn" / "ranker.json").exists()  # the k-NN of the same split, for neural+knn


def test_neural_plus_knn_is_reciprocal_rank_fusion(trained, tmp_path, capsys):
    from deeplearn.premises.knn import KNN

    run = tmp_path / "run"
    trained.save(run)
    with pytest.raises(DataError, match="premises fit --method knn"):
        ranker_mod.load(run, "neural+knn")
    KNN().fit(PROBS).save(run / "knn")
    fused = ranker_mod.load(run, "neural+knn")
    conj = PROBS[2].conjecture
    neural = {n: r for r, (n, _) in enumerate(trained.rank(conj, PREMS), start=1)}
    knn = {n: r for r, (n, _) in enumerate(ranker_mod.load(run / "knn").rank(conj, PREMS), start=1)}
    expect = {n: 0.5 / (60 + neural[n]) + 1 / (60 + knn[n]) for n in neural}
    got = fused.rank(conj, PREMS)
    assert dict(got) == pytest.approx(expect)
    assert [n for n, _ in got] == sorted(expect, key=lambda n: -expect[n])
    with pytest.raises(DataError, match="holds a 'neural' model, not 'sine'"):
        ranker_mod.load(run, "sine")
    problem = tmp_path / "t3.p"
    problem.write_text("".join(f"fof(p{i}, axiom, ! [X] : (r(X, s{i}) | ~ q(X))).\n" for i in range(N)) +
                       "fof(t3, conjecture, ! [X] : (r(X, s3) => q(X))).\n")
    assert cli.main(["premises", "rank", str(problem), "--method", "neural+knn", "--model", str(run),
                     "--top", "1"]) == 0
    assert capsys.readouterr().out.startswith("p3\t")


def test_an_ensemble_fuses_saved_rankers_and_moves_with_its_tree(trained, tmp_path, capsys):
    import shutil

    from deeplearn.premises.knn import KNN

    trained.save(tmp_path / "tree" / "a")
    KNN().fit(PROBS).save(tmp_path / "tree" / "b")
    assert cli.main(["premises", "ensemble", str(tmp_path / "tree" / "a"), str(tmp_path / "tree" / "b"),
                     "--weights", "2", "1", "--out", str(tmp_path / "tree" / "ens")]) == 0
    shutil.move(tmp_path / "tree", tmp_path / "moved")
    ens = ranker_mod.load(tmp_path / "moved" / "ens")
    conj = PROBS[4].conjecture
    ra = {n: r for r, (n, _) in enumerate(trained.rank(conj, PREMS), start=1)}
    rb = {n: r for r, (n, _) in enumerate(ranker_mod.load(tmp_path / "moved" / "b").rank(conj, PREMS), start=1)}
    assert dict(ens.rank(conj, PREMS)) == pytest.approx({n: 2 / (60 + ra[n]) + 1 / (60 + rb[n]) for n in ra})
    assert cli.main(["premises", "ensemble", str(tmp_path / "nowhere"), "--out", str(tmp_path / "e2")]) == 2
    assert "nowhere" in capsys.readouterr().err



def _tptp_problems(tmp_path):
    """N TPTP problems T0..T{N-1} in tmp_path/tptp (problem i needs premise p_i), and tmp_path/deps.json."""
    import json

    d = tmp_path / "tptp"
    d.mkdir()
    for i in range(N):
        (d / f"T{i}.p").write_text("".join(f"fof(p{j}, axiom, ! [X] : (r(X, s{j}) | ~ q(X))).\n" for j in range(N)) +
                                   f"fof(t{i}, conjecture, ! [X] : (r(X, s{i}) => q(X))).\n")
    (tmp_path / "deps.json").write_text(json.dumps({f"T{i}": [f"p{i}"] for i in range(N)}))
    return d

def test_evaluate_neural_plus_knn_alone(trained, tmp_path):
    """`evaluate --method neural+knn --model RUN` ranks with the fusion only (not also with RUN's neural model)."""
    import json

    from deeplearn.premises.knn import KNN

    run = tmp_path / "run"
    trained.save(run)
    KNN().fit(PROBS).save(run / "knn")
    d = _tptp_problems(tmp_path)
    out = tmp_path / "ev"
    assert cli.main(["premises", "evaluate", "--tptp-dir", str(d), "--deps", str(tmp_path / "deps.json"),
                     "--method", "neural+knn", "--model", str(run), "--no-prove", "--out", str(out)]) == 0
    assert list(json.loads((out / "ranking_metrics.json").read_text())["metrics"]) == ["neural+knn"]


def test_neural_weight_flag_sets_the_fusion_weight_in_rank_and_evaluate(trained, tmp_path, capsys):
    """`--neural-weight W`: neural+knn scores W / (60 + neural rank) + 1 / (60 + k-NN rank), in `rank` and in
    `evaluate`; a weight far above 1 gives the neural order, far below it k-NN's; without neural+knn it is an
    error."""
    import json

    from deeplearn.premises.knn import KNN

    run = tmp_path / "run"
    trained.save(run)
    KNN().fit(PROBS).save(run / "knn")
    problem = tmp_path / "t3.p"
    problem.write_text("".join(f"fof(p{i}, axiom, ! [X] : (r(X, s{i}) | ~ q(X))).\n" for i in range(N)) +
                       "fof(t3, conjecture, ! [X] : (r(X, s3) => q(X))).\n")
    conj = PROBS[3].conjecture
    neural = {n: r for r, (n, _) in enumerate(trained.rank(conj, PREMS), start=1)}
    knn = {n: r for r, (n, _) in enumerate(ranker_mod.load(run / "knn").rank(conj, PREMS), start=1)}
    for w in (8.0, 0.5):
        args = ["--neural-weight", str(w)] if w != 0.5 else []  # 0.5: the default
        assert cli.main(["premises", "rank", str(problem), "--method", "neural+knn", "--model", str(run)] + args) == 0
        got = {n: float(s) for n, s in (line.split("\t") for line in capsys.readouterr().out.splitlines())}
        assert got == pytest.approx({n: w / (60 + neural[n]) + 1 / (60 + knn[n]) for n in neural}, rel=1e-5)
    assert ranker_mod.load(run, "neural+knn", {"neural_weight": 8.0}).neural_weight == 8.0
    assert cli.main(["premises", "rank", str(problem), "--method", "neural", "--model", str(run),
                     "--neural-weight", "8"]) == 2
    assert "--method neural+knn" in capsys.readouterr().err
    with pytest.raises(DataError, match="wraps"):
        ranker_mod.load(run, "neural", {"neural_weight": 8.0})

    d = _tptp_problems(tmp_path)

    def rankings(method, *extra):
        out = tmp_path / f"ev-{method}-{'-'.join(extra)}"
        assert cli.main(["premises", "evaluate", "--tptp-dir", str(d), "--deps", str(tmp_path / "deps.json"),
                         "--test-fraction", "0.5", "--method", method, "--model", str(run), "--no-prove",
                         "--out", str(out), *extra]) == 0
        return json.loads((out / "rankings.json").read_text())

    neural_order = rankings("neural")["neural"]
    heavy, light = rankings("neural+knn", "--neural-weight", "1000"), rankings("neural+knn", "--neural-weight", "1e-4")
    corpus = load_tptp_dir(d, tmp_path / "deps.json")
    knn_run = ranker_mod.load(run / "knn")
    knn_order = {p.id: [n for n, _ in knn_run.rank(p.conjecture, p.premises)] for p in corpus.problems
                 if p.id in neural_order}
    assert heavy["neural+knn"] == neural_order and light["neural+knn"] == knn_order
    assert neural_order != knn_order  # the two orders differ somewhere, so the weight decides the fused one
