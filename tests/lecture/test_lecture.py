"""`deeplearn lecture`: one cheap section end to end, a failing section beside a good one, resume, the section
protocol of every system, and the report in a real headless Chromium."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deeplearn.cli import SYSTEMS
from deeplearn.lecture.outline import SLIDE_IDS
from deeplearn.lecture.run import all_sections
from deeplearn.report import UNTESTABLE, VERDICTS, Section

REPO = Path(__file__).resolve().parents[2]


def lecture(*args, cwd=REPO):
    """Run `deeplearn lecture ARGS` as a user would; (exit status, stdout + stderr)."""
    p = subprocess.run([sys.executable, "-m", "deeplearn", "lecture", *map(str, args), "--threads", "1"],
                       capture_output=True, text=True, cwd=cwd, env={**_env(), "PYTHONPATH": str(REPO)})
    return p.returncode, p.stdout + p.stderr


def _env():
    import os

    return dict(os.environ)


def result(out: Path, section: str) -> dict:
    return json.loads((out / "sections" / section / "result.json").read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report with one cheap real section (autodiff), a --quick one without its data (premises: not testable)
    and, in --full, one that fails (premises without its data)."""
    out = tmp_path_factory.mktemp("lecture")
    rc, log = lecture("--quick", "--only", "premises", "autodiff", "detection", "--data-dir", out / "no-data",
                      "--out", out)
    assert rc == 0, log  # a fresh machine without the data sets: nothing fails in --quick
    quick_premises = {**result(out, "premises"), "detection": result(out, "detection")}
    rc, log = lecture("--full", "--only", "premises", "autodiff", "--data-dir", out / "no-data", "--out", out)
    return out, rc, log, quick_premises


def test_quick_only_one_cheap_section_makes_its_figure_and_verdict(report):
    out, _, log, _ = report
    r = result(out, "autodiff")
    assert r["status"] == "done" and r["verdict"] in VERDICTS, log
    assert r["verdict"] == "holds" and r["numbers"]["max_rel_error"] < 1e-5
    fig = out / r["figures"][0]["path"]
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and fig.stat().st_size > 5000
    assert r["figures"][0]["caption"] and r["figures"][0]["command"]
    assert r["threads"] == 1 and r["torch"] and r["wall_time_s"] > 0
    data = json.loads((out / "report.json").read_text())
    by_id = {s["id"]: s for s in data["sections"]}
    assert by_id["autodiff"]["figures"][0]["numbers"]["checked"] == 200
    html = (out / "report.html").read_text()
    assert 'id="autodiff"' in html and r["figures"][0]["path"] in html and "wall time" in html


def test_a_failing_section_is_marked_failed_with_its_reason_and_the_others_still_run(report):
    out, rc, log, _ = report
    assert rc == 1 and "failed: premises" in log
    r = result(out, "premises")
    assert r["status"] == "failed" and r["verdict"] == "failed" and r["mode"] == "full"
    assert "no-data" in r["reason"] and "Traceback" not in r["reason"]
    assert "Traceback" in (out / "sections" / "premises" / "log.txt").read_text()  # the details stay in its log
    assert result(out, "autodiff")["status"] == "done"  # run after the failure
    html = (out / "report.html").read_text()
    assert "v-failed" in html and 'id="premises"' in html


def test_a_finished_section_is_not_redone_and_a_killed_one_is_started_over(tmp_path):
    rc, _ = lecture("--only", "autodiff", "--out", tmp_path)
    assert rc == 0
    first = result(tmp_path, "autodiff")
    rc, log = lecture("--only", "autodiff", "--out", tmp_path)
    assert rc == 0 and "autodiff: finished earlier, kept" in log
    assert result(tmp_path, "autodiff")["started"] == first["started"]
    # a run killed inside a section leaves its folder without result.json: the next run does it again
    killed = tmp_path / "sections" / "autodiff"
    (killed / "result.json").unlink()
    (killed / "half-written.png").write_bytes(b"")
    rc, log = lecture("--only", "autodiff", "--out", tmp_path)
    assert rc == 0 and "finished earlier" not in log
    assert result(tmp_path, "autodiff")["status"] == "done" and not (killed / "half-written.png").exists()
    # another mode is another experiment: not kept (autodiff is the same check in both modes)
    rc, log = lecture("--full", "--only", "autodiff", "--out", tmp_path)
    assert result(tmp_path, "autodiff")["mode"] == "full"


