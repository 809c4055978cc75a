#!/usr/bin/env bash
# examples/cloud-init.yaml: tests/cloud-init.sh TARBALL EMULATOR, TARBALL the x86_64 release
# tarball (make dist).
#
# 1. cloud-init's own schema validator accepts the file (and refuses a broken copy of it, so
#    that the validator is known to look).
# 2. The README's excerpt of it is in it, line for line.
# 3. Its runcmd runs as cloud-init would run it (cloud-init's own shellify makes the script),
#    against the emulator with its Key Vault, with only the addresses and the checksum
#    replaced: the download URL by the local TARBALL (file://), ARMI_SHA256 by TARBALL's real
#    SHA-256, VAULT by the name of the emulator's vault (found at ARMI_VAULT_ENDPOINT). Every
#    other line runs as written:
#    the download with curl, the check with sha256sum -c, the install into /usr/local/bin, the
#    tag into /etc/motd, the secret into /run. Then again with a wrong SHA-256: the check must
#    stop the script before anything is installed.
#
# Safety: step 3 runs only inside a private network namespace holding nothing but its own
# loopback (unshare --net; checked before anything runs), and the script it runs must name no
# https:// address after the replacements. /usr/local/bin and /run are fresh tmpfs mounts and
# /etc/motd a bind-mounted copy, in a private mount namespace, so nothing of this machine is
# changed. Needs root and namespaces; elsewhere step 3 says SKIPPED.
set -euo pipefail
tarball=$(realpath "$1") emulator=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
example=$here/../examples/cloud-init.yaml
readme=$here/../README.md
fail() { echo "cloud-init: FAIL: $*" >&2; exit 1; }
say() { echo "cloud-init: $*"; }
# cloud-init's Python (not whatever python3 is first on PATH), for its yaml and shellify.
python=/usr/bin/python3
name=$(basename "$tarball" .tar.gz)

if [ "${CLOUD_INIT_INSIDE:-}" != 1 ]; then
    command -v cloud-init >/dev/null || fail "cloud-init is missing (make test installs it as root)"
    out=$(cloud-init schema --config-file "$example" 2>&1) || fail "cloud-init schema refuses $example:
$out"
    case $out in *"Valid cloud-config"*) ;; *) fail "cloud-init schema did not call $example valid: $out" ;; esac
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    sed 's/^runcmd:$/runcmd: {set: -e}/' "$example" > "$work/broken.yaml"
    if cloud-init schema --config-file "$work/broken.yaml" >/dev/null 2>&1; then
        fail "cloud-init schema accepts a copy of the example whose runcmd is a mapping: it checks nothing"
    fi
    say "ok: cloud-init schema --config-file: valid cloud-config (and a broken copy is refused)"

    # The README shows part of the example: each "  - " line of its yaml block after the
    # mention of the file must be a line of the file.
    excerpt=$(awk '/examples\/cloud-init\.yaml/ { seen = 1 } seen && /^```yaml/ { on = 1; next } on && /^```/ { exit } on' "$readme")
    [ -n "$excerpt" ] || fail "README.md shows no yaml excerpt after mentioning examples/cloud-init.yaml"
    while IFS= read -r line; do
        case $line in "  - "*) grep -qxF -- "$line" "$example" || fail "README.md shows a line that is not in $example: $line" ;; esac
    done <<< "$excerpt"
    grep -qx "  - ARMI=$name" "$example" || fail "$example installs another release than $name: update its ARMI= line"

    if [ "$(id -u)" != 0 ]; then
        say "runcmd: SKIPPED: running it in private namespaces needs root"
        exit 0
    fi
    if ! command -v ip >/dev/null || ! unshare --net --mount true 2>/dev/null; then
        say "runcmd: SKIPPED: this machine does not allow a private network and mount namespace (or has no ip(8))"
        exit 0
    fi
    rm -rf "$work"
    exec env CLOUD_INIT_INSIDE=1 unshare --net --mount bash "$0" "$tarball" "$emulator"
fi

# ---- Inside the private namespaces ----
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || fail "the network namespace has more than loopback: $links"
ip link set lo up
work=$(mktemp -d)
# shellcheck source=tests/emulator-env.sh
. "$here/emulator-env.sh"
start_emulator "$work" "$emulator" --keyvault kv-demo
trap 'kill $EMULATOR_PIDS 2>/dev/null || true; rm -rf "$work"' EXIT
[ -n "${ARMI_VAULT_ENDPOINT:-}" ] || fail "the emulator named no ARMI_VAULT_ENDPOINT"
cp /etc/motd "$work/motd.original" 2>/dev/null || : > "$work/motd.original"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
tar -xzf "$tarball" -O "$name/armi" > "$work/armi"

