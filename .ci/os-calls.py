#!/usr/bin/env python3
"""Style invariants (/work/shared/STYLE.md) for the crates that have been brought in line.

For each crate in FENCED:
* only its `sys` module (`src/sys.rs` or `src/sys/`) names rustix or libc: the rest of
  the crate calls the OS through it ("one `sys` module per crate that needs the OS");
* no `#[allow(...)]`: a lint is silenced with `#[expect(lint, reason = "...")]`, which
  says why and fails once the lint no longer fires. Where `expect` cannot serve (a
  macro whose expansions fire different lints), a comment starting `not expect:` on
  the lines right above the `allow` says why.

Add a crate to FENCED once it passes.
"""
import pathlib
import re
import sys

FENCED = ["multiproc-process"]

root = pathlib.Path(__file__).resolve().parent.parent
bad = []
for crate in FENCED:
    src = root / "crates" / crate / "src"
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        in_sys = rel.parts[0] in ("sys.rs", "sys")
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, 1):
            code = line.split("//", 1)[0]
            if not in_sys and re.search(r"\b(rustix|libc)::", code):
                bad.append(f"{crate}/src/{rel}:{n}: OS call outside `sys`: {line.strip()}")
            above = " ".join(lines[max(0, n - 4) : n - 1])
            if re.search(r"#!?\[allow\(", code) and "// not expect:" not in above:
                bad.append(f"{crate}/src/{rel}:{n}: `#[allow]`, use `#[expect(.., reason = ..)]`: {line.strip()}")
if bad:
    print("\n".join(bad))
    sys.exit(1)
print(f"os-calls: {', '.join(FENCED)} call the OS only through `sys`, and expect rather than allow")
