#!/usr/bin/env bash
# README.md's examples, run: tests/readme.sh ARMI EMULATOR (the armi binary, armi-emulator).
#
# 1. Every ```sh block runs against the emulator, unless the line just above its fence is
#    `<!-- not run: REASON -->` (each reason is printed). A block that would run but names a
#    real Azure host, the metadata address, or sudo/apt/dnf/scp/ssh fails this script instead:
#    it must be marked. Each block runs on its own in a fresh `sh -eu` (plus -o pipefail where
#    sh has it; dash has not, so a block with a pipe runs once more under bash -eu -o pipefail,
#    where a failure left of a pipe is not hidden), in one scratch directory holding ./armi,
#    with armi first on PATH, HOME in the scratch directory, and no variable of this
#    environment but PATH: only what the emulator wrote (env -i). All blocks share one
#    emulator, started with EXAMPLE_FLAGS below: what the examples need.
# 2. Every ```console block whose command is `armi doctor` is a transcript: the paragraph above
#    it names the flags that reproduce it (`armi-emulator FLAGS`). The command runs against an
#    emulator with those flags; each line shown must be a line of the output, in order: `...`
#    stands for any lines, `…` for any text, a run of digits for any digits; without `...` at
#    a place, no other line may be printed there. The exit is the verdict's.
# 3. The table after "The other diagnoses": each row's flags and command give its exit, and
#    every `code` of its first cell is in the output.
#
# Safety: everything runs inside a private network namespace holding nothing but its own
# loopback (unshare --net as root, else unshare -rn; checked before anything runs), so nothing
# can reach 169.254.169.254 or any other address. Where no namespace can be made, the script
# says so and relies on its other checks alone: before any block runs, every URL the emulator
# wrote (ARMI_IMDS_ENDPOINT, ARMI_ARM_ENDPOINT, ...) must be on 127.0.0.1, [::1] or localhost,
# and no block or command may name a real host (the check in 1).
set -euo pipefail
armi=$(realpath "$1") emulator=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
readme=$here/../README.md
fail() { echo "readme: FAIL: $*" >&2; exit 1; }
say() { echo "readme: $*"; }

# What the examples need: a system identity that may write to its group and read the whole
# subscription (armi rest, the subscription's VMs), writes as long-running operations
# (--wait), and the user-assigned identity whose client id the examples name.
EXAMPLE_FLAGS=(--writer-system-identity --subscription-reader --lro async --lro-polls 1
    --user-identity id-deploy:6a1b7f0c-2d3e-4f50-8a9b-0c1d2e3f4a5b:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0)

# Names that only a real machine may contact, and commands that change this one.
REAL='169\.254\.169\.254|(\.|//)(azure\.(net|com|us|cn)|windows\.net|microsoftonline\.(com|us)|chinacloudapi\.cn|usgovcloudapi\.net)\b'
SYSTEM='(^|[;&|(]|\$\(|[[:space:]])(sudo|apt|apt-get|dnf|tdnf|scp|ssh)[[:space:]]'

if [ "${README_INSIDE:-}" != 1 ]; then
    if command -v ip >/dev/null && unshare --net true 2>/dev/null; then
        exec env README_INSIDE=1 unshare --net bash "$0" "$armi" "$emulator"
    elif command -v ip >/dev/null && unshare -rn true 2>/dev/null; then
        exec env README_INSIDE=1 unshare -rn bash "$0" "$armi" "$emulator"
    fi
    say "no private network namespace here (unshare --net and unshare -rn refused, or no ip(8)):" \
        "relying on the loopback and real-host checks alone"
else
    links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    [ "$links" = "lo " ] || fail "the network namespace has more than loopback: $links"
    ip link set lo up
    say "in a private network namespace with loopback only"
fi

