#!/usr/bin/env bash
# Reproducibility: `make dist` twice from the same sources and commit, in two copies of this tree
# at different paths (so the source path, the target directory and every cached artifact differ),
# the second with another umask, time zone and locale; then compares dist/SHA256SUMS, which
# covers the tarballs and the .deb and .rpm packages.
# Both builds are cold (about twice the time of `make dist` from scratch).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/armi-repro.XXXXXX)
# One snapshot of the tree (the working tree, .git included for the commit hash), so that edits
# made while this runs cannot make the two builds differ.
tar -c --exclude=./target --exclude=./dist . > "$work/src.tar"
# The builds must not see a shared target directory or flags from the environment; each copy takes
# SOURCE_DATE_EPOCH from its own git metadata (the same commit) unless it is set here.
unset CARGO_TARGET_DIR RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

build() {
    local name=$1 src=$2 started
    shift 2
    mkdir -p "$src"
    tar -x -C "$src" -f "$work/src.tar"
    started=$(date +%s)
    (cd "$src" && env "$@" make -s dist > "$work/$name.log" 2>&1) \
        || { tail -n 30 "$work/$name.log" >&2; echo "check-repro: FAIL: build $name failed (log: $work/$name.log)" >&2; exit 1; }
    echo "check-repro: build $name in $src: $(($(date +%s) - started)) s"
}
build 1 "$work/a/armi"
(umask 077 && build 2 "$work/second-build/src/armi" TZ=America/St_Johns LC_ALL=C.UTF-8)

if cmp -s "$work/a/armi/dist/SHA256SUMS" "$work/second-build/src/armi/dist/SHA256SUMS"; then
    echo "check-repro: ok: identical SHA256SUMS ($(grep -o 'SOURCE_DATE_EPOCH=[0-9]*' "$work/1.log")):"
    sed 's/^/    /' "$work/a/armi/dist/SHA256SUMS"
    rm -rf "$work"
else
    echo "check-repro: FAIL: the two builds differ (trees kept in $work):" >&2
    diff "$work/a/armi/dist/SHA256SUMS" "$work/second-build/src/armi/dist/SHA256SUMS" >&2 || true
    for t in x86_64 aarch64; do
        cmp "$work"/a/armi/target/"$t"-unknown-linux-musl/release/armi \
            "$work"/second-build/src/armi/target/"$t"-unknown-linux-musl/release/armi >&2 || true
    done
    # Where two packages differ: their metadata and file lists side by side.
    for package in "$work"/a/armi/dist/*.deb "$work"/a/armi/dist/*.rpm; do
        other="$work/second-build/src/armi/dist/${package##*/}"
        cmp -s "$package" "$other" && continue
        case $package in
            *.deb) show() { dpkg-deb --info "$1"; dpkg-deb --contents "$1"; } ;;
            *.rpm) show() { rpm -qpi "$1"; rpm -qp --dump "$1"; } ;;
        esac
        echo "${package##*/} differs:" >&2
        diff <(show "$package" 2>&1) <(show "$other" 2>&1) >&2 || true
    done
    exit 1
fi
