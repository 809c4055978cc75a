#!/usr/bin/env bash
# Release tarballs: tests/dist.sh VERSION TARGET=BINARY... writes
# dist/armi-VERSION-TARGET.tar.gz (armi-VERSION-TARGET/{armi,README.md,LICENSE}) for each pair,
# and dist/SHA256SUMS. Each binary must be static and at most 2 MiB.
#
# Reproducible: entries sorted by name, every mtime SOURCE_DATE_EPOCH (the Makefile sets it to the
# last commit's date; 0 when unset), owner and group 0:0 stored numerically, fixed modes, GNU tar
# format (no atime/ctime), and gzip -n (no name, no timestamp in the gzip header).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1
shift
epoch=${SOURCE_DATE_EPOCH:-0}
limit=$((2 * 1024 * 1024))
fail() { echo "dist: FAIL: $*" >&2; exit 1; }
[ -n "$version" ] || fail "no version given"
[ $# -gt 0 ] || fail "no TARGET=BINARY given"
export LC_ALL=C TZ=UTC

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf dist
mkdir dist
for pair in "$@"; do
    target=${pair%%=*} bin=${pair#*=}
    [ -f "$bin" ] || fail "$bin does not exist"
    size=$(stat -c %s "$bin")
    [ "$size" -le "$limit" ] || fail "$bin is $size bytes, over the 2 MiB budget ($limit bytes)"
    # Static: no program interpreter and no shared library needed (ldd cannot look at a foreign
    # architecture, readelf can).
    if readelf -lW "$bin" | grep -q INTERP; then fail "$bin has an ELF interpreter"; fi
    if readelf -dW "$bin" | grep -q NEEDED; then fail "$bin needs shared libraries"; fi
    machine=$(readelf -hW "$bin" | sed -n 's/^ *Machine: *//p')
    case "$target:$machine" in
        x86_64-*:*X86-64* | aarch64-*:AArch64) ;;
        *) fail "$bin is built for '$machine', not $target" ;;
    esac
    name=armi-$version-$target
    mkdir "$stage/$name"
    install -m 0755 "$bin" "$stage/$name/armi"
    install -m 0644 README.md LICENSE "$stage/$name/"
    chmod 0755 "$stage/$name"
    tar -C "$stage" --create --format=gnu --sort=name --mtime="@$epoch" \
        --owner=0 --group=0 --numeric-owner --no-acls --no-xattrs --no-selinux "$name" \
        | gzip -n -9 > "dist/$name.tar.gz"
    printf 'dist: %-28s armi %9s bytes (budget %s), %s.tar.gz %s bytes\n' \
        "$target" "$size" "$limit" "$name" "$(stat -c %s "dist/$name.tar.gz")"
done
(cd dist && sha256sum -- *.tar.gz > SHA256SUMS)
echo "dist: SOURCE_DATE_EPOCH=$epoch ($(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)); dist/SHA256SUMS:"
sed 's/^/    /' dist/SHA256SUMS
