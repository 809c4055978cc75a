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
python3 "$here/bench.py" "$dir/bench-measure" "$armi" "$here/bench-curl-jq.sh"
rm -rf "$dir"
