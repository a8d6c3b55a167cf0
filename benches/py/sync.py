"""CPython 3.11 baselines for benches/sync.rs and benches/shared.rs.

Prints one line per figure, `name median_ns` (median over reps of the time per
operation; for `contended_2x100k` the time of the whole run). Same method as
shared/reference/py_baseline.py groups 5, 6 and 9: fork start method, children
synchronised on a Semaphore/Event before the clock starts.
"""
import array
import multiprocessing as mp
import statistics
import sys
import time

ns = time.perf_counter_ns
REPS = 7


def med(xs):
    return statistics.median(xs)


def uncontended(ctx, n=200_000):
    out = {}
    for name, lk in (("lock_acquire_release", ctx.Lock()), ("rlock_acquire_release", ctx.RLock())):
        acq, rel = lk.acquire, lk.release
        samples = []
        for _ in range(REPS):
            t0 = ns()
            for _ in range(n):
                acq()
                rel()
            samples.append((ns() - t0) / n)
        out[name] = med(samples)
    lk = ctx.Lock()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for _ in range(n):
            with lk:
                pass
        samples.append((ns() - t0) / n)
    out["lock_with"] = med(samples)
    return out


def _lock_worker(lock, val, n, ready, go, done):
    ready.release()
    go.wait()
    acq, rel = lock.acquire, lock.release
    for _ in range(n):
        acq()
        val.value += 1
        rel()
    done.release()


def contended(ctx, per=100_000, reps=5):
    times = []
    for _ in range(reps):
        ready, done, go = ctx.Semaphore(0), ctx.Semaphore(0), ctx.Event()
        lock, val = ctx.Lock(), ctx.RawValue("i", 0)
        ps = [ctx.Process(target=_lock_worker, args=(lock, val, per, ready, go, done)) for _ in range(2)]
        for p in ps:
            p.start()
        ready.acquire()
        ready.acquire()
        t0 = ns()
        go.set()
        done.acquire()
        done.acquire()
        times.append(ns() - t0)
        for p in ps:
            p.join()
        assert val.value == 2 * per
    return med(times)


def _event_echo(e1, e2, n):
    for _ in range(n):
        e1.wait()
        e1.clear()
        e2.set()


def _sem_echo(s1, s2, n):
    for _ in range(n):
        s1.acquire()
        s2.release()


def pingpong(ctx, n=3000):
    out = {}
    e1, e2 = ctx.Event(), ctx.Event()
    total = n * REPS + 200
    p = ctx.Process(target=_event_echo, args=(e1, e2, total))
    p.start()
    for _ in range(200):
        e1.set()
        e2.wait()
        e2.clear()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for _ in range(n):
            e1.set()
            e2.wait()
            e2.clear()
        samples.append((ns() - t0) / n)
    p.join()
    out["event_pingpong_rtt"] = med(samples)
    s1, s2 = ctx.Semaphore(0), ctx.Semaphore(0)
    p = ctx.Process(target=_sem_echo, args=(s1, s2, total))
    p.start()
    for _ in range(200):
        s1.release()
        s2.acquire()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for _ in range(n):
            s1.release()
            s2.acquire()
        samples.append((ns() - t0) / n)
    p.join()
    out["sem_pingpong_rtt"] = med(samples)
    return out


def value(ctx, n=200_000, big=10_000_000):
    out = {}
    v = ctx.Value("i", 0)
    lk = v.get_lock()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for _ in range(n):
            with lk:
                v.value += 1
        samples.append((ns() - t0) / n)
    out["value_locked_increment"] = med(samples)
    arr = ctx.RawArray("d", big)
    src = array.array("d", [1.5]) * big
    dst_b = memoryview(arr).cast("B")
    src_b = memoryview(src).cast("B")
    samples = []
    for _ in range(5):
        t0 = ns()
        dst_b[:] = src_b
        samples.append(ns() - t0)
    out["rawarray_10M_f64_write"] = med(samples)
    del dst_b, src_b
    return out


def main():
    ctx = mp.get_context("fork")
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    figs = {}
    if which in ("all", "sync"):
        figs.update(uncontended(ctx))
        figs["contended_2x100k"] = contended(ctx)
        figs.update(pingpong(ctx))
    if which in ("all", "shared"):
        figs.update(value(ctx))
    for k, v in figs.items():
        print(k, v)


if __name__ == "__main__":
    main()
