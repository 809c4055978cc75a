#!/usr/bin/env python3
"""make bench: the seed job by `armi group` and by the curl+jq script, alternating, in one run
against the emulator. Prints median wall time and peak RSS of each, their ratios, and the binary
size. Then lists: `armi resources` over 5,000 and 50,000 items, and at 50,000 its CPU time
against `jq -c .value` on the same pages' bytes, alternating in the same run. Figures, not a
pass/fail test: this machine is shared and noisy."""
import json
import os
import ssl
import statistics
import subprocess
import sys
import urllib.request


def measure_all(launcher, argv, env=None):
    """Runs argv through the tiny launcher; returns (wall seconds, peak RSS KiB of the process
    and the children it waited for, CPU seconds (user + system))."""
    out = subprocess.run([launcher, *argv], capture_output=True, text=True, check=True, env=env)
    ns, rss, code, cpu_us = (int(x) for x in out.stdout.split())
    if code != 0:
        sys.exit(f"bench: {argv[0]} failed with exit {code}: {out.stderr}")
    return ns / 1e9, rss, cpu_us / 1e6


def measure(launcher, argv):
    """(wall seconds, peak RSS KiB) of argv."""
    wall, rss, _ = measure_all(launcher, argv)
    return wall, rss


def seed(launcher, armi, script):
    runs = int(os.environ.get("BENCH_RUNS", "30"))
    contenders = {"armi group": [armi, "group"], "curl+jq": ["bash", script]}
    results = {name: [] for name in contenders}
    for name, argv in contenders.items():  # warm-up: page cache, emulator connections
        measure(launcher, argv)
    for _ in range(runs):
        for name, argv in contenders.items():
            results[name].append(measure(launcher, argv))
    print(f"bench: seed job, {runs} runs each, alternating, against the emulator on loopback")
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
    aarch64 = armi.replace("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl")
    if aarch64 != armi and os.path.exists(aarch64):
        size = os.path.getsize(aarch64)
        print(f"binary size: {size} bytes ({size / 1048576:.2f} MiB, budget 2 MiB), stripped static {aarch64}")
    else:
        print("binary size: aarch64 not built (make build-aarch64)")


def list_env(vars_file):
    env = dict(os.environ)
    with open(vars_file) as f:
        env.update(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    return env


def fetch_pages(armi, env, path):
    """The list's pages as ARM sent them, one JSON text a line, into `path` (for jq): the first
    URL from `armi resources -v`, the token from `armi token`, then every nextLink."""
    trace = subprocess.run([armi, "resources", "-v", "-o", "none", "--timeout", "600"], env=env,
                           capture_output=True, text=True, check=True).stderr
    url = next(w for line in trace.splitlines() for w in line.split()
               if w.startswith("https://") and "/resources?" in w)
    token = subprocess.run([armi, "token"], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    context = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
    pages = 0
    with open(path, "wb") as out:
        while url:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            body = urllib.request.urlopen(request, context=context).read()
            out.write(body + b"\n")
            pages += 1
            url = json.loads(body).get("nextLink")
    return pages


def list_run(launcher, armi, items, vars_file):
    """`armi resources` over a list of `items` from the emulator named in vars_file; at 50,000
    items, its CPU time against jq's on the same bytes."""
    env = list_env(vars_file)
    runs = int(os.environ.get("BENCH_LIST_RUNS", "7"))
    argv = [armi, "resources", "--timeout", "600"]
    output = subprocess.run(argv, env=env, capture_output=True, check=True).stdout
    count = output.count(b'"id":')
    compare = items >= 50000
    if compare:
        pages_file = os.path.join(os.path.dirname(vars_file), "pages.json")
        pages = fetch_pages(armi, env, pages_file)
        jq = ["jq", "-c", ".value", pages_file]
    samples, jq_samples = [], []
    for _ in range(runs):
        samples.append(measure_all(launcher, argv, env))
        if compare:
            jq_samples.append(measure_all(launcher, jq))
    wall = statistics.median(s[0] for s in samples)
    rss = statistics.median(s[1] for s in samples)
    cpu = statistics.median(s[2] for s in samples)
    print(f"list {items}: armi resources printed {count} items, {len(output)} bytes, in "
          f"{wall * 1000:.0f} ms ({wall * 1e6 / items:.2f} ms per 1,000 items), CPU {cpu * 1000:.0f} ms, "
          f"peak RSS {rss} KiB (target <= 8 MiB) (median of {runs})")
    if compare:
        jq_cpu = statistics.median(s[2] for s in jq_samples)
        size = os.path.getsize(pages_file)
        print(f"list {items}: CPU (user+system) armi {cpu * 1000:.0f} ms, jq -c .value on the same "
              f"{pages} pages ({size / 1e6:.1f} MB) {jq_cpu * 1000:.0f} ms: ratio {cpu / jq_cpu:.2f}x "
              f"(target <= 0.25x; medians of {runs}, alternating)")
    print(f"#data {items} {len(output)} {rss} {wall}")


def growth(small_file, large_file):
    def data(path):
        with open(path) as f:
            for line in f:
                if line.startswith("#data"):
                    _, items, size, rss, wall = line.split()
                    return int(items), int(size), int(rss), float(wall)
        sys.exit(f"bench: no figures in {path}")
    (n1, s1, r1, _), (n2, s2, r2, _) = data(small_file), data(large_file)
    print(f"lists: from {n1} to {n2} items the output grew by {(s2 - s1) / 1024:.0f} KiB and "
          f"armi's peak RSS by {r2 - r1} KiB (target: RSS grows no more than the output)")


def main():
    mode = sys.argv[1]
    if mode == "seed":
        seed(*sys.argv[2:5])
    elif mode == "list":
        list_run(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif mode == "growth":
        growth(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"bench: unknown mode {mode}")


if __name__ == "__main__":
    main()
