#!/usr/bin/env bash
# armi alone in an empty root: the binary copied into a directory that holds nothing else but the
# test CA (no /etc, /dev, /proc, /lib, no shell), run with chroot under env -i. The network is
# shared, so the emulator on 127.0.0.1 outside the chroot is reachable from inside.
# Needs root (chroot(2)); elsewhere it says SKIPPED.
set -euo pipefail
bin=$1 emulator=$2
fail() { echo "chroot: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
    echo "chroot: SKIPPED: chroot needs root"
    exit 0
fi
chroot=$(command -v chroot) || { echo "chroot: SKIPPED: chroot(8) is not installed"; exit 0; }

root=$(mktemp -d) dir=$(mktemp -d)
chmod 0755 "$root"
install -m 0755 "$bin" "$root/armi"
# env -i: nothing in the environment but what each run names.
in_root() { env -i "$@"; }

in_root "$chroot" "$root" /armi --help >/dev/null || fail "armi --help failed in an empty chroot"
version=$(in_root "$chroot" "$root" /armi --version) || fail "armi --version failed in an empty chroot"

. "$(dirname "$0")/emulator-env.sh"
start_emulator "$dir" "$emulator"
install -m 0644 "$SSL_CERT_FILE" "$root/ca.pem"
endpoints=(ARMI_IMDS_ENDPOINT="$ARMI_IMDS_ENDPOINT" ARMI_ARM_ENDPOINT="$ARMI_ARM_ENDPOINT" SSL_CERT_FILE=/ca.pem)

token=$(in_root "${endpoints[@]}" "$chroot" "$root" /armi token) || fail "armi token failed in an empty chroot"
[ "${token:0:3}" = "eyJ" ] || fail "armi token did not print a JWT in an empty chroot"
# The same as an unprivileged user (nobody's ids; no passwd file needed for numeric ids).
token=$(in_root "${endpoints[@]}" "$chroot" --userspec=65534:65534 "$root" /armi token) \
    || fail "armi token failed in an empty chroot as uid 65534"
[ "${token:0:3}" = "eyJ" ] || fail "armi token (uid 65534) did not print a JWT"
group=$(in_root "${endpoints[@]}" "$chroot" "$root" /armi group -q name -o tsv) \
    || fail "armi group failed in an empty chroot"
[ "$group" = rg-armi-demo ] || fail "armi group printed '$group' in an empty chroot"
# armi wrote nothing into the root.
left=$(cd "$root" && ls -A | tr '\n' ' ')
[ "$left" = "armi ca.pem " ] || fail "the chroot holds more than armi and ca.pem afterwards: $left"
rm -rf "$root" "$dir"
echo "chroot: ok: --help, token (root and uid 65534) and group in an empty chroot under env -i ($version)"
