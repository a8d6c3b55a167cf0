"""CPython 3.11 baselines for benches/ipc.rs: Connection round trip and one-way throughput.

Prints one line per figure, `name median_ns`, where median_ns is the median time per
operation (per round trip, or per message for throughput) over several reps. Same
method as shared/reference/py_baseline.py groups 2 and 3: fork start method, duplex
Pipe (socketpair), sender streams after a ready marker, receiver times the batch.
"""
import multiprocessing as mp
import statistics
import sys
import time


def _echo(conn):
    while True:
        b = conn.recv_bytes()
        if b == b"":
            break
        conn.send_bytes(b)


def _bulk(conn, size, count, reps):
    buf = b"\x5a" * size
    for _ in range(reps):
        conn.send_bytes(b"r")
        for _ in range(count):
            conn.send_bytes(buf)
    conn.close()


def rtt(ctx, n=2000, reps=7):
    a, b = ctx.Pipe(duplex=True)
    p = ctx.Process(target=_echo, args=(b,))
    p.start()
    b.close()
    msg = b"12345678"
    for _ in range(500):
        a.send_bytes(msg)
        a.recv_bytes()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            a.send_bytes(msg)
            a.recv_bytes()
        samples.append((time.perf_counter_ns() - t0) / n)
    a.send_bytes(b"")
    p.join(30)
    return statistics.median(samples)


def throughput(ctx, size, count, reps, into):
    r, w = ctx.Pipe(duplex=True)
    p = ctx.Process(target=_bulk, args=(w, size, count, reps))
    p.start()
    w.close()
    buf = bytearray(size + 64)
    samples = []
    for _ in range(reps):
        assert r.recv_bytes() == b"r"
        t0 = time.perf_counter_ns()
        for _ in range(count):
            if into:
                k = r.recv_bytes_into(buf)
            else:
                k = len(r.recv_bytes())
            assert k == size
        samples.append((time.perf_counter_ns() - t0) / count)
    p.join(60)
    r.close()
    return statistics.median(samples)


def main():
    ctx = mp.get_context("fork")
    print("rtt_8B_pipe_duplex", rtt(ctx))
    for size, count, reps in ((1 << 20, 200, 5), (64 << 20, 6, 3)):
        mib = size >> 20
        print("oneway_%dMiB_recv_bytes" % mib, throughput(ctx, size, count, reps, False))
        print("oneway_%dMiB_recv_bytes_into" % mib, throughput(ctx, size, count, reps, True))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
