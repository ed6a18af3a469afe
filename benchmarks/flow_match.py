"""Flow matching quality on the labelled phrasings in ``tests/data/flow_phrasings/``.

Run (from the repository root)::

    .venv/bin/python benchmarks/flow_match.py [--dir tests/data/flow_phrasings]
        [--flows-dir DIR] [--failures]

Prints top-1 accuracy, wrong-flow rate, false matches on small talk and on out-of-library
problems, and no-match precision, for the whole set and for its two parts: the phrasings
used while tuning the matcher and the held-out third (every third entry of each file).
``--flows-dir`` adds a directory of flow files to the built-in library (as
``FLOWPILOT_FLOWS_DIR`` does); ``--failures`` lists every miss. Exit status 0 when the whole
set meets the targets (top-1 >= 95%, wrong flow <= 2%, no small talk matched, no-match
precision >= 95%), 1 when it does not, 2 when the set cannot be read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.flows.evaluate import evaluate, load_phrasings  # noqa: E402
from bot.flows.loader import load_library  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", default=str(ROOT / "tests" / "data" / "flow_phrasings"))
    p.add_argument("--flows-dir", default=None)
    p.add_argument("--failures", action="store_true", help="list every miss")
    args = p.parse_args(argv)
    try:
        phrasings = load_phrasings(args.dir)
    except (OSError, ValueError) as exc:
        print(f"cannot read the phrasings: {exc}", file=sys.stderr)
        return 2
    library = load_library([args.flows_dir] if args.flows_dir else [])
    started = time.perf_counter()
    parts = {
        "all": phrasings,
        "tuning": [x for x in phrasings if not x.held_out],
        "held-out": [x for x in phrasings if x.held_out],
    }
    reports = {name: evaluate(items, library) for name, items in parts.items()}
    elapsed = time.perf_counter() - started
    print(f"{len(phrasings)} phrasings, {len(library)} flows, "
          f"{elapsed / max(1, 3 * len(phrasings)) * 1000:.2f} ms a match")
    for name, report in reports.items():
        skipped = f", {report.skipped} skipped (flow not in library)" if report.skipped else ""
        print(f"\n[{name}] {len(parts[name])} phrasings{skipped}")
        print("\n".join("  " + line for line in report.lines()))
    whole = reports["all"]
    if args.failures and whole.failures:
        print("\nmisses:\n" + "\n".join("  " + f for f in whole.failures))
    ok = whole.meets_targets()
    print(f"\ntargets {'met' if ok else 'MISSED'}: top-1 >= 95%, wrong flow <= 2%, "
          "no small talk matched, no-match precision >= 95%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
