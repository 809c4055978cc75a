#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS seconds each (default 600), FUZZ_JOBS at a time
# (default 2), then prints one line per target: seconds, executions, corpus size, findings.
# `make fuzz` calls this. Usage: fuzz/run.sh [TARGET...] (default: every target).
# cargo-fuzz needs nightly-only rustc flags (-Z sanitizer=address); RUSTC_BOOTSTRAP=1 lets the
# stable toolchain accept them, so no nightly toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
CARGO=${CARGO:-cargo}
export RUSTC_BOOTSTRAP=1

# Largest input per target (-max_len): a little over the largest real payload of its kind.
max_len() {
	case $1 in
	arc_realm) echo 1024 ;;
	expires_on) echo 256 ;;
	urls_names) echo 4096 ;;
	token_response) echo 8192 ;;
	*) echo 16384 ;;
	esac
}

command -v cargo-fuzz >/dev/null 2>&1 || "$CARGO" install --locked cargo-fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("$CARGO" fuzz list --fuzz-dir fuzz)
"$CARGO" fuzz build -O --fuzz-dir fuzz
mkdir -p fuzz/logs

run_one() {
	local t=$1
	mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
	local start end rc=0
	start=$(date +%s)
	# rss_limit_mb: over-allocation is a finding (malloc_limit_mb follows it); timeout: a hang
	# is one input that takes more than 10 s.
	"$CARGO" fuzz run -O --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
		-max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" -rss_limit_mb=512 \
		-timeout=10 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
		>"fuzz/logs/$t.log" 2>&1 || rc=$?
	end=$(date +%s)
	echo "$t $((end - start)) $rc" >"fuzz/logs/$t.time"
}
export -f run_one max_len
export SECONDS_EACH CARGO
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

echo
printf '%-18s %8s %14s %8s %s\n' target seconds executions corpus findings
status=0
for t in "${targets[@]}"; do
	read -r _ secs rc <"fuzz/logs/$t.time"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "fuzz/logs/$t.log" | tail -n 1)
	corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
	findings=$(find "fuzz/artifacts/$t" -type f | wc -l)
	[ "$rc" = 0 ] && [ "$findings" = 0 ] || status=1
	printf '%-18s %8s %14s %8s %s\n' "$t" "$secs" "${execs:-?}" "$corpus" \
		"$findings$([ "$rc" = 0 ] || echo " (exit $rc, see fuzz/logs/$t.log)")"
done
exit $status
