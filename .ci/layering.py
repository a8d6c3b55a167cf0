#!/usr/bin/env python3
"""Architecture invariant: a multiproc crate depends (normal deps) only on crates below it.

Reads `cargo metadata` and fails if any crate's normal dependencies include a multiproc
crate that is not in its allowed set (docs/ARCHITECTURE.md, "Layering").
"""
import json
import subprocess
import sys

ALLOWED = {
    "multiproc-ipc": set(),
    "multiproc-sync": {"multiproc-ipc"},
    "multiproc-process": {"multiproc-ipc", "multiproc-sync"},
    "multiproc-shared": {"multiproc-ipc", "multiproc-sync"},
    "multiproc-queue": {"multiproc-ipc", "multiproc-sync"},
    "multiproc-pool": {"multiproc-ipc", "multiproc-process", "multiproc-sync", "multiproc-queue"},
    "multiproc-macros": set(),
    "multiproc-manager": {
        "multiproc-ipc",
        "multiproc-process",
        "multiproc-sync",
        "multiproc-queue",
        "multiproc-macros",
    },
    "multiproc-mpi": {"multiproc-ipc", "multiproc-process", "multiproc-pool"},
}

meta = json.loads(
    subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"])
)
bad = []
for pkg in meta["packages"]:
    name = pkg["name"]
    if name not in ALLOWED:
        continue
    for dep in pkg["dependencies"]:
        if dep["name"].startswith("multiproc") and dep.get("kind") is None:
            if dep["name"] not in ALLOWED[name]:
                bad.append(f"{name} -> {dep['name']}")
if bad:
    print("layering violations:\n  " + "\n  ".join(bad))
    sys.exit(1)
print("layering ok:", ", ".join(sorted(p["name"] for p in meta["packages"] if p["name"] in ALLOWED)))
