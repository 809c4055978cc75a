#!/usr/bin/env bash
# The release artifact: static, at most 2 MiB, and runs alone in an empty directory with an
# empty environment (no libc, no CA bundle, no config).
set -euo pipefail
bin=$1 emulator=$2
limit=$((2 * 1024 * 1024))
size=$(stat -c %s "$bin")
fail() { echo "artifact: FAIL: $*" >&2; exit 1; }
[ "$size" -le "$limit" ] || fail "$bin is $size bytes, over the 2 MiB budget"
linkage=$(ldd "$bin" 2>&1 || true)
case "$linkage" in
    *"statically linked"* | *"not a dynamic executable"*) ;;
    *) fail "$bin is dynamically linked: $linkage" ;;
esac
readelf -l "$bin" | grep -q INTERP && fail "$bin has an ELF interpreter"
empty=$(mktemp -d)
cp "$bin" "$empty/armi"
(cd "$empty" && env -i ./armi --help >/dev/null) || fail "armi --help failed in an empty directory under env -i"
version=$(cd "$empty" && env -i ./armi --version)
case "$version" in *musl*) ;; *) fail "--version does not name the musl target: $version" ;; esac
# A usage error must still be exit 2 with nothing around it.
set +e
(cd "$empty" && env -i ARMI_IMDS_ENDPOINT=http://127.0.0.1:9 ./armi group -s not-a-guid 2>/dev/null); code=$?
set -e
[ "$code" -eq 2 ] || fail "a bad subscription gave exit $code, not 2"
# The seed job from the empty directory, with nothing in the environment but where the
# emulated IMDS and ARM are and the test CA.
dir=$(mktemp -d)
. "$(dirname "$0")/emulator-env.sh"
start_emulator "$dir" "$emulator"
cp "$SSL_CERT_FILE" "$empty/ca.pem"
group=$(cd "$empty" && env -i ARMI_IMDS_ENDPOINT="$ARMI_IMDS_ENDPOINT" ARMI_ARM_ENDPOINT="$ARMI_ARM_ENDPOINT" \
    SSL_CERT_FILE=ca.pem ./armi group -q name -o tsv) || fail "armi group failed in an empty directory under env -i"
[ -n "$group" ] || fail "armi group printed nothing"
rm -rf "$empty" "$dir"
echo "artifact: ok: static, $size bytes (budget $limit), runs alone under env -i ($version)"
