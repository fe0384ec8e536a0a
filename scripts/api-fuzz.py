"""Helpers for scripts/api-fuzz (run with the schemathesis venv's Python).

  api-fuzz.py field FILE a.b   the field a.b of a JSON file, or nothing
  api-fuzz.py toml STRING      STRING as a TOML basic string
  api-fuzz.py summary REPORT   a short summary of schemathesis' JSON report
"""

import json
import sys
import textwrap


def field(path, dotted):
    try:
        value = json.load(open(path))
        for key in dotted.split("."):
            value = value[key]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if value is not None:
        print(value)


def summary(path):
    try:
        report = json.load(open(path))
    except (OSError, ValueError):
        print("== api-fuzz: no schemathesis report (it stopped before the end)")
        return
    ops, cases = report["operations"], report["test_cases"]
    print(
        f"== api-fuzz: {ops['tested']} of {ops['total']} operations tested "
        f"({ops['total'] - ops['selected']} left out), {cases['generated']} cases, "
        f"{cases['unique_failures']} unique failures, {len(report['errors'])} errors, "
        f"{report['running_time']:.0f} s, seed {report['seed']}, {report['stop_reason']}"
    )
    for entry in report["failures"] + report["errors"]:
        label = f"   {entry.get('code', 'error')} {entry.get('title', '?')} ({entry.get('count', 1)})"
        # One operation never splits across lines (its space is a no-break one).
        listing = ", ".join(op.replace(" ", "\u00a0") for op in entry.get("operations", []))
        lines = textwrap.fill(listing, 100, initial_indent=label + ": ", subsequent_indent=" " * 6)
        print(lines.replace("\u00a0", " ") if listing else label)
    for kind, items in (report.get("warnings") or {}).items():
        if items:
            print(f"   warning {kind}: {len(items)} ({', '.join(map(str, items[:3]))}{', …' if len(items) > 3 else ''})")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "field":
        field(*args)
    elif command == "toml":
        print(json.dumps(args[0]))  # TOML basic strings accept JSON's escapes
    elif command == "summary":
        summary(*args)
    else:
        sys.exit(__doc__)