# $(runcmd_script SHA256): the runcmd as cloud-init writes it (cc_runcmd: util.shellify), with
# the address and checksum lines replaced. Each replaced line must exist in the example.
runcmd_script() {
    "$python" - "$example" ARMI_URL="file://$tarball" ARMI_SHA256="$1" \
        VAULT=kv-demo <<'EOF'
import shlex, sys
import yaml
from cloudinit import util

example, pairs = sys.argv[1], dict(arg.split("=", 1) for arg in sys.argv[2:])
runcmd, replaced = [], set()
for item in yaml.safe_load(open(example))["runcmd"]:
    name = item.split("=", 1)[0] if isinstance(item, str) and "=" in item else None
    if name in pairs:
        item = name + "=" + shlex.quote(pairs[name])
        replaced.add(name)
    runcmd.append(item)
missing = sorted(set(pairs) - replaced)
if missing:
    sys.exit("the example's runcmd has no line setting " + ", ".join(missing))
sys.stdout.write(util.shellify(runcmd))
EOF
}

# A fresh /usr/local/bin, /run and /etc/motd for each run, in this mount namespace only.
fresh_system() {
    umount /usr/local/bin 2>/dev/null || true
    umount /run 2>/dev/null || true
    umount /etc/motd 2>/dev/null || true
    mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin
    mount -t tmpfs -o mode=0755 tmpfs /run
    cp "$work/motd.original" "$work/motd"
    [ -e /etc/motd ] || fail "/etc/motd does not exist to bind a copy over"
    mount --bind "$work/motd" /etc/motd
}

# $(run_example SHA256): runs the script as root with cloud-init's usual PATH and the emulator's
# endpoints; its exit status in $status, its output in $work/out and $work/err.
run_example() {
    runcmd_script "$1" > "$work/runcmd" || fail "could not make the runcmd script from $example"
    chmod 0700 "$work/runcmd"
    if grep -n 'https://' "$work/runcmd"; then fail "the runcmd script still names an https:// address"; fi
    fresh_system
    set +e
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        ARMI_IMDS_ENDPOINT="$ARMI_IMDS_ENDPOINT" ARMI_ARM_ENDPOINT="$ARMI_ARM_ENDPOINT" \
        ARMI_VAULT_ENDPOINT="$ARMI_VAULT_ENDPOINT" SSL_CERT_FILE="$SSL_CERT_FILE" timeout 120 "$work/runcmd" > "$work/out" 2> "$work/err"
    status=$?
    set -e
}

run_example "$sum"
[ "$status" = 0 ] || fail "the example's runcmd failed (exit $status):
$(cat "$work/out" "$work/err")"
grep -qx "/run/$name.tar.gz: OK" "$work/out" || fail "sha256sum -c did not report the tarball OK: $(cat "$work/out")"
cmp -s /usr/local/bin/armi "$work/armi" || fail "/usr/local/bin/armi is not the binary from $tarball"
[ "$(stat -c %a /usr/local/bin/armi)" = 755 ] || fail "/usr/local/bin/armi is not mode 0755"
[ ! -e "/run/$name.tar.gz" ] || fail "the downloaded tarball was left in /run"
# The emulator's resource group carries the tag project=armi.
printf 'project: armi\n' | cat "$work/motd.original" - | cmp -s - /etc/motd \
    || fail "/etc/motd is not the original plus 'project: armi':
$(cat /etc/motd)"
[ "$(stat -c %a /run/db-password)" = 600 ] || fail "/run/db-password (a secret) is not mode 0600"
[ "$(cat /run/db-password)" = s3cr3t ] || fail "/run/db-password holds '$(cat /run/db-password)', not the vault's current secret"
if grep -q 'eyJ\|s3cr3t' "$work/out" "$work/err"; then fail "the runcmd output shows the secret or something token-shaped"; fi
say "ok: runcmd with the real SHA-256: downloaded, checked, installed /usr/local/bin/armi, tag into /etc/motd, Key Vault secret into /run/db-password (0600)"

wrong=$(printf '%s' "$sum" | sed 's/.$//')$([ "${sum: -1}" = 0 ] && echo 1 || echo 0)
run_example "$wrong"
[ "$status" != 0 ] || fail "the example's runcmd went on with a wrong SHA-256"
grep -q "/run/$name.tar.gz: FAILED" "$work/out" || fail "sha256sum -c did not report the mismatch: $(cat "$work/out" "$work/err")"
[ ! -e /usr/local/bin/armi ] || fail "armi was installed although its SHA-256 was wrong"
cmp -s /etc/motd "$work/motd.original" || fail "/etc/motd changed although the SHA-256 was wrong"
[ ! -e /run/db-password ] || fail "the secret was fetched although the SHA-256 was wrong"
say "ok: runcmd with a wrong SHA-256: sha256sum -c failed (exit $status), nothing installed, nothing run after it"