def test_an_unknown_section_is_a_one_line_error(tmp_path):
    rc, log = lecture("--only", "no-such", "--out", tmp_path)
    assert rc == 2 and "no-such" in log and "autodiff" in log and "Traceback" not in log


def test_every_system_report_gives_sections_in_the_lecture_order():
    sections = all_sections()
    assert len({s.id for s in sections}) == len(sections)
    assert all(isinstance(s, Section) and s.slide in SLIDE_IDS and s.claim for s in sections)
    order = [SLIDE_IDS.index(s.slide) for s in sections]
    assert order == sorted(order)
    for system in SYSTEMS:
        if system.report:
            assert system.report_section()(), system.name
    ids = {s.id for s in sections}
    assert {"traditional", "relu-tanh", "sgd", "cnn-vs-mlp", "filters", "deepdream", "text", "spn", "arora",
            "premises", "detection", "style"} <= ids
    # the detection and style systems have landed: their own sections, between batchnorm and text
    by_id = {s.id: s for s in sections}
    assert by_id["detection"].run.__module__ == "deeplearn.vision.detect.lecture"
    assert by_id["style"].run.__module__ == "deeplearn.vision.style.lecture"
    names = [s.id for s in sections]
    assert names.index("batchnorm") < names.index("detection") < names.index("style") < names.index("text")


def test_premises_without_its_data_is_not_testable_in_quick_not_failed(report):
    _, _, _, r = report
    assert r["status"] == "done" and r["verdict"] == UNTESTABLE and r["mode"] == "quick"
    assert "MPTP2078" in r["reason"] and "no-data" in r["reason"] and r["commands"] == []
    d = r["detection"]
    assert d["verdict"] == UNTESTABLE and "mnist.npz" in d["reason"] and d["commands"] == []


def test_quick_style_makes_its_picture_and_a_verdict_from_the_measured_distances(tmp_path):
    rc, log = lecture("--quick", "--only", "style", "--out", tmp_path)
    r = result(tmp_path, "style")
    assert rc == 0 and r["status"] == "done" and r["verdict"] in ("holds", "does not hold on our data"), log
    d = r["numbers"]["distances"]
    assert set(d) == {"output", "content image", "style image"}
    assert (r["verdict"] == "holds") == (d["output"]["style"] < d["content image"]["style"])
    fig = tmp_path / r["figures"][0]["path"]
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and r["figures"][0]["command"].startswith("deeplearn vision style")


# --- the report in a real browser -------------------------------------------------------------------------

def _browser_or_skip():
    from deeplearn.lecture.browser import chromium

    if chromium() is None:
        pytest.skip("needs a chromium binary (Debian: apt-get install chromium; .ci/run installs it)")
    pytest.importorskip("websocket", reason="needs the websocket-client package (the dev extra)")


@pytest.mark.parametrize("width, height, mobile", [(1200, 900, False), (390, 844, True)])
def test_the_report_renders_in_headless_chromium(report, width, height, mobile, tmp_path):
    _browser_or_skip()
    from deeplearn.lecture.browser import check_report

    out, _, _, _ = report
    facts = check_report(out / "report.html", tmp_path / "shot.png", width, height, mobile)
    assert facts["title"] and facts["sections"] == len(all_sections())
    assert facts["images"] >= 1 and facts["broken"] == []  # every image loads (naturalWidth > 0)
    assert facts["errors"] == []  # no console errors
    assert facts["links"] == facts["sections"] and facts["dangling"] == []  # the contents links resolve
    assert facts["overflow"] <= 0  # nothing wider than the screen, phone included
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_the_browser_check_sees_a_broken_image_and_a_console_error(tmp_path):
    _browser_or_skip()
    from deeplearn.lecture.browser import check_report

    page = tmp_path / "bad.html"
    page.write_text('<html><body><nav><a href="#nowhere">x</a></nav><main><section id="a"></section></main>'
                    '<img src="missing.png"><script>console.error("boom")</script></body></html>')
    facts = check_report(page)
    assert facts["broken"] == ["missing.png"] and facts["dangling"] == ["#nowhere"]
    assert any("boom" in e for e in facts["errors"])


def test_a_refused_command_inside_a_section_is_a_section_error_naming_it(tmp_path):
    from deeplearn.report import Context, SectionError

    ctx = Context(dir=tmp_path, report_dir=tmp_path)
    with pytest.raises(SectionError, match="--no-such-option"):
        ctx.cli(["train", "--no-such-option"])  # argparse's SystemExit must not end the whole lecture
    assert ctx.commands == ["deeplearn train --no-such-option"]
