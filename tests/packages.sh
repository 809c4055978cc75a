#!/usr/bin/env bash
# The .deb and .rpm packages in dist/ (make dist): tests/packages.sh VERSION GENERATOR.
#
# For each package: its metadata (name, version, architecture, no dependencies, no maintainer
# scripts), its exact file list, modes and owner, and that its binary is the release tarball's
# and its man page and completions are what GENERATOR (the x86_64 armi) prints. Then, as root,
# each is installed into an empty throwaway root with its own package database (dpkg --root,
# rpm --root --dbpath), checked there (files, `armi --version` run from that root and in a chroot
# of it, `man armi` from it, dpkg --verify / rpm -V) and removed: nothing may be left but empty
# directories. The aarch64 packages are installed too (architecture check overridden) and their
# binary run under qemu-aarch64-static when it is installed. Without root the installs are
# SKIPPED (the package checks still run).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 generator=$2
fail() { echo "packages: FAIL: $*" >&2; exit 1; }
say() { echo "packages: $*"; }
export LC_ALL=C
for tool in dpkg-deb rpm readelf gzip; do
    command -v "$tool" >/dev/null || fail "$tool is missing (make test installs it as root)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What the packages must hold, besides directories.
common_files="usr/bin/armi
usr/share/bash-completion/completions/armi
usr/share/doc/armi/README.md
usr/share/fish/vendor_completions.d/armi.fish
usr/share/man/man1/armi.1.gz"
deb_files=$(printf '%s\n' "$common_files" usr/share/doc/armi/copyright usr/share/zsh/vendor-completions/_armi | sort)
rpm_files=$(printf '%s\n' "$common_files" usr/share/licenses/armi/LICENSE usr/share/zsh/site-functions/_armi | sort)

# The generated files the packages must carry, as the generator prints them now.
mkdir "$work/generated"
for what in man complete-bash complete-zsh complete-fish; do
    "$generator" --generate "$what" > "$work/generated/$what" \
        || fail "'$generator --generate $what' failed"
done

# $(check_tree ROOT KIND TARGET): the files of one unpacked package, KIND deb or rpm.
check_tree() {
    local root=$1 kind=$2 target=$3 files want zsh tarball machine
    files=$(cd "$root" && find . -mindepth 1 ! -type d | sed 's|^\./||' | sort)
    want=$deb_files zsh=usr/share/zsh/vendor-completions/_armi
    [ "$kind" = rpm ] && want=$rpm_files zsh=usr/share/zsh/site-functions/_armi
    [ "$files" = "$want" ] || fail "$package holds other files than it should:
$(diff <(echo "$want") <(echo "$files") || true)"
    # The binary is the release tarball's, for the package's architecture.
    tarball="dist/armi-$version-$target.tar.gz"
    [ -f "$tarball" ] || fail "$tarball is missing"
    tar -xzf "$tarball" -O "armi-$version-$target/armi" > "$work/tarball-armi"
    cmp -s "$root/usr/bin/armi" "$work/tarball-armi" || fail "$package's /usr/bin/armi is not the binary in $tarball"
    machine=$(readelf -hW "$root/usr/bin/armi" | sed -n 's/^ *Machine: *//p')
    case "$target:$machine" in
        x86_64-*:*X86-64* | aarch64-*:AArch64) ;;
        *) fail "$package's armi is built for '$machine', not $target" ;;
    esac
    # gzip -n: no file name and no time stamp in the header (flags and MTIME bytes all zero).
    [ "$(od -An -tx1 -j3 -N5 "$root/usr/share/man/man1/armi.1.gz" | tr -d ' ')" = 0000000000 ] \
        || fail "$package's man page was not compressed with gzip -n (name or time in its header)"
    gzip -dc "$root/usr/share/man/man1/armi.1.gz" | cmp -s - "$work/generated/man" \
        || fail "$package's man page is not what '$generator --generate man' prints"
    cmp -s "$root/usr/share/bash-completion/completions/armi" "$work/generated/complete-bash" \
        || fail "$package's bash completion is not what '$generator --generate complete-bash' prints"
    cmp -s "$root/$zsh" "$work/generated/complete-zsh" \
        || fail "$package's zsh completion is not what '$generator --generate complete-zsh' prints"
    cmp -s "$root/usr/share/fish/vendor_completions.d/armi.fish" "$work/generated/complete-fish" \
        || fail "$package's fish completion is not what '$generator --generate complete-fish' prints"
    cmp -s "$root/usr/share/doc/armi/README.md" README.md || fail "$package's README.md is not this tree's"
    if [ "$kind" = rpm ]; then
        cmp -s "$root/usr/share/licenses/armi/LICENSE" LICENSE || fail "$package's LICENSE is not this tree's"
    else
        grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$' \
            "$root/usr/share/doc/armi/copyright" || fail "$package's copyright file is not in Debian's format"
        grep -q "^Copyright: $(sed -n 's/^Copyright (c) //p' LICENSE)$" "$root/usr/share/doc/armi/copyright" \
            || fail "$package's copyright file does not name LICENSE's holder"
    fi
}

