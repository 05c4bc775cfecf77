"""The report: DIR/report.html (one page, inline CSS, no script, images beside it under sections/) and
DIR/report.json (every section's record: claim, verdict, numbers, figures with their numbers and commands)."""

from __future__ import annotations

import json
import os
import time
from html import escape
from pathlib import Path

from deeplearn.lecture.outline import slide_title

CSS = """
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --bg: #fff; --code: #f3f5f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.7rem; margin: .5rem 0; } h2 { font-size: 1.3rem; margin: 2rem 0 .3rem; }
.slide { color: var(--muted); font-size: .9rem; margin: 0; }
.meta, figcaption, .commands { color: var(--muted); font-size: .9rem; }
nav ol { padding-left: 1.4rem; } nav li { margin: .15rem 0; }
section { border-top: 1px solid var(--line); margin-top: 1.5rem; }
.claim { border-left: 4px solid var(--line); margin: .5rem 0; padding: .2rem .8rem; font-style: italic; }
.verdict { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; font-weight: 600; font-size: .9rem; }
.v-holds { background: #d7f5dd; color: #0b5a1c; } .v-does { background: #fde2df; color: #8a1c10; }
.v-not { background: #ececec; color: #444; } .v-failed { background: #8a1c10; color: #fff; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; border: 1px solid var(--line); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem;
            background: var(--code); }
code { padding: 0 .2rem; overflow-wrap: anywhere; }
pre { padding: .6rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.table { overflow-x: auto; } table { border-collapse: collapse; font-size: .9rem; }
td, th { border: 1px solid var(--line); padding: .2rem .5rem; text-align: left; vertical-align: top; }
@media (max-width: 40rem) { body { font-size: 15px; } main { padding: .6rem; } h1 { font-size: 1.35rem; } }
"""


def _badge(verdict: str) -> str:
    cls = {"holds": "v-holds", "does not hold on our data": "v-does", "failed": "v-failed"}.get(verdict, "v-not")
    return f'<span class="verdict {cls}">{escape(verdict)}</span>'


def _flat(numbers: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for k, v in numbers.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            rows += _flat(v, key + " / ")
        elif isinstance(v, float):
            rows.append((key, f"{v:.4g}"))
        elif isinstance(v, list) and all(isinstance(x, (int, float)) for x in v) and len(v) <= 12:
            rows.append((key, ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in v)))
        else:
            rows.append((key, v if isinstance(v, str) else json.dumps(v, default=str)[:400]))
    return rows


def _numbers_table(numbers: dict) -> str:
    rows = _flat(numbers)
    if not rows:
        return ""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<div class="table"><table>{body}</table></div>'


def _figure(f: dict) -> str:
    cmd = f'<br>Command: <code>{escape(f["command"])}</code>' if f.get("command") else ""
    return (f'<figure><img src="{escape(f["path"])}" alt="{escape(f["caption"])}" loading="eager">'
            f'<figcaption>{escape(f["caption"])}{cmd}</figcaption></figure>')


def _section(r: dict) -> str:
    parts = [f'<section id="{escape(r["id"])}">',
             f'<p class="slide">{escape(slide_title(r.get("slide", "")))}</p>',
             f'<h2>{escape(r["title"])}</h2>',
             f'<p class="claim">The lecture: {escape(r["claim"])}</p>',
             f'<p>{_badge(r["verdict"])} {escape(r["reason"])}</p>']
    parts += [_figure(f) for f in r.get("figures", [])]
    if r.get("text"):
        parts.append(f'<pre>{escape(r["text"])}</pre>')
    parts.append(_numbers_table(r.get("numbers", {})))
    if r.get("commands"):
        cmds = "".join(f"<li><code>{escape(c)}</code></li>" for c in r["commands"])
        parts.append(f'<details class="commands"><summary>What we ran ({len(r["commands"])} '
                     f'command{"s" if len(r["commands"]) != 1 else ""})</summary><ol>{cmds}</ol></details>')
    if "wall_time_s" in r:
        cuda = f", {r['cuda']}" if r.get("cuda") else ""
        parts.append(f'<p class="meta">{escape(r.get("mode", ""))} run on {escape(str(r.get("processor")))} '
                     f'({r.get("cores")} cores{escape(cuda)}), {r.get("threads")} threads, torch '
                     f'{escape(str(r.get("torch")))}, Python {escape(str(r.get("python")))}; wall time '
                     f'{r["wall_time_s"]:.1f} s; started {escape(r.get("started", ""))}.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _toc(records: list[dict]) -> str:
    items = "".join(f'<li><a href="#{escape(r["id"])}">{escape(r["title"])}</a> {_badge(r["verdict"])}</li>'
                    for r in records)
    return f'<nav id="contents"><h2>Contents</h2><ol>{items}</ol></nav>'


def render(records: list[dict]) -> str:
    done = [r for r in records if "wall_time_s" in r]
    total = sum(r["wall_time_s"] for r in done)
    counts = {}
    for r in records:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    tally = "; ".join(f"{v}: {n}" for v, n in counts.items())
    modes = sorted({r.get("mode", "") for r in done})
    hosts = sorted({f"{r.get('processor')} ({r.get('cores')} cores), {r.get('threads')} threads, torch "
                    f"{r.get('torch')}" for r in done})
    head = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>Deep Learning Introduction, measured</title>'
            f'<style>{CSS}</style></head><body><main>')
    intro = ("<h1>Deep Learning Introduction, measured</h1>"
             "<p>Each claim of the lecture (Christian Szegedy and Geoffrey Irving, Google Research), in the "
             "lecture's order, checked by running this project's systems: what the slide claims, what we ran, "
             "the picture, the numbers and a verdict.</p>"
             f'<p class="meta">{len(done)} of {len(records)} sections run ({escape(", ".join(modes))} mode), '
             f'{total:.0f} s of wall time in all; {escape(tally)}. Machine: {escape("; ".join(hosts))}. Written '
             f'{time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} by <code>deeplearn lecture</code>.</p>')
    body = "\n".join(_section(r) for r in records)
    return head + intro + _toc(records) + body + "</main></body></html>\n"


def write_report(out: Path, records: list[dict]) -> Path:
    path = out / "report.html"
    _atomic(path, render(records))
    _atomic(out / "report.json", json.dumps({"sections": records}, indent=1, default=float) + "\n")
    return path


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