work=$(mktemp -d)
# Stops the emulators this script started (each left its pid in $work), then removes $work.
cleanup() {
    local pid_file
    for pid_file in "$work"/*.pid; do
        [ -e "$pid_file" ] && stop "$(cat "$pid_file")"
    done
    rm -rf "$work"
}
# stop PID: SIGTERM, and the wait for the emulator to remove its files and exit.
stop() {
    kill "$1" 2>/dev/null || return 0
    wait "$1" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$work/cwd" "$work/home" "$work/bin" "$work/blocks" "$work/shown"
cp "$armi" "$work/cwd/armi"
ln -s "$work/cwd/armi" "$work/bin/armi"
base_env=(PATH="$work/bin:/usr/bin:/bin" HOME="$work/home" LANG=C.UTF-8)

# emulator_up NAME FLAGS...: starts an emulator, waits for its env file, refuses it unless
# every URL in it is on loopback, and sets $env_file to the file. Its pid goes to
# $work/NAME.pid.
emulator_up() {
    local name=$1 env=$work/$1.env
    shift
    "$emulator" --env-file "$env" "$@" >/dev/null 2>"$work/$name.log" &
    echo $! > "$work/$name.pid"
    for _ in $(seq 1 100); do
        [ -s "$env" ] && break
        sleep 0.05
    done
    [ -s "$env" ] || fail "${where:-}armi-emulator $* did not start: $(cat "$work/$name.log")"
    local line value
    while IFS= read -r line; do
        value=${line#*=}
        case $value in
            *://*)
                [[ $value =~ ^https?://(127\.0\.0\.1|\[::1\]|localhost)(:[0-9]+)?(/|$) ]] ||
                    fail "the emulator wrote ${line%%=*}=$value, which is not a loopback URL"
                ;;
        esac
    done < "$env"
    if ! grep -q '^ARMI_IMDS_ENDPOINT=' "$env" || ! grep -q '^ARMI_ARM_ENDPOINT=' "$env"; then
        fail "the emulator wrote no ARMI_IMDS_ENDPOINT or ARMI_ARM_ENDPOINT"
    fi
    env_file=$env
}
emulator_down() {
    stop "$(cat "$work/$1.pid")"
    rm -f "$work/$1.pid"
}
# with_env ENV_FILE COMMAND...: COMMAND with nothing in its environment but base_env and the file.
with_env() {
    local vars
    mapfile -t vars < "$1"
    shift
    (cd "$work/cwd" && env -i "${base_env[@]}" "${vars[@]}" "$@")
}

# ---- 1. The ```sh blocks ----
# One file per block, and a row per block: number, line of its first line, lines, reason.
awk -v dir="$work/blocks" '
    /^```sh$/ { n++; on = 1; first = NR + 1; reason = "";
                if (prev ~ /^<!-- not run: .* -->$/) { reason = prev; sub(/^<!-- not run: /, "", reason); sub(/ -->$/, "", reason) }
                printf "" > (dir "/" n ".sh"); next }
    on && /^```/ { on = 0; printf "%d\t%d\t%d\t%s\n", n, first, NR - first, reason; next }
    on { print >> (dir "/" n ".sh") }
    { prev = $0 }
' "$readme" > "$work/blocks.tsv"
[ -s "$work/blocks.tsv" ] || fail "README.md has no \`\`\`sh block"

if sh -o pipefail -c true 2>/dev/null; then
    shell=(sh -eu -o pipefail) pipe_check=""
else
    shell=(sh -eu) pipe_check=1
fi
emulator_up examples "${EXAMPLE_FLAGS[@]}"
ran=0 lines=0 skipped=0 reasons=""
while IFS=$'\t' read -r n first count reason; do
    block=$work/blocks/$n.sh
    if [ -n "$reason" ]; then
        skipped=$((skipped + 1))
        reasons="$reasons
    README.md:$first: $reason"
        continue
    fi
    if grep -nE "$REAL" "$block" >&2 || grep -nE "$SYSTEM" "$block" >&2; then
        fail "README.md:$first: this block names a real host or changes this machine (the lines above):" \
            "mark it <!-- not run: REASON --> or make it run against the emulator"
    fi
    shells=("${shell[*]}")
    [ -n "$pipe_check" ] && sed 's/[[:space:]]#.*//' "$block" | grep -q '|' &&
        shells+=("bash -eu -o pipefail")
    for sh_line in "${shells[@]}"; do
        read -ra run_with <<< "$sh_line"
        if ! with_env "$env_file" timeout 120 "${run_with[@]}" "$block" \
            > "$work/out" 2> "$work/err"; then
            {
                echo "readme: FAIL: README.md:$first: the block there failed under $sh_line:"
                awk -v first="$first" '{ printf "  %d: %s\n", first + NR - 1, $0 }' "$block"
                echo "stderr:"
                sed 's/^/  /' "$work/err"
                echo "stdout (last 20 lines):"
                tail -n 20 "$work/out" | sed 's/^/  /'
            } >&2
            exit 1
        fi
    done
    ran=$((ran + 1))
    lines=$((lines + $(grep -c '[^[:space:]]' "$block")))
    say "ok: README.md:$first ($count lines) under ${shells[*]}"
done < "$work/blocks.tsv"
emulator_down examples

# ---- 2. The doctor transcripts ----
# $(shown_matches SHOWN ACTUAL): whether each line of SHOWN is a line of ACTUAL, in order, as
# described at the top; on a mismatch, prints the line that is missing.
shown_matches() {
    awk '
        function norm(s) {
            # In a container the environment line says so; README shows it without.
            sub(/; running in a container: IMDS answers only with the host.s network or a route to 169\.254\.169\.254/, "", s)
            gsub(/[0-9]+/, "#", s)
            return s
        }
        function matches(pattern, line,    pieces, k, n, at) {
            n = split(pattern, pieces, "…")
            if (index(line, pieces[1]) != 1) return 0
            at = length(pieces[1]) + 1
            for (k = 2; k <= n; k++) {
                if (k == n && pieces[k] != "") {
                    if (length(line) - length(pieces[k]) + 1 < at) return 0
                    return substr(line, length(line) - length(pieces[k]) + 1) == pieces[k]
                }
                if (pieces[k] == "") continue
                rest = substr(line, at)
                if (index(rest, pieces[k]) == 0) return 0
                at += index(rest, pieces[k]) + length(pieces[k]) - 1
            }
            return n == 1 ? line == pattern : 1
        }
        FNR == NR { shown[++ns] = norm($0); next }
        { actual[++na] = norm($0) }
        END {
            j = 1; gap = 0
            for (i = 1; i <= ns; i++) {
                if (shown[i] == "...") { gap = 1; continue }
                while (gap && j <= na && !matches(shown[i], actual[j])) j++
                if (j > na || !matches(shown[i], actual[j])) { print "not printed there: " shown[i]; exit 1 }
                j++; gap = 0
            }
            if (!gap && j <= na) { print "printed but not shown: " actual[j]; exit 1 }
        }
    ' "$1" "$2"
}

# One row per transcript: number, line of its command, the command, the flags.
awk -v dir="$work/shown" '
    function flags(text,    found, m) {
        found = "-"
        while (match(text, /`armi-emulator( [^`]*)?`/)) {
            m = substr(text, RSTART + 1, RLENGTH - 2)
            found = m
            text = substr(text, RSTART + RLENGTH)
        }
        return found
    }
    /^$/ { if (para != "") last = para; para = ""; next }
    /^```console$/ { on = 1; head = 1; above = (para != "" ? para : last); next }
    on && /^```/ { on = 0; next }
    on && head { head = 0
        if ($0 ~ /^\$ .*armi doctor/) { n++; cmd = substr($0, 3)
            printf "%d\t%d\t%s\t%s\n", n, NR, cmd, flags(above); keep = 1
            printf "" > (dir "/" n ".txt") } else keep = 0
        next }
    on && keep { print >> (dir "/" n ".txt"); next }
    on { next }
    { para = (para == "" ? $0 : para " " $0) }
' "$readme" > "$work/shown.tsv"
[ -s "$work/shown.tsv" ] || fail "README.md shows no armi doctor transcript"

# run_doctor NAME FLAGS COMMAND: runs COMMAND against an emulator with FLAGS; output in
# $work/NAME.out, exit in $code.
run_doctor() {
    local name=$1 flags=$2 command=$3
    if grep -qE "$REAL" <<< "$command"; then
        fail "README.md shows '$command', which names a real host"
    fi
    read -ra flag_list <<< "$flags"
    emulator_up "$name" "${flag_list[@]}"
    set +e
    with_env "$env_file" timeout 60 sh -c "$command" > "$work/$name.out" 2> "$work/$name.err"
    code=$?
    set -e
    emulator_down "$name"
}

transcripts=0
while IFS=$'\t' read -r n at command flags; do
    [ "$flags" != "-" ] ||
        fail "README.md:$at: the paragraph above this transcript names no \`armi-emulator ...\` flags"
    flags=${flags#armi-emulator}
    flags=${flags# }
    where="README.md:$at: "
    run_doctor "shown$n" "$flags" "$command"
    shown=$work/shown/$n.txt
    want=$(sed -n 's/^verdict: .*(exit \([0-9]*\)).*/\1/p' "$shown")
    grep -q '^verdict: PASS' "$shown" && want=0
    [ -n "$want" ] || fail "README.md:$at: the transcript shows no verdict"
    [ "$code" = "$want" ] ||
        fail "README.md:$at: '$command' against armi-emulator $flags exited $code, the transcript says $want:
$(cat "$work/shown$n.out" "$work/shown$n.err")"
    if ! why=$(shown_matches "$shown" "$work/shown$n.out"); then
        fail "README.md:$at: '$command' against armi-emulator $flags: $why
it printed:
$(cat "$work/shown$n.out")"
    fi
    transcripts=$((transcripts + 1))
    say "ok: README.md:$at: $command (armi-emulator $flags), exit $code"
done < "$work/shown.tsv"

# ---- 3. The other diagnoses ----
awk '
    /^The other diagnoses/ { on = 1; next }
    on && /^$/ && rows { exit }
    on && /^\| / && !/^\|---/ { rows++; if (rows > 1) print NR "\t" $0 }
' "$readme" > "$work/diagnoses.tsv"
[ -s "$work/diagnoses.tsv" ] || fail "README.md has no table of the other diagnoses"
diagnoses=0
while IFS=$'\t' read -r at row; do
    IFS='|' read -r _ finds flags command want _ <<< "$row"
    flags=$(sed 's/(none)//; s/`//g; s/^ *//; s/ *$//' <<< "$flags")
    # shellcheck disable=SC2016 # backquotes of Markdown, not of the shell
    command=$(sed 's/^ *`//; s/` *$//' <<< "$command")
    want=${want// /}
    where="README.md:$at: "
    run_doctor "diagnosis$at" "$flags" "$command"
    [ "$code" = "$want" ] ||
        fail "README.md:$at: '$command' against armi-emulator $flags exited $code, the table says $want:
$(cat "$work/diagnosis$at.out" "$work/diagnosis$at.err")"
    # shellcheck disable=SC2016 # backquotes of Markdown, not of the shell
    spans=$(grep -o '`[^`]*`' <<< "$finds" | tr -d '`')
    [ -n "$spans" ] || fail "README.md:$at: the row quotes nothing of what doctor prints"
    while IFS= read -r span; do
        grep -qF -- "$(tr '0-9' '#' <<< "$span")" <(tr '0-9' '#' < "$work/diagnosis$at.out") ||
            fail "README.md:$at: doctor did not print '$span' against armi-emulator $flags:
$(cat "$work/diagnosis$at.out")"
    done <<< "$spans"
    diagnoses=$((diagnoses + 1))
    say "ok: README.md:$at: $command (armi-emulator $flags), exit $code"
done < "$work/diagnoses.tsv"

say "ran $ran blocks ($lines lines), skipped $skipped:$reasons"
say "checked $transcripts doctor transcripts and $diagnoses diagnoses against the flags they name"
