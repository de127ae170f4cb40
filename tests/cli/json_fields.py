#!/usr/bin/env python3
"""Compares the JSON fields documented in docs/json.md with those real reports hold.

usage: json_fields.py [--only-present] DOC REPORT.json...   (or: --list REPORT.json...)

Each report's "schema" picks its section of the document. Every field a report holds must be
documented with its type; every documented field not marked optional ("?") must appear in
some report of that schema (not with --only-present: for a test that sees a few reports
only). Exits 1 and names each difference.
"""
import json
import re
import sys


def walk(value, path, out):
    kind = {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "number", float: "number", type(None): "null"}[type(value)]
    if path:
        out.setdefault(path, set()).add(kind)
    if isinstance(value, dict):
        for k, v in value.items():
            walk(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list):
        for v in value:
            walk(v, f"{path}[]", out)


def documented(doc_path):
    sections = {}
    current = None
    for line in open(doc_path, encoding="utf-8"):
        m = re.match(r"^```fields (\S+)(?: extends (\S+))?", line)
        if m:
            current = sections.setdefault(m.group(1), {})
            if m.group(2):  # every field of an earlier schema, then its own
                current.update(sections[m.group(2)])
            continue
        if line.startswith("```"):
            current = None
            continue
        if current is not None and line.strip():
            # "path type [?]  description": "?" marks a field that may be absent.
            parts = line.split()
            optional = len(parts) > 2 and parts[2] == "?"
            types = set(parts[1].split("|"))
            current[parts[0]] = (types, optional)
    return sections


def main():
    args = sys.argv[1:]
    only_present = args[0] == "--only-present"
    if only_present:
        args = args[1:]
    seen = {}
    for report in (args[1:] if args[0] != "--list" else args[1:]):
        data = json.load(open(report, encoding="utf-8"))
        walk(data, "", seen.setdefault(data["schema"], {}))
    if args[0] == "--list":
        for schema, fields in sorted(seen.items()):
            print(f"```fields {schema}")
            for path, kinds in sorted(fields.items()):
                print(f"{path} {'|'.join(sorted(kinds))}")
            print("```")
        return 0
    doc = documented(args[0])
    problems = []
    for schema, fields in sorted(seen.items()):
        if schema not in doc:
            problems.append(f"{schema}: not documented at all")
            continue
        for path, kinds in sorted(fields.items()):
            if path not in doc[schema]:
                problems.append(f"{schema}: field {path} is not documented")
            elif not kinds <= doc[schema][path][0]:
                problems.append(f"{schema}: {path} is {'|'.join(sorted(kinds))}, documented "
                                f"as {'|'.join(sorted(doc[schema][path][0]))}")
        for path, (_, optional) in sorted(doc[schema].items()):
            if not optional and not only_present and path not in fields:
                problems.append(f"{schema}: documented field {path} appears in no report")
    for p in problems:
        print("json_fields:", p)
    return 1 if problems else 0


sys.exit(main())
