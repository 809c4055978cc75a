#!/usr/bin/env bash
# make bench: see tests/bench.py. Needs curl and jq for the baseline (installed if missing).
set -euo pipefail
armi=$(realpath "$1") emulator=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v curl >/dev/null || ! command -v jq >/dev/null; then
    echo "bench: installing curl and jq for the baseline"
    apt-get update -qq && apt-get install -y -qq curl jq >/dev/null
fi
dir=$(mktemp -d)
. "$here/emulator-env.sh"
start_emulator "$dir" "$emulator"
echo "bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m), $(curl --version | head -1 | cut -d' ' -f1-2), $(jq --version)"
gcc -O2 -static -o "$dir/bench-measure" "$here/bench-measure.c" 2>/dev/null \
    || gcc -O2 -o "$dir/bench-measure" "$here/bench-measure.c"
python3 "$here/bench.py" seed "$dir/bench-measure" "$armi" "$here/bench-curl-jq.sh"

# Lists: the same binary over 5,000 and 50,000 resources in pages of 1,000 (ARM's own page size
# for resource lists), each from its own emulator.
for n in 5000 50000; do
    mkdir -p "$dir/list-$n"
    (
        start_emulator "$dir/list-$n" "$emulator" --resources-per-group "$n" --page-size 1000
        env | grep -E '^(ARMI_IMDS_ENDPOINT|ARMI_ARM_ENDPOINT|SSL_CERT_FILE)=' > "$dir/list-$n/vars"
        python3 "$here/bench.py" list "$dir/bench-measure" "$armi" "$n" "$dir/list-$n/vars" > "$dir/list-$n/result"
    )
    grep -v "^#data" "$dir/list-$n/result"
done
python3 "$here/bench.py" growth "$dir/list-5000/result" "$dir/list-50000/result"
# The data planes: a 1 GiB blob against curl, a Key Vault secret against curl | jq.
"$here/bench-data-plane.sh" "$armi" "$emulator" "$dir/bench-measure"
rm -rf "$dir"
