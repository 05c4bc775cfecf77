"""Run the lecture's sections in order, each once: a section's result is stored in DIR/sections/ID/result.json
and a later run with the same mode skips it (resume); a section that raises is stored as failed with the reason
and is tried again next time; the report is rewritten after every section."""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
import traceback
from pathlib import Path

from deeplearn.lecture.outline import slide_index
from deeplearn.report import Context, Section, outcome_to_dict
from deeplearn.paths import DataError

RESULT = "result.json"


def all_sections() -> list[Section]:
    """Every system's sections (System.report), plus a "not landed yet" one for each pending slide that no
    system covers, in the lecture's order."""
    from deeplearn.cli import SYSTEMS
    from deeplearn.lecture.pending import pending_sections

    found: list[Section] = []
    for system in SYSTEMS:
        provider = system.report_section()
        if provider is not None:
            found += list(provider())
    ids = {s.id for s in found}
    found += [s for s in pending_sections() if s.id not in ids]
    seen = set()
    for s in found:
        if s.id in seen:
            raise ValueError(f"two lecture sections are named {s.id!r}")
        seen.add(s.id)
    order = {s.id: i for i, s in enumerate(found)}
    return sorted(found, key=lambda s: (slide_index(s.slide), order[s.id]))


def select(sections: list[Section], only: list[str] | None) -> list[Section]:
    if not only:
        return sections
    known = {s.id for s in sections}
    unknown = [o for o in only if o not in known]
    if unknown:
        raise DataError(f"--only {' '.join(unknown)}: unknown section; known: {', '.join(s.id for s in sections)}")
    return [s for s in sections if s.id in only]


def machine() -> dict:
    import torch

    return {"machine": platform.machine(), "processor": _cpu_name(), "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_result(out: Path, section_id: str) -> dict | None:
    path = out / "sections" / section_id / RESULT
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def is_finished(result: dict | None, mode: str) -> bool:
    return bool(result) and result.get("status") == "done" and result.get("mode") == mode


def run_section(section: Section, out: Path, mode: str, threads: int, data_dir: str | None) -> dict:
    """Run one section in a fresh folder; its result record (also written to its result.json)."""
    import torch

    folder = out / "sections" / section.id
    if folder.exists():
        shutil.rmtree(folder)  # a killed or failed attempt: start the section over
    folder.mkdir(parents=True)
    record = {"id": section.id, "title": section.title, "slide": section.slide, "claim": section.claim,
              "mode": mode, "threads": threads, **machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                       time.gmtime())}
    t = time.perf_counter()
    with open(folder / "log.txt", "w") as log:
        ctx = Context(dir=folder, report_dir=out, mode=mode, threads=threads, data_dir=data_dir, log=log)
        torch.set_num_threads(threads)
        try:
            outcome = section.run(ctx)
            record.update(status="done", **outcome_to_dict(outcome))
        except Exception as e:  # noqa: BLE001 - any failure is the section's, reported with its reason
            log.write(traceback.format_exc())
            record.update(status="failed", verdict="failed", reason=_reason(e), figures=[], numbers={}, text="")
    record.update(commands=ctx.commands, wall_time_s=round(time.perf_counter() - t, 2))
    tmp = folder / (RESULT + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float) + "\n")
    os.replace(tmp, folder / RESULT)
    return record


def _reason(e: Exception) -> str:
    from deeplearn.report import SectionError

    if isinstance(e, (DataError, SectionError)):
        return str(e)
    return f"{type(e).__name__}: {e}"


def run_lecture(out: Path, mode: str = "quick", only: list[str] | None = None, threads: int | None = None,
                data_dir: str | None = None, log=print) -> list[dict]:
    """Run the selected sections (finished ones are kept), then write DIR/report.html and DIR/report.json.

    Returns:
        every section's record, in the lecture's order (sections never run are marked "not run").
    """
    from deeplearn.lecture.html import write_report

    out.mkdir(parents=True, exist_ok=True)
    threads = threads or os.cpu_count() or 1
    sections = all_sections()
    chosen = select(sections, only)
    for i, s in enumerate(chosen, 1):
        if is_finished(load_result(out, s.id), mode):
            log(f"[{i}/{len(chosen)}] {s.id}: finished earlier, kept")
            continue
        log(f"[{i}/{len(chosen)}] {s.id}: {s.title} ...")
        r = run_section(s, out, mode, threads, data_dir)
        log(f"[{i}/{len(chosen)}] {s.id}: {r['verdict']} ({r['wall_time_s']:.1f} s): {r['reason']}")
        write_report(out, records(out, sections))
    recs = records(out, sections)
    write_report(out, recs)
    return recs


def records(out: Path, sections: list[Section]) -> list[dict]:
    recs = []
    for s in sections:
        r = load_result(out, s.id)
        recs.append(r or {"id": s.id, "title": s.title, "slide": s.slide, "claim": s.claim, "status": "not run",
                          "verdict": "not run", "reason": f"not run yet: deeplearn lecture --only {s.id}",
                          "figures": [], "numbers": {}, "commands": [], "text": ""})
    return recs
