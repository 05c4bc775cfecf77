from __future__ import annotations

import pytest

from deeplearn.paths import DataError
from deeplearn.premises import ranker as ranker_mod
from deeplearn.premises.corpus import Problem
from deeplearn.premises.tptp import parse_formula


def f(name: str, body: str):
    return parse_formula(f"fof({name}, axiom, {body}).")


# A toy corpus where the useful premises share no symbol with the conjectures: only learning from the
# training proofs can find them. t1 (about a, b) was proved with p_z, t2 (about c, d) with p_y.
P_Y, P_Z, P_W = f("p_y", "y(k)"), f("p_z", "z(k)"), f("p_w", "w(k)")
T1 = f("t1", "! [X] : (a(X) => b(X))")
T2 = f("t2", "! [X] : (c(X) => d(X))")
TRAIN = [Problem("T1", T1.with_role("conjecture"), [P_Y, P_Z, P_W], deps=["p_z"], index=0),
         Problem("T2", T2.with_role("conjecture"), [P_Y, P_Z, P_W, T1], deps=["p_y"], index=1)]
PREMISES = [P_Y, P_Z, P_W, T1, T2]


def names(ranking):
    return [n for n, _ in ranking]


@pytest.mark.parametrize("method", ["knn", "nb"])
def test_learned_rankers_follow_the_training_proofs(method):
    r = ranker_mod.get(method).fit(TRAIN)
    like_t1 = f("q1", "! [X] : (b(X) | ~ a(X))").with_role("conjecture")
    order = names(r.rank(like_t1, PREMISES))
    assert sorted(order) == sorted(p.name for p in PREMISES)  # every premise ranked
    assert order.index("p_z") < order.index("p_y") and order.index("p_z") < order.index("p_w")
    like_t2 = f("q2", "? [X] : (c(X) & d(X))").with_role("conjecture")
    order = names(r.rank(like_t2, PREMISES))
    assert order.index("p_y") < order.index("p_z") and order.index("p_y") < order.index("p_w")


@pytest.mark.parametrize("method", ["knn", "nb"])
def test_unfitted_learners_cannot_know_the_answer(method):
    # Without the proofs the symbol-free premises p_y/p_z are indistinguishable: the test above is not vacuous.
    r = ranker_mod.get(method).fit([])
    like_t1 = f("q1", "! [X] : (b(X) | ~ a(X))").with_role("conjecture")
    scores = dict(r.rank(like_t1, PREMISES))
    assert scores["p_z"] == scores["p_y"]


CHAIN = [f("ax1", "! [X] : (p(X) => q(X))"), f("ax2", "! [X] : (q(X) => s(X))"), f("ax3", "w(c1)"),
         f("ax4", "s(c2)")]


def test_sine_follows_the_trigger_chain():
    order = names(ranker_mod.get("sine").rank(f("g", "p(c0)").with_role("conjecture"), CHAIN))
    # p triggers ax1; ax1's q triggers ax2 (q is ax2's rarest symbol); s then triggers ax4; w never.
    assert order == ["ax1", "ax2", "ax4", "ax3"]


def test_sine_arrays_rank_as_the_reference_rule():
    # the array version (rank) and the plain-Python statement of the rule (rank_reference) agree exactly, on
    # chains, ties between triggers of equal depth, empty premises and symbols the conjecture alone has
    from deeplearn.premises.sine import SInE

    prems = CHAIN + [f("ax5", "q(c1) & w(c2)"), f("ax6", "$true"), f("ax7", "s(c1) | t(c3)"), f("ax8", "t(c3)"),
                     f("ax9", "! [X] : (p(X) | r(X))")]
    for body in ["p(c0)", "q(c1)", "w(c2) & t(c4)", "zz(c9)", "s(c2) & p(c1)"]:
        g = f("g", body).with_role("conjecture")
        for tol in (1.0, 1.2, 3.0):
            s = SInE(tolerance=tol)
            assert s.rank(g, prems) == s.rank_reference(g, prems)
            assert s.rank(g, prems[::-1]) == s.rank_reference(g, prems[::-1])
    assert SInE().rank(f("g", "p(c0)").with_role("conjecture"), []) == []


