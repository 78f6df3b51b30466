#!/usr/bin/env python3
"""Import circles between files of a crate, from its `crate::` paths.

A file imports another when it names a path under `crate::` that lands
in it (a module file, or an item of one). Doc comments are not imports.
A circle means two files each need the other: neither can be read, moved
or tested alone. Exits 1 listing every circle found in the crates given;
`crate:module` reports only circles through that module's files (billing's
record is one type whose methods live in several files, so only its Stripe
client must stand apart there).

    python3 tests/check_imports.py bot-service billing-service:stripe_api
"""

import pathlib
import re
import sys

PATH = re.compile(r"\bcrate((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"use crate::([A-Za-z0-9_:]*)\{([^;]*)\};", re.S)


def module_of(src: pathlib.Path, file: pathlib.Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return tuple(parts)


def code(text: str) -> str:
    """The text without comments (doc links are not imports)."""
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def referenced(text: str) -> list:
    """Every `crate::a::b::c` path, with `use crate::a::{b, c::d}` expanded."""
    paths = []
    for prefix, inner in USE_GROUP.findall(text):
        for item in re.split(r"[,\s]+", inner):
            item = item.strip().split(" as ")[0]
            if item and item not in ("self", "*") and not item.startswith("{"):
                paths.append((prefix + item).strip(":").split("::"))
            elif item == "self":
                paths.append(prefix.strip(":").split("::"))
    text = USE_GROUP.sub("", text)
    for m in PATH.finditer(text):
        paths.append(m.group(1).strip(":").split("::"))
    return paths


def graph(crate: str) -> dict:
    src = pathlib.Path(crate) / "src"
    files = {module_of(src, f): f for f in src.rglob("*.rs")}
    edges = {}
    for mod, f in files.items():
        targets = set()
        for path in referenced(code(f.read_text())):
            # The longest module prefix of the path is the file it names.
            for n in range(len(path), 0, -1):
                if tuple(path[:n]) in files:
                    if tuple(path[:n]) != mod and tuple(path[:n]) != ():
                        targets.add(tuple(path[:n]))
                    break
        edges[mod] = targets
    return edges


def cycles(edges: dict) -> list:
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    failed = False
    for arg in sys.argv[1:]:
        crate, _, through = arg.partition(":")
        found = [
            comp
            for comp in cycles(graph(crate))
            if not through or any(m[:1] == (through,) for m in comp)
        ]
        for comp in found:
            failed = True
            names = ", ".join("/".join(m) or "lib" for m in comp)
            print(f"{crate}: import circle between {names}")
        if not found:
            print(f"{arg}: no import circles between files")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
