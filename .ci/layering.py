#!/usr/bin/env python3
"""Architecture invariant: docs/ARCHITECTURE.md's layering table IS the crate graph.

Parses the "Layering" table of docs/ARCHITECTURE.md and compares it with `cargo metadata`:

* the "depends on today" column must list exactly the multiproc crates each crate has as
  normal dependencies (optional ones included; dev- and build-dependencies are not
  edges): an edge in Cargo.toml missing from the table, or a table edge Cargo.toml no
  longer has, fails, naming the row to change;
* "depends on today" must be a subset of "may depend on" (the layering rule: an edge to
  a crate above fails until the document allows it, on purpose);
* every workspace crate under crates/ has exactly one row, and every row names a crate;
* every crate appears in the bird's-eye diagram.

Cells name crates by their short name (`ipc` for `multiproc-ipc`, `multiproc` for the
facade); `—` means none; text in parentheses is commentary and is ignored.
"""
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
doc_path = root / "docs" / "ARCHITECTURE.md"
doc = doc_path.read_text()


def section(title):
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", doc, re.S | re.M)
    if not m:
        sys.exit(f"layering: docs/ARCHITECTURE.md has no `## {title}` section")
    return m.group(1)


def crates_of(cell, row):
    cell = re.sub(r"\([^)]*\)", "", cell).strip()
    if cell in ("—", "-", ""):
        return set()
    out = set()
    for part in cell.split(","):
        short = part.strip().strip("`")
        if not re.fullmatch(r"[a-z]+", short):
            sys.exit(f"layering: row `{row}`: cannot read crate name {part.strip()!r}")
        out.add("multiproc" if short == "multiproc" else f"multiproc-{short}")
    return out


table = {}
for line in section("Layering").splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 3 or not cells[0].startswith("`"):
        continue
    name = cells[0].strip("`")
    if name in table:
        sys.exit(f"layering: docs/ARCHITECTURE.md has two rows for `{name}`")
    table[name] = (crates_of(cells[1], name), crates_of(cells[2], name))

meta = json.loads(
    subprocess.check_output(
        ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"], cwd=root
    )
)
graph = {}
for pkg in meta["packages"]:
    rel = pathlib.Path(pkg["manifest_path"]).parent.relative_to(root)
    if rel.parts[0] != "crates":
        continue
    graph[pkg["name"]] = {
        d["name"]
        for d in pkg["dependencies"]
        if d["name"].startswith("multiproc") and d.get("kind") is None
    }

bad = []
for name in sorted(set(graph) - set(table)):
    bad.append(f"`{name}` is a workspace crate without a row in the Layering table")
for name in sorted(set(table) - set(graph)):
    bad.append(f"row `{name}`: no such crate under crates/")
short = lambda names: ", ".join(sorted(n.removeprefix("multiproc-") for n in names))
for name in sorted(set(graph) & set(table)):
    today, may = table[name]
    real = graph[name]
    if real - today:
        bad.append(
            f"row `{name}`: Cargo.toml depends on {short(real - today)}, "
            f"which 'depends on today' does not list"
        )
    if today - real:
        bad.append(
            f"row `{name}`: 'depends on today' lists {short(today - real)}, "
            f"which Cargo.toml does not depend on"
        )
    if real - may:
        bad.append(
            f"row `{name}`: depends on {short(real - may)}, outside 'may depend on' "
            f"(a layering violation: change the code, or the architecture on purpose)"
        )
diagram = section("Bird's-eye view")
for name in sorted(graph):
    if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", diagram):
        bad.append(f"`{name}` is missing from the bird's-eye diagram")
if bad:
    print("layering: docs/ARCHITECTURE.md and the crate graph disagree:\n  " + "\n  ".join(bad))
    sys.exit(1)
print(f"layering ok: the table matches all {sum(map(len, graph.values()))} edges of {len(graph)} crates")