def test_knn_arrays_rank_as_the_reference_rule():
    # KNN.rank (arrays) against rank_reference (plain Python): the same order and scores, for conjectures that
    # are training examples, unseen ones, one with no symbol, ties between equal neighbours (k small), a premise
    # list reversed, and an example removed after the arrays were built (the leave-one-out use)
    from deeplearn.premises.knn import KNN

    twin = f("t1_twin", "! [X] : (a(X) => b(X))")  # the same formula as T1 under another name: equal similarities
    train = TRAIN + [Problem("T3", twin.with_role("conjecture"), [P_Y, P_Z, P_W, T1, T2], deps=["p_w"], index=2)]
    prems = PREMISES + [twin, f("p_v", "v(k) & a(k)"), f("p_e", "$true")]
    goals = [f("g1", "! [X] : (a(X) => b(X))").with_role("conjecture"), f("q1", "! [X] : (b(X) | ~ a(X))").with_role("conjecture"),
             f("q3", "zz(c9)").with_role("conjecture"), f("q4", "$true").with_role("conjecture")]
    for k in (1, 2, 40):
        r = KNN(k=k).fit(train)
        for g in goals:
            for ps in (prems, prems[::-1], prems[:3]):
                fast, ref = r.rank(g, ps), r.rank_reference(g, ps)
                assert names(fast) == names(ref)
                assert [v for _, v in fast] == pytest.approx([v for _, v in ref], rel=0, abs=1e-12)
        own = r.examples.pop("t1_twin")  # t1_twin's proof no longer votes, in both
        assert names(r.rank(goals[0], prems)) == names(r.rank_reference(goals[0], prems))
        r.examples["t1_twin"] = own
    assert KNN().fit(train).rank(goals[1], []) == []


def test_array_order_sorts_as_the_reference():
    # ranker.order (lexsort on Python-rounded scores) against sorted(key=(-round(s, 9), -i)): ties, scores equal
    # to 9 digits, values at a half of the 9th digit (where numpy's and Python's rounding may differ)
    import random

    import numpy as np

    from deeplearn.premises.ranker import order, order_reference, round9

    rng = random.Random(0)
    for trial in range(200):
        n = rng.randint(0, 60)
        pool = [0.0, 1.0, -1.0, 0.5, 1e-10, 3e-10, rng.random()]
        s = [rng.choice(pool) + rng.choice([0.0, 1e-12, 4e-10, 5e-10, 0.5e-9 + 1e-18, rng.random() * 1e-8])
             for _ in range(n)]
        assert order(np.array(s)).tolist() == order_reference(s)
    halves = np.array([(i + 0.5) / 1e9 for i in range(2000)] + [1.0000000005, 2.5e-9, 0.1234567895])
    assert round9(halves).tolist() == [round(float(x), 9) for x in halves]


def test_mepo_orders_by_relevance():
    order = names(ranker_mod.get("mepo").rank(f("g", "p(c0) & q(c0)").with_role("conjecture"), CHAIN))
    assert order[:2] == ["ax1", "ax2"] and order[-1] == "ax3"


def test_registry_and_persistence(tmp_path):
    assert {"sine", "mepo", "knn", "nb"} <= set(ranker_mod.available())
    with pytest.raises(DataError, match="unknown ranking method"):
        ranker_mod.get("oracle")
    r = ranker_mod.get("nb").fit(TRAIN)
    r.save(tmp_path / "run")
    loaded = ranker_mod.load(tmp_path / "run")
    g = f("q1", "a(k) => b(k)").with_role("conjecture")
    assert loaded.name == "nb" and loaded.rank(g, PREMISES) == r.rank(g, PREMISES)
    with pytest.raises(DataError, match="ranker.json"):
        ranker_mod.load(tmp_path / "nothing")
