"""CPython 3.11 baselines for benches/manager.rs.

Prints one line per figure, `name median_ns` (median time per operation over several
reps). Same method as shared/reference/py_baseline.py group 7: Manager() start and
start+shutdown per start method; from a fork child, d[k] = i; d[k] pairs (2 proxy
round trips per pair) and list.append throughput.
"""
import multiprocessing as mp
import statistics
import time

perf = time.perf_counter_ns


def start_shutdown(method, reps):
    ctx = mp.get_context(method)
    out = []
    for _ in range(reps):
        t0 = perf()
        m = ctx.Manager()
        m.shutdown()
        out.append(perf() - t0)
    return statistics.median(out)


def _pairs(d, n, conn):
    for i in range(200):
        d["k"] = i
        d["k"]
    conn.send("ready")
    reps = conn.recv()
    res = []
    for _ in range(reps):
        t0 = perf()
        for i in range(n):
            d["k"] = i
            d["k"]
        res.append((perf() - t0) / n)
    conn.send(res)


def _appends(l, n, conn):
    conn.send("ready")
    reps = conn.recv()
    res = []
    for _ in range(reps):
        t0 = perf()
        for i in range(n):
            l.append(i)
        res.append((perf() - t0) / n)
    conn.send(res)


def from_child(fn, proxy, n, reps):
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=fn, args=(proxy, n, b))
    p.start()
    a.recv()
    a.send(reps)
    res = a.recv()
    p.join()
    return statistics.median(res)


if __name__ == "__main__":
    for method, reps in (("fork", 5), ("spawn", 3), ("forkserver", 3)):
        print("start_shutdown_%s %.0f" % (method, start_shutdown(method, reps)), flush=True)
    m = mp.get_context("fork").Manager()
    try:
        print("dict_pair_child %.0f" % from_child(_pairs, m.dict(), 2000, 5), flush=True)
        print("list_append_child %.0f" % from_child(_appends, m.list(), 5000, 5), flush=True)
    finally:
        m.shutdown()
