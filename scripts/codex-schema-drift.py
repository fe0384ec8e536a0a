#!/usr/bin/env python3
"""Summarises how Codex's app-server schema changed between two versions.

Usage: codex-schema-drift.py OLD_DIR NEW_DIR
Each directory holds what `codex app-server generate-json-schema --out DIR`
wrote. The summary names the methods added or removed in each direction and
the protocol types added, removed or changed (with the fields and enum values
that came or went), one line each, sorted: stable text to record and diff.
"""
import json
import sys


def definitions(directory):
    with open(f"{directory}/codex_app_server_protocol.schemas.json") as f:
        top = json.load(f)["definitions"]
    # v2 types sit in a nested table; the unions sit at the top.
    defs = {k: v for k, v in top.items() if k != "v2"}
    defs.update(top.get("v2", {}))
    return defs


def methods(union):
    names = set()
    for variant in union.get("oneOf", union.get("anyOf", [])):
        method = variant.get("properties", {}).get("method", {})
        names.update(method.get("enum", []))
    return names


def fields(schema):
    found = set(schema.get("properties", {}))
    for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
        found.update(variant.get("properties", {}))
    return found


def enum_values(schema):
    found = set(schema.get("enum", []))
    for variant in schema.get("oneOf", []) + schema.get("anyOf", []):
        found.update(variant.get("enum", []))
    return found


def main(old_dir, new_dir):
    old, new = definitions(old_dir), definitions(new_dir)
    lines = []
    for union in ("ClientRequest", "ClientNotification", "ServerRequest", "ServerNotification"):
        before, after = methods(old.get(union, {})), methods(new.get(union, {}))
        lines += [f"{union}: + {m}" for m in sorted(after - before)]
        lines += [f"{union}: - {m}" for m in sorted(before - after)]
    unions = {"ClientRequest", "ClientNotification", "ServerRequest", "ServerNotification"}
    lines += [f"type + {name}" for name in sorted(set(new) - set(old))]
    lines += [f"type - {name}" for name in sorted(set(old) - set(new))]
    for name in sorted(set(old) & set(new) - unions):
        if old[name] == new[name]:
            continue
        changes = []
        for label, get in (("field", fields), ("value", enum_values)):
            before, after = get(old[name]), get(new[name])
            changes += [f"+{label} {x}" for x in sorted(after - before, key=str)]
            changes += [f"-{label} {x}" for x in sorted(before - after, key=str)]
        lines.append(f"type ~ {name}: " + (", ".join(changes) or "shape changed"))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