# $(check_modes LINES): each line "MODE OWNER/GROUP" of a package's listing is root/root with
# mode 0755 (the binary, directories) or 0644.
check_modes() {
    local bad
    bad=$(echo "$1" | grep -Ev '^(-rwxr-xr-x|drwxr-xr-x|-rw-r--r--) root/root$' || true)
    [ -z "$bad" ] || fail "$package has entries not owned by root or with other modes than 0755/0644:
$bad"
}

check_deb() {
    local package=$1 arch=$2 target=$3 field
    dpkg-deb --info "$package" > "$work/info" || fail "$package is not a valid .deb"
    for field in "Package: armi" "Version: $version-1" "Architecture: $arch"; do
        grep -qx "$field" <<< "$(dpkg-deb --field "$package")" || fail "$package: no '$field' in its control file"
    done
    for field in Depends Pre-Depends Recommends Suggests Conflicts Breaks Provides; do
        [ -z "$(dpkg-deb --field "$package" "$field")" ] || fail "$package declares $field (a static binary needs nothing)"
    done
    [ "$(dpkg-deb --ctrl-tarfile "$package" | tar -t | sort | tr '\n' ' ')" = "./ ./control ./md5sums " ] \
        || fail "$package's control archive holds more than control and md5sums (maintainer scripts?)"
    check_modes "$(dpkg-deb --contents "$package" | awk '{ print $1, $2 }')"
    rm -rf "$work/tree" && mkdir "$work/tree"
    dpkg-deb --extract "$package" "$work/tree"
    check_tree "$work/tree" deb "$target"
}

check_rpm() {
    local package=$1 arch=$2 target=$3 requires
    [ "$(rpm -qp --qf '%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}' "$package" 2>/dev/null)" = "armi $version 1 $arch MIT" ] \
        || fail "$package: name, version, release, architecture or license is not 'armi $version 1 $arch MIT'"
    requires=$(rpm -qpR "$package" 2>/dev/null | grep -v '^rpmlib(' || true)
    [ -z "$requires" ] || fail "$package requires more than rpm itself (a static binary needs nothing): $requires"
    [ -z "$(rpm -qp --scripts "$package" 2>/dev/null)" ] || fail "$package has scriptlets"
    [ "$(rpm -qp --qf '%{BUILDHOST} %{BUILDTIME}' "$package" 2>/dev/null)" = "reproducible ${SOURCE_DATE_EPOCH:-0}" ] \
        || fail "$package's build host and time are not the fixed ones (reproducible, SOURCE_DATE_EPOCH)"
    check_modes "$(rpm -qplv "$package" 2>/dev/null | awk '{ print $1, $3 "/" $4 }')"
    rm -rf "$work/tree" && mkdir "$work/tree"
    rpm2archive - < "$package" 2>/dev/null | tar -xzf - -C "$work/tree" \
        || fail "$package's payload could not be unpacked"
    check_tree "$work/tree" rpm "$target"
}

# $(run_armi ROOT ARCH): `armi --version` from an installed root, directly and in a chroot of it
# (nothing else is in that root). aarch64 runs under qemu-user, when it is installed.
run_armi() {
    local root=$1 arch=$2 target out qemu
    case $arch in
        amd64 | x86_64) target=x86_64-unknown-linux-musl ;;
        arm64 | aarch64) target=aarch64-unknown-linux-musl ;;
    esac
    if [ "$target" = x86_64-unknown-linux-musl ]; then
        out=$(env -i "$root/usr/bin/armi" --version) || fail "$root/usr/bin/armi --version failed"
        [ "$(env -i "$(command -v chroot)" "$root" /usr/bin/armi --version)" = "$out" ] \
            || fail "armi --version failed in a chroot of the installed root"
    else
        qemu=$(command -v qemu-aarch64-static) || { echo "not run: qemu-aarch64-static is not installed"; return 0; }
        out=$(env -i "$qemu" "$root/usr/bin/armi" --version) || fail "$root/usr/bin/armi --version failed under qemu"
    fi
    case $out in
        "armi $version ($target, commit "*) echo "$out" ;;
        *) fail "the installed armi --version printed '$out', not armi $version for $target" ;;
    esac
}

