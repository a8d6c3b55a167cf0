#!/usr/bin/env python3
"""Every documented public item of a library crate has a runnable example of its own.

STYLE.md: "every public item documented with runnable examples". `missing_docs` (a
workspace lint) already fails an undocumented item; this check fails a public `fn`,
`struct`, `enum`, `trait`, `const`, `type` or `static` whose `///` block has no code
fence. A method written once inside a `macro_rules!` counts once, where it is written.

Items that cannot carry a runnable example of their own are listed in EXEMPT with the
reason; anything else fails the check with its path and line.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# (path relative to the repository, item name): why it has no example of its own.
EXEMPT = {
    # hidden from the docs: the fuzz targets' entry points into the manager
    ("crates/multiproc-manager/src/fuzzing.rs", "*"): "fuzz-only, #[doc(hidden)]",
    # compiled only under --cfg loom (the model checker's stand-ins)
    ("crates/multiproc-sync/src/loom.rs", "futex_wait"): "cfg(loom) only",
    ("crates/multiproc-sync/src/loom.rs", "futex_wake"): "cfg(loom) only",
    ("crates/multiproc-sync/src/sys.rs", "is_dead"): "cfg(loom) stand-in",
    # exists only with the `progress` feature, which doctests do not enable
    ("crates/multiproc-pool/src/imap.rs", "progress"): "feature `progress` only",
    # the MPI helper binary, not library API
    ("crates/multiproc-mpi/src/bin/helper.rs", "*"): "a binary's items",
    # exists only so the README's code blocks run as doctests
    ("crates/multiproc/src/lib.rs", "ReadmeDoctests"): "doctest carrier",
    # a hidden re-export for the facade
    ("crates/multiproc-macros/src/lib.rs", "facade_manager_type"): "#[doc(hidden)] re-export",
}

ITEM = re.compile(
    r"^\s*pub\s+(?:unsafe\s+|const\s+(?=fn)|async\s+|extern\s+\"C\"\s+)*"
    r"(fn|struct|enum|trait|const|type|static)\s+([A-Za-z_][A-Za-z0-9_]*)"
)


def doc_block(lines, i):
    """The `///` lines directly above line `i`, skipping attributes and `//` comments."""
    doc = []
    j = i - 1
    while j >= 0:
        s = lines[j].strip()
        if s.startswith("///"):
            doc.append(s)
        elif not (s.startswith("#[") or s.startswith("//")):
            break
        j -= 1
    return doc


def missing():
    out = []
    crates = os.path.join(ROOT, "crates")
    for crate in sorted(os.listdir(crates)):
        src = os.path.join(crates, crate, "src")
        for dirpath, _, files in os.walk(src):
            for f in sorted(files):
                if not f.endswith(".rs"):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, ROOT)
                with open(path, encoding="utf-8") as fh:
                    lines = fh.read().split("\n")
                for i, line in enumerate(lines):
                    m = ITEM.match(line)
                    if not m:
                        continue
                    doc = doc_block(lines, i)
                    if not doc or any("```" in d for d in doc):
                        continue  # undocumented: missing_docs' business
                    name = m.group(2)
                    if (rel, name) in EXEMPT or (rel, "*") in EXEMPT:
                        continue
                    out.append(f"{rel}:{i + 1}: pub {m.group(1)} {name}")
    return out


def main():
    found = missing()
    if found:
        print(f"doc-examples: {len(found)} public item(s) without a runnable example of "
              "their own (STYLE.md); add one, or list the item in EXEMPT with the reason:")
        for f in found:
            print("  " + f)
        return 1
    print(f"doc-examples: every documented public item has an example "
          f"({len(EXEMPT)} exempt, each with its reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
