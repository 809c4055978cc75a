#!/usr/bin/env bash
# armi run unmodified, as on an Azure VM: no endpoint overrides, IMDS at its real address and ARM
# at management.azure.com:443 with its certificate signed by a CA named in SSL_CERT_FILE.
#
# Safety: this only ever happens inside a private network namespace that this script creates
# (unshare --net), holding nothing but its own loopback device; the metadata address is added to
# that loopback and management.azure.com is mapped to 127.0.0.1 by a private /etc/hosts bind-mounted
# in a private mount namespace. Nothing can leave the namespace.
set -euo pipefail
armi=$(realpath "$1") emulator=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)

if [ "${VM_LIKE_INSIDE:-}" != 1 ]; then
    if ! command -v ip >/dev/null; then
        echo "vm-like: SKIPPED: ip(8) from iproute2 is not installed"
        exit 0
    fi
    if ! unshare --net --mount true 2>/dev/null; then
        echo "vm-like: SKIPPED: this machine does not allow a private network namespace (unshare --net --mount)"
        exit 0
    fi
    exec env VM_LIKE_INSIDE=1 unshare --net --mount bash "$0" "$armi" "$emulator"
fi

fail() { echo "vm-like: FAIL: $*" >&2; exit 1; }
# Refuse to go on unless the namespace holds loopback only.
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || fail "the network namespace has more than loopback: $links"
ip link set lo up
ip addr add 169.254.169.254/32 dev lo  # inside the private namespace only
dir=$(mktemp -d)
printf '127.0.0.1 localhost management.azure.com\n::1 localhost\n' > "$dir/hosts"
mount --bind "$dir/hosts" /etc/hosts

. "$here/emulator-env.sh"
start_emulator "$dir" "$emulator" \
    --imds-listen 169.254.169.254:80 --arm-listen 127.0.0.1:443 --arm-name management.azure.com \
    --user-identity id-deploy:6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0
# Only the CA is kept from what the emulator wrote: armi must find IMDS and ARM by itself.
ca=$SSL_CERT_FILE
unset ARMI_IMDS_ENDPOINT ARMI_ARM_ENDPOINT
run() { env -i SSL_CERT_FILE="$ca" "$armi" "$@"; }

out=$(run group) || fail "armi group (no arguments) failed"
echo "$out" | grep -q '"name": "rg-armi-demo"' || fail "armi group did not print the VM's group: $out"
echo "vm-like: armi group printed the VM's resource group"

token=$(run token) || fail "armi token failed"
[ "${token:0:3}" = "eyJ" ] || fail "armi token did not print a JWT"
run instance -q compute.name -o tsv | grep -qx vm-armi-demo || fail "armi instance -q compute.name -o tsv"
run group -q properties.provisioningState -o tsv | grep -qx Succeeded || fail "armi group -q ... -o tsv"
run token --client-id 6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b -q client_id 2>/dev/null \
    | grep -qx 6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b || fail "user-assigned token by --client-id"
set +e
run group --client-id 6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b >/dev/null 2>&1; code=$?
set -e
[ "$code" -eq 0 ] || fail "armi group --client-id (a user-assigned identity with Reader) gave exit $code"
trace=$(run -v group 2>&1 >/dev/null) || fail "armi -v group failed"
echo "$trace" | grep -q '169.254.169.254' || fail "-v did not trace the IMDS request"
echo "$trace" | grep -q 'management.azure.com' || fail "-v did not trace the ARM request"
if echo "$trace" | grep -q 'eyJ'; then fail "-v printed something token-shaped"; fi
echo "vm-like: ok: group, token, instance, --query/-o tsv, --client-id and -v (no token) with no overrides"
