#!/usr/bin/env bash
# make bench, data planes: `armi blob get` of a 1 GiB blob from Azurite against curl of the
# same blob with the same token, in the same run (throughput and peak RSS of each), `armi blob
# put` of it (and curl's), and `armi secret` against curl | jq -r .value (IMDS token, then the
# secret). Usage: bench-data-plane.sh ARMI EMULATOR LAUNCHER (the tiny fork+wait4 launcher
# bench.sh builds). BENCH_BLOB_MIB sets the size, BENCH_BLOB_RUNS and BENCH_RUNS the repeats.
set -euo pipefail
armi=$(realpath "$1") emulator=$(realpath "$2") launcher=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
mib=${BENCH_BLOB_MIB:-1024}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$here/emulator-env.sh"
EMULATOR_WAIT_TICKS=1200 start_emulator "$dir" "$emulator" --keyvault kv1 --azurite
# No proxies: everything is on loopback.
unset HTTPS_PROXY https_proxy ALL_PROXY all_proxy HTTP_PROXY http_proxy
port=${ARMI_BLOB_ENDPOINT##*:}
vault_port=${ARMI_VAULT_ENDPOINT##*:}
account_host=${ARMI_BLOB_ENDPOINT#https://}
account_host=${account_host%:*}
resolve=(--resolve "$account_host:$port:127.0.0.1" --resolve "kv1.localhost:$vault_port:127.0.0.1")
token=$("$armi" token https://storage.azure.com/)
version=2025-11-05
curl -sSf "${resolve[@]}" --cacert "$SSL_CERT_FILE" -X PUT -H "Authorization: Bearer $token" \
    -H "x-ms-version: $version" -H 'Content-Length: 0' "$ARMI_BLOB_ENDPOINT/bench?restype=container"
url=$ARMI_BLOB_ENDPOINT/bench/big.bin
python3 - "$dir/big.bin" "$mib" <<'PY'
import sys
piece = bytes((i * 31 % 251) for i in range(1 << 20))
with open(sys.argv[1], "wb") as f:
    for n in range(int(sys.argv[2])):
        f.write(n.to_bytes(8, "little") + piece[8:])
PY
cat > "$dir/curl-get.sh" <<SH
#!/usr/bin/env bash
exec curl -sSf ${resolve[*]} --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $token" \\
    -H "x-ms-version: $version" -o /dev/null "$url"
SH
# The same download checked as armi checks it: its MD5 computed as it arrives.
cat > "$dir/curl-get-md5.sh" <<SH
#!/usr/bin/env bash
set -o pipefail
curl -sSf ${resolve[*]} --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $token" \\
    -H "x-ms-version: $version" "$url" | md5sum
SH
md5=$(python3 - "$dir/big.bin" <<'PY'
import base64, hashlib, sys
md5 = hashlib.md5()
with open(sys.argv[1], "rb") as f:
    for piece in iter(lambda: f.read(1 << 20), b""):
        md5.update(piece)
print(base64.b64encode(md5.digest()).decode())
PY
)
cat > "$dir/curl-put.sh" <<SH
#!/usr/bin/env bash
exec curl -sSf ${resolve[*]} --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $token" \\
    -H "x-ms-version: $version" -H 'x-ms-blob-type: BlockBlob' -H "Content-MD5: $md5" \\
    -H 'Expect:' -T "$dir/big.bin" -o /dev/null "$ARMI_BLOB_ENDPOINT/bench/curl.bin"
SH
cat > "$dir/curl-secret.sh" <<SH
#!/usr/bin/env bash
# What people paste today: a vault token from IMDS, then the secret's value.
set -euo pipefail
token=\$(curl -sSf --noproxy '*' -H Metadata:true \\
    "$ARMI_IMDS_ENDPOINT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net" \\
    | jq -r .access_token)
curl -sSf ${resolve[*]} --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer \$token" \\
    "https://kv1.localhost:$vault_port/secrets/db-password?api-version=7.4" | jq -r .value
SH
chmod +x "$dir"/curl-*.sh
python3 "$here/bench-data-plane.py" "$launcher" "$armi" "$dir" "$url" "$mib"
