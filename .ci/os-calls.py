#!/usr/bin/env python3
"""Style invariants (/work/shared/STYLE.md), each checked on the crates where it holds today.

* SYS_ONLY: only the crate's `sys` module (`src/sys.rs` or `src/sys/`) names rustix or
  libc: the rest of the crate calls the OS through it ("one `sys` module per crate that
  needs the OS"). A crate without a `sys` module must not name them at all.
* EXPECT_ONLY: no `#[allow(...)]`: a lint is silenced with `#[expect(lint, reason =
  "...")]`, which says why and fails once the lint no longer fires. Where `expect` cannot
  serve (a macro whose expansions fire different lints), a comment starting `not
  expect:` on the lines right above the `allow` says why.

Where each does not hold yet is listed in docs/ARCHITECTURE.md ("Cross-cutting
invariants"); add a crate to a list once it passes.
"""
import pathlib
import re
import sys

SYS_ONLY = [
    "multiproc",
    "multiproc-ipc",
    "multiproc-macros",
    "multiproc-manager",
    "multiproc-mpi",
    "multiproc-pool",
    "multiproc-process",
    "multiproc-queue",
    "multiproc-shared",
    "multiproc-sync",
    "multiproc-test-support",
]
EXPECT_ONLY = [
    "multiproc",
    "multiproc-ipc",
    "multiproc-macros",
    "multiproc-manager",
    "multiproc-mpi",
    "multiproc-pool",
    "multiproc-process",
    "multiproc-queue",
    "multiproc-shared",
    "multiproc-sync",
    "multiproc-test-support",
]

root = pathlib.Path(__file__).resolve().parent.parent
bad = []
for crate in sorted(set(SYS_ONLY) | set(EXPECT_ONLY)):
    src = root / "crates" / crate / "src"
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        in_sys = rel.parts[0] in ("sys.rs", "sys")
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            code = line.split("//", 1)[0]
            if crate in SYS_ONLY and not in_sys and re.search(r"\b(rustix|libc)::", code):
                bad.append(f"{crate}/src/{rel}:{n}: OS call outside `sys`: {line.strip()}")
            above = " ".join(lines[max(0, n - 4) : n - 1])
            allowed = re.search(r"#!?\[allow\(", code)
            if crate in EXPECT_ONLY and allowed and "// not expect:" not in above:
                bad.append(f"{crate}/src/{rel}:{n}: `#[allow]`, use `#[expect(.., reason = ..)]`: {line.strip()}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(
    f"os-calls: only `sys` calls the OS in {', '.join(SYS_ONLY)}; "
    f"expect rather than allow in {', '.join(EXPECT_ONLY)}"
)
