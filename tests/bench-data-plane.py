#!/usr/bin/env python3
"""make bench, data planes (run by bench-data-plane.sh): a blob of MIB MiB up and down with armi
and with curl (same token, same run, alternating), and armi secret against curl | jq. Prints the
median wall time, throughput and peak RSS of each, and the ratios. Figures, not a pass/fail
test: this machine is shared and noisy."""
import os
import statistics
import sys

from bench import measure


def alternate(launcher, contenders, runs):
    results = {name: [] for name in contenders}
    for _ in range(runs):
        for name, argv in contenders.items():
            results[name].append(measure(launcher, argv))
    return {
        name: (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))
        for name, samples in results.items()
    }


def main():
    launcher, armi, work, url, mib = sys.argv[1:6]
    size = int(mib) << 20
    big = os.path.join(work, "big.bin")
    timeout = ["--timeout", "1800"]
    runs = int(os.environ.get("BENCH_BLOB_RUNS", "3"))
    put = alternate(launcher, {
        "armi blob put": [armi, "blob", "put", big, url, *timeout],
        "curl -T": ["bash", os.path.join(work, "curl-put.sh")],
    }, runs)
    get = alternate(launcher, {
        "armi blob get": [armi, "blob", "get", url, *timeout],
        "curl | md5sum": ["bash", os.path.join(work, "curl-get-md5.sh")],
        "armi --skip-md5": [armi, "blob", "get", url, "--skip-md5", *timeout],
        "curl": ["bash", os.path.join(work, "curl-get.sh")],
        # The MD5 alone, of the same bytes from the page cache: no checked download is faster.
        "md5sum FILE": ["md5sum", big],
    }, runs)
    print(f"bench: a {mib} MiB blob from Azurite over TLS on loopback, {runs} runs each, "
          f"alternating, median (armi's times include its token request and the MD5 check)")
    print(f"{'':16} {'wall':>8} {'MB/s':>8} {'peak RSS':>10}")
    for name, (wall, rss) in list(put.items()) + list(get.items()):
        print(f"{name:16} {wall:6.2f} s {size / wall / 1e6:8.1f} {rss:7.0f} KiB")
    (aw, ar), (cw, cr) = get["armi blob get"], get["curl"]
    mw, sw, hw = get["curl | md5sum"][0], get["armi --skip-md5"][0], get["md5sum FILE"][0]
    print(f"get: armi/curl throughput {cw / aw:.2f}x (target >= 0.9x), armi/(curl | md5sum) "
          f"{mw / aw:.2f}x (the same MD5 check); peak RSS armi {ar / 1024:.1f} MiB, curl "
          f"{cr / 1024:.1f} MiB (target <= 8 MiB for armi)")
    print(f"get: unchecked, armi --skip-md5/curl {cw / sw:.2f}x; the MD5 alone takes "
          f"{hw:.2f} s here, so a checked download is at most {cw / hw:.2f}x plain curl")
    (pw, pr), (qw, qr) = put["armi blob put"], put["curl -T"]
    print(f"put: armi/curl throughput {qw / pw:.2f}x; peak RSS armi {pr / 1024:.1f} MiB "
          f"(target <= 8 MiB), curl {qr / 1024:.1f} MiB")
    runs = int(os.environ.get("BENCH_RUNS", "30"))
    secret = alternate(launcher, {
        "armi secret": [armi, "secret", "kv1", "db-password"],
        "curl | jq": ["bash", os.path.join(work, "curl-secret.sh")],
    }, runs)
    (sw, sr), (jw, jr) = secret["armi secret"], secret["curl | jq"]
    print(f"bench: a Key Vault secret (IMDS token, then the secret), {runs} runs each, alternating")
    print(f"armi secret     {sw * 1000:7.1f} ms {sr:7.0f} KiB")
    print(f"curl | jq -r    {jw * 1000:7.1f} ms {jr:7.0f} KiB")
    print(f"ratio armi/curl|jq: wall {sw / jw:.2f}x, peak RSS {sr / jr:.2f}x")


if __name__ == "__main__":
    main()
