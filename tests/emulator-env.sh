# Sourced by the scripts in tests/: start_emulator DIR [FLAGS...] runs the emulator in the
# background, waits for it to write DIR/env, and exports what it wrote.
start_emulator() {
    local dir=$1 emulator=$2
    shift 2
    "$emulator" --env-file "$dir/env" "$@" >/dev/null &
    EMULATOR_PIDS="${EMULATOR_PIDS:-} $!"
    trap 'kill $EMULATOR_PIDS 2>/dev/null || true' EXIT
    # EMULATOR_WAIT_TICKS: how many 50 ms ticks to wait (Azurite takes seconds to start).
    for _ in $(seq 1 "${EMULATOR_WAIT_TICKS:-100}"); do
        [ -f "$dir/env" ] && break
        sleep 0.05
    done
    if [ ! -f "$dir/env" ]; then
        echo "the emulator did not start" >&2
        return 1
    fi
    set -a
    # shellcheck disable=SC1091
    . "$dir/env"
    set +a
}
