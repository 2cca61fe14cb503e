#!/usr/bin/env python3
"""Lists every public symbol of the given modules that has no `///` comment, from the symbol
graphs `swift package generate-documentation` extracts, and exits 1 if there is any.

DocC does not warn about undocumented symbols, so Tools/docs.sh runs this after it. A symbol
counts as documented when it has its own comment, or when it implements a protocol requirement
and the compiler hands it the requirement's comment (`description`, `==`, a `FormatPlugin`'s
`name`): DocC shows that comment on the symbol's page. Compiler-synthesised members and
extension blocks are not written in the source and are skipped.

usage: doc_coverage.py BUILD_DIRECTORY MODULE...

The plugin writes each module's graphs to BUILD_DIRECTORY/<triple>/extracted-symbols/<package
directory>/<module>/; when a build directory holds several (another triple, a renamed
checkout), the most recently written are used.
"""
import glob
import json
import os
import sys


def undocumented(path):
    graph = json.load(open(path))
    missing = []
    for symbol in graph["symbols"]:
        kind = symbol["kind"]["identifier"]
        if kind == "swift.extension" or "::SYNTHESIZED::" in symbol["identifier"]["precise"]:
            continue
        comment = symbol.get("docComment")
        if comment and any(line["text"].strip() for line in comment.get("lines", [])):
            continue
        location = symbol.get("location", {})
        where = location.get("uri", "?").replace("file://", "")
        line = location.get("position", {}).get("line", -1) + 1
        missing.append(f"{os.path.relpath(where)}:{line}: {kind.removeprefix('swift.')} "
                       f"{'.'.join(symbol['pathComponents'])}")
    return missing


def main():
    root, modules = sys.argv[1], sys.argv[2:]
    total = 0
    for module in modules:
        directories = {os.path.dirname(path) for path in
                       glob.glob(os.path.join(root, "*", "extracted-symbols", "*", module, "*.symbols.json"))}
        if not directories:
            print(f"doc_coverage: no symbol graph for {module} under {root}", file=sys.stderr)
            return 2
        newest = max(directories, key=lambda d: max(os.path.getmtime(p) for p in glob.glob(os.path.join(d, "*.symbols.json"))))
        paths = glob.glob(os.path.join(newest, "*.symbols.json"))
        missing = sorted(set(m for path in paths for m in undocumented(path)))
        total += len(missing)
        for entry in missing:
            print(f"undocumented: {entry}")
    print(f"doc_coverage: {total} public symbols without a doc comment in {', '.join(modules)}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
