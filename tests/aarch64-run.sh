#!/bin/sh
# Runs the aarch64 release binary under qemu-user: `make test-aarch64` names this script as
# ARMI_BIN, so every integration test runs the real aarch64 armi with the test's arguments.
# The tests clear the environment, so nothing here may rely on PATH or any variable: the binary
# is found next to this script's checkout, qemu at Debian's path. There is no binfmt_misc in the
# build container, hence the explicit qemu. `exec`, so that qemu is the process the test waits
# for and signals (qemu passes signals to the guest and returns its exit status).
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
bin=${ARMI_AARCH64_BIN:-$here/../target/aarch64-unknown-linux-musl/release/armi}
qemu=${QEMU_AARCH64:-/usr/bin/qemu-aarch64-static}
exec "$qemu" "$bin" "$@"