# $(check_installed ROOT KIND): the files landed where they should, with their modes, and man
# finds the page by name in that root.
check_installed() {
    local root=$1 kind=$2 want=$deb_files file
    [ "$kind" = rpm ] && want=$rpm_files
    for file in $want; do
        [ -f "$root/$file" ] || fail "$package: /$file was not installed"
    done
    [ "$(stat -c %a:%u:%g "$root/usr/bin/armi")" = 755:0:0 ] || fail "$package: /usr/bin/armi is not 0755 root:root"
    if command -v man >/dev/null; then
        # (Read whole, then searched: grep -q stopping early would break the pipe under pipefail.)
        rendered=$(MANPATH="$root/usr/share/man" MANWIDTH=80 man armi 2>/dev/null | col -bx)
        grep -qx 'NAME' <<< "$rendered" \
            || fail "$package: 'man armi' with MANPATH=$root/usr/share/man does not show the page"
    fi
}

# $(check_removed ROOT ADMIN): nothing is left in ROOT but empty directories and the package
# database under ADMIN.
check_removed() {
    local root=$1 admin=$2 left
    left=$(cd "$root" && find . -mindepth 1 ! -type d ! -path "./$admin/*" | sed 's|^\./||')
    [ -z "$left" ] || fail "$package left files behind after its removal: $left"
}

install_deb() {
    local package=$1 arch=$2 root="$work/root-deb-$2" force=()
    mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
    : > "$root/var/lib/dpkg/status"
    [ "$arch" = amd64 ] || force=(--force-architecture)
    dpkg --root="$root" "${force[@]}" --install "$package" > "$work/dpkg.log" 2>&1 \
        || { cat "$work/dpkg.log" >&2; fail "dpkg --root could not install $package into an empty root"; }
    dpkg --root="$root" --verify armi || fail "dpkg --verify armi found changed files right after installing $package"
    check_installed "$root" deb
    version_line=$(run_armi "$root" "$arch")
    dpkg --root="$root" --purge armi > "$work/dpkg.log" 2>&1 \
        || { cat "$work/dpkg.log" >&2; fail "dpkg --purge armi failed"; }
    check_removed "$root" var/lib/dpkg
    rm -rf "$root"
}

install_rpm() {
    local package=$1 arch=$2 root="$work/root-rpm-$2" force=() db=(--dbpath /var/lib/rpm)
    mkdir -p "$root"
    rpm --root "$root" "${db[@]}" --initdb
    [ "$arch" = x86_64 ] || force=(--ignorearch)
    # No --nodeps: in an empty root any dependency would make the install fail.
    rpm --root "$root" "${db[@]}" "${force[@]}" --install "$package" > "$work/rpm.log" 2>&1 \
        || { cat "$work/rpm.log" >&2; fail "rpm --root could not install $package into an empty root"; }
    rpm --root "$root" "${db[@]}" --verify armi > "$work/rpm.log" 2>&1 \
        || { cat "$work/rpm.log" >&2; fail "rpm -V armi found changed files right after installing $package"; }
    check_installed "$root" rpm
    version_line=$(run_armi "$root" "$arch")
    rpm --root "$root" "${db[@]}" --erase armi > "$work/rpm.log" 2>&1 \
        || { cat "$work/rpm.log" >&2; fail "rpm -e armi failed"; }
    check_removed "$root" var/lib/rpm
    rm -rf "$root"
}

# $(test_package KIND FILE ARCH TARGET): the checks of one package, KIND deb or rpm; installs it
# when running as root.
test_package() {
    local kind=$1 arch=$3 target=$4
    package=$2
    [ -f "$package" ] || fail "$package is missing (make dist builds it)"
    "check_$kind" "$package" "$arch" "$target"
    if [ "$(id -u)" = 0 ]; then
        "install_$kind" "$package" "$arch"
        say "ok: $package ($(stat -c %s "$package") bytes): metadata, files, installed into an empty root, removed cleanly; --version: $version_line"
    else
        say "ok: $package ($(stat -c %s "$package") bytes): metadata and files; install SKIPPED: installing into a throwaway root needs root"
    fi
}

test_package deb "dist/armi_$version-1_amd64.deb" amd64 x86_64-unknown-linux-musl
test_package rpm "dist/armi-$version-1.x86_64.rpm" x86_64 x86_64-unknown-linux-musl
test_package deb "dist/armi_$version-1_arm64.deb" arm64 aarch64-unknown-linux-musl
test_package rpm "dist/armi-$version-1.aarch64.rpm" aarch64 aarch64-unknown-linux-musl
