"""`deeplearn lecture [--quick|--full] [--only SECTION...] --out DIR`: the lecture's claims, measured."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("lecture", help="run every system's claims of the lecture; write an HTML report",
                       description="Run each section of the lecture (its claim, measured by this project's "
                                   "systems) and write DIR/report.html and DIR/report.json. Finished sections "
                                   "are kept (a rerun or a killed run continues); failed ones are tried again.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="embedded data and small budgets, minutes on a laptop CPU (the default)")
    mode.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the real data sets (--data-dir / $DEEPLEARN_DATA) and the README's budgets")
    p.set_defaults(mode="quick")
    p.add_argument("--only", nargs="+", metavar="SECTION", help="run only these sections (see --list)")
    p.add_argument("--out", help="report directory (required unless --list)")
    p.add_argument("--threads", type=int, help="torch threads of every section (default: all cores)")
    p.add_argument("--data-dir", help="data root for --full and for sections that need real data "
                                      "(default: $DEEPLEARN_DATA)")
    p.add_argument("--list", action="store_true", help="list the sections in the lecture's order and exit")
    p.set_defaults(func=cmd_lecture)


def cmd_lecture(args) -> int:
    from pathlib import Path

    from deeplearn.lecture.run import all_sections, run_lecture
    from deeplearn.paths import DataError

    if args.list:
        for s in all_sections():
            print(f"{s.id:<14} [{s.slide}] {s.title}")
        return 0
    if not args.out:
        raise DataError("deeplearn lecture needs --out DIR (the report directory)")
    if args.threads is not None and args.threads < 1:
        raise DataError(f"--threads {args.threads}: must be >= 1")
    records = run_lecture(Path(args.out), args.mode, args.only, args.threads, args.data_dir)
    failed = [r["id"] for r in records if r["status"] == "failed"]
    print(f"report: {Path(args.out) / 'report.html'} (and report.json)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0
