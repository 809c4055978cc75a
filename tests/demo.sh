#!/usr/bin/env bash
# make demo: the seed job against the bundled emulator. `armi group` with no arguments, as on a
# VM; the only difference is where IMDS and ARM are (two loopback ports, named by ARMI_*).
set -euo pipefail
armi=$1 emulator=$2
dir=$(mktemp -d)
. "$(dirname "$0")/emulator-env.sh"
start_emulator "$dir" "$emulator"
echo "# emulator: IMDS $ARMI_IMDS_ENDPOINT, ARM $ARMI_ARM_ENDPOINT (test CA in SSL_CERT_FILE)"
echo "\$ armi group"
"$armi" group
echo "\$ armi group -q properties.provisioningState -o tsv"
"$armi" group -q properties.provisioningState -o tsv
echo "\$ armi token -o json -q expires_at"
"$armi" token -o json -q expires_at
rm -rf "$dir"
