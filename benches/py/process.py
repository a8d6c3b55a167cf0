"""CPython 3.11 baselines for benches/process.rs: Process start+join of a no-op target.

Prints one line per figure, `name median_ns`: the median time of
`Process(target=noop).start(); p.join()` under fork, spawn and forkserver (the first
forkserver start, which launches the server, is excluded), as in
shared/reference/py_baseline.py group 1.
"""
import multiprocessing as mp
import statistics
import sys
import time


def noop():
    pass


def measure(method, runs):
    ctx = mp.get_context(method)
    # warm-up (launches the fork server for forkserver)
    p = ctx.Process(target=noop)
    p.start()
    p.join()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


if __name__ == "__main__":
    runs = {"fork": 50, "spawn": 15, "forkserver": 40}
    for method in ("fork", "spawn", "forkserver"):
        print(f"start_join_{method} {measure(method, runs[method]):.0f}")
        sys.stdout.flush()
