"""CPython 3.11 baselines for benches/pool.rs: multiprocessing.Pool.

Prints one line per figure, `name median_ns` (ns per item for throughput figures, ns per
run otherwise, and `cpu_speedup_x1000` = 1000 x serial/parallel), measured like
shared/reference/py_baseline.py group 8: Pool(2), x*x over 100k items.
"""
import os
import sys

# This directory holds other baselines named like standard modules (queue.py): keep it
# off the import path, or `multiprocessing` imports the wrong `queue`.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import multiprocessing as mp  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

N = 100_000


def square(x):
    return x * x


def burn(n):
    acc = 1
    for i in range(n):
        acc = (acc * 6364136223846793005 + i) & 0xFFFFFFFFFFFFFFFF
    return acc


def default_chunksize(n, workers):
    cs, extra = divmod(n, workers * 4)
    return cs + 1 if extra else cs


def per_item(fn, reps):
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / N)
    return statistics.median(samples)


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else "fork"
    items = list(range(N))
    for m in ("fork", "spawn", "forkserver"):
        ctx = mp.get_context(m)
        p = ctx.Pool(2)  # warm-up (starts the fork server)
        p.close()
        p.join()
        samples = []
        for _ in range(10 if m == "fork" else 5):
            t0 = time.perf_counter_ns()
            p = ctx.Pool(2)
            p.close()
            p.join()
            samples.append(time.perf_counter_ns() - t0)
        print(f"start_teardown_{m} {statistics.median(samples):.0f}")
        sys.stdout.flush()
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        pool.map(square, range(1000))
        print(f"map_default {per_item(lambda: pool.map(square, items), 5):.1f}")
        print(f"map_chunksize1 {per_item(lambda: pool.map(square, items, chunksize=1), 3):.1f}")
        print(f"imap_unordered_chunksize1 {per_item(lambda: list(pool.imap_unordered(square, items)), 3):.1f}")
        sys.stdout.flush()
    # CPU-bound speed-up on all cores: serial vs Pool(cpu_count).map chunksize=1.
    cores = len(os.sched_getaffinity(0))
    n = 20_000
    t0 = time.perf_counter()
    burn(n)
    while time.perf_counter() - t0 < 0.025:
        n *= 2
        t0 = time.perf_counter()
        burn(n)
    jobs = [n] * (8 * cores)
    with ctx.Pool(cores) as pool:
        pool.map(burn, jobs[:cores], chunksize=1)
        spd = []
        for _ in range(3):
            t0 = time.perf_counter_ns()
            r1 = [burn(j) for j in jobs]
            ts = time.perf_counter_ns() - t0
            t0 = time.perf_counter_ns()
            r2 = pool.map(burn, jobs, chunksize=1)
            tp = time.perf_counter_ns() - t0
            assert r1 == r2
            spd.append(ts / tp)
        print(f"cpu_speedup_x1000 {1000 * statistics.median(spd):.0f}")


if __name__ == "__main__":
    main()
