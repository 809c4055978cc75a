#!/usr/bin/env python3
"""make bench: the seed job by `armi group` and by the curl+jq script, alternating, in one run
against the emulator. Prints median wall time and peak RSS of each, their ratios, and the binary
size. Figures, not a pass/fail test: this machine is shared and noisy."""
import os
import statistics
import subprocess
import sys
import time


def measure(argv):
    """Runs argv; returns (wall seconds, peak RSS KiB of the process and its children)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {argv[0]} failed with exit {proc.returncode}: {proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss


def main():
    armi, script, runs = sys.argv[1], sys.argv[2], int(os.environ.get("BENCH_RUNS", "30"))
    contenders = {"armi group": [armi, "group"], "curl+jq": ["bash", script]}
    results = {name: [] for name in contenders}
    for name, argv in contenders.items():  # warm-up: page cache, emulator connections
        measure(argv)
    for _ in range(runs):
        for name, argv in contenders.items():
            results[name].append(measure(argv))
    print(f"bench: {runs} runs each, alternating, against the emulator on loopback")
    print(f"{'':12} {'median wall':>12} {'median peak RSS':>16}")
    medians = {}
    for name, samples in results.items():
        wall = statistics.median(s[0] for s in samples) * 1000
        rss = statistics.median(s[1] for s in samples)
        medians[name] = (wall, rss)
        print(f"{name:12} {wall:9.1f} ms {rss:12.0f} KiB")
    (aw, ar), (cw, cr) = medians["armi group"], medians["curl+jq"]
    print(f"ratio armi/curl+jq: wall {aw / cw:.2f}x (target <= 0.5x), peak RSS {ar / cr:.2f}x")
    print(f"armi peak RSS {ar / 1024:.2f} MiB (target <= 4 MiB)")
    size = os.path.getsize(armi)
    print(f"binary size: {size} bytes ({size / 1048576:.2f} MiB, budget 2 MiB), stripped static {armi}")


if __name__ == "__main__":
    main()
