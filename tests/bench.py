#!/usr/bin/env python3
"""make bench: the seed job by `armi group` and by the curl+jq script, alternating, in one run
against the emulator. Prints median wall time and peak RSS of each, their ratios, and the binary
size. Figures, not a pass/fail test: this machine is shared and noisy."""
import os
import statistics
import subprocess
import sys
import time


def measure(launcher, argv):
    """Runs argv through the tiny launcher; returns (wall seconds, peak RSS KiB of the process
    and the children it waited for)."""
    out = subprocess.run([launcher, *argv], capture_output=True, text=True, check=True)
    ns, rss, code = (int(x) for x in out.stdout.split())
    if code != 0:
        sys.exit(f"bench: {argv[0]} failed with exit {code}: {out.stderr}")
    return ns / 1e9, rss


def main():
    launcher, armi, script = sys.argv[1], sys.argv[2], sys.argv[3]
    runs = int(os.environ.get("BENCH_RUNS", "30"))
    contenders = {"armi group": [armi, "group"], "curl+jq": ["bash", script]}
    results = {name: [] for name in contenders}
    for name, argv in contenders.items():  # warm-up: page cache, emulator connections
        measure(launcher, argv)
    for _ in range(runs):
        for name, argv in contenders.items():
            results[name].append(measure(launcher, argv))
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
