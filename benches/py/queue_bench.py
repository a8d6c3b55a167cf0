"""CPython 3.11 baselines for benches/queue.rs.

Prints one line per figure, `name median_ns` (median over reps of the time per item,
or of the round trip for `pingpong_rtt`). Small items: (i, 'item-%d' % i), as the Rust
side. Fork start method; children are started before the clock starts and told how
many items to move through a control queue, so start-up is not timed.
"""
import os
import sys

# This file is named like the standard library's `queue`, which multiprocessing
# imports: take the script's own directory off the path first.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or '.') != _here]

import multiprocessing as mp  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

ns = time.perf_counter_ns
N = 100_000
REPS = 3


def producer(ctrl, data):
    while True:
        n = ctrl.get()
        if n == 0:
            return
        for i in range(n):
            data.put((i, 'item-%d' % i))


def consumer(data, done):
    while True:
        kind, item = data.get()
        if kind == 2:
            return
        if kind == 1:
            done.put(1)


def n_to_1(ctx, qtype, producers):
    ctrl, data = ctx.Queue(), qtype()
    ps = [ctx.Process(target=producer, args=(ctrl, data)) for _ in range(producers)]
    for p in ps:
        p.start()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for _ in range(producers):
            ctrl.put(N // producers)
        for _ in range(N // producers * producers):
            data.get()
        samples.append((ns() - t0) / (N // producers * producers))
    for _ in ps:
        ctrl.put(0)
    for p in ps:
        p.join()
    return statistics.median(samples)


def one_to_n(ctx, consumers):
    data, done = ctx.Queue(), ctx.Queue()
    ps = [ctx.Process(target=consumer, args=(data, done)) for _ in range(consumers)]
    for p in ps:
        p.start()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for i in range(N):
            data.put((0, (i, 'item-%d' % i)))
        for _ in ps:
            data.put((1, None))
        for _ in ps:
            done.get()
        samples.append((ns() - t0) / N)
    for _ in ps:
        data.put((2, None))
    for p in ps:
        p.join()
    return statistics.median(samples)


def echo(a, b):
    while True:
        x = a.get()
        if x is None:
            return
        b.put(x)


def pingpong(ctx, n=2000):
    a, b = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=echo, args=(a, b))
    p.start()
    a.put(0)
    b.get()
    samples = []
    for _ in range(REPS):
        t0 = ns()
        for i in range(n):
            a.put((i, 'x'))
            b.get()
        samples.append((ns() - t0) / n)
    a.put(None)
    p.join()
    return statistics.median(samples)


def main():
    ctx = mp.get_context('fork')
    print('queue_1to1', n_to_1(ctx, ctx.Queue, 1))
    print('simplequeue_1to1', n_to_1(ctx, ctx.SimpleQueue, 1))
    print('queue_4to1', n_to_1(ctx, ctx.Queue, 4))
    print('queue_1to4', one_to_n(ctx, 4))
    print('queue_pingpong_rtt', pingpong(ctx))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
