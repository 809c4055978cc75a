#!/usr/bin/env bash
# Release packages: tests/dist-packages.sh VERSION GENERATOR TARGET=BINARY... writes, next to the
# tarballs tests/dist.sh made, dist/armi_VERSION-1_ARCH.deb and dist/armi-VERSION-1.ARCH.rpm for
# each pair, and rewrites dist/SHA256SUMS to cover every file in dist/.
#
# GENERATOR is the armi that runs here (the x86_64 binary): the man page and the shell
# completions are what it prints for `--generate man|complete-bash|complete-zsh|complete-fish`,
# the same for every architecture. Each package holds /usr/bin/armi, the man page (gzip -n -9),
# the completions where the distribution's shells look for them, README.md and the license
# (Debian: /usr/share/doc/armi/copyright in Debian's machine-readable format; RPM: %doc and
# %license). No dependencies (the binary is static), no maintainer scripts.
#
# Reproducible: every file's mtime is SOURCE_DATE_EPOCH (0 when unset), owner root, fixed modes;
# dpkg-deb takes the ar member times from SOURCE_DATE_EPOCH and sorts the tar members; rpmbuild
# is told to use SOURCE_DATE_EPOCH as the build time, to clamp file mtimes to it, and to name a
# fixed build host. dpkg-deb compresses with xz on one thread, so that the archive cannot depend
# on how many cores the building machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$1 generator=$2
shift 2
epoch=${SOURCE_DATE_EPOCH:-0}
export SOURCE_DATE_EPOCH=$epoch LC_ALL=C TZ=UTC
release=1
fail() { echo "dist: FAIL: $*" >&2; exit 1; }
[ -n "$version" ] || fail "no version given"
[ $# -gt 0 ] || fail "no TARGET=BINARY given"
[ -d dist ] || fail "no dist/ directory: tests/dist.sh makes it first"
for tool in dpkg-deb rpmbuild; do
    command -v "$tool" >/dev/null || fail "$tool is missing (make dist installs it as root)"
done

# What Cargo.toml says about the package: one line of description, split at its colon into the
# synopsis and the rest (Debian's short and long description, RPM's Summary and %description).
description=$(sed -n 's/^description = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
license=$(sed -n 's/^license = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$description" ] || [ -z "$license" ]; then fail "Cargo.toml has no description or license"; fi
summary=${description%%:*}
details=${description#*: }
[ "$details" != "$description" ] || details=$description
details="$(printf '%s' "${details:0:1}" | tr '[:lower:]' '[:upper:]')${details:1}."
# The maintainer is the copyright holder named in LICENSE ("Copyright (c) YEAR HOLDER").
copyright=$(sed -n 's/^Copyright (c) //p' LICENSE | head -n 1)
holder=${copyright#* }
if [ -z "$copyright" ] || [ "$holder" = "$copyright" ]; then fail "LICENSE has no 'Copyright (c) YEAR HOLDER' line"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022

# The generated files, once, from the binary that runs here.
generate() {
    local what=$1 out=$2 err
    if ! "$generator" --generate "$what" > "$out" 2> "$work/generate.err"; then
        err=$(head -n 1 "$work/generate.err")
        fail "'$generator --generate $what' failed${err:+: $err}"
    fi
    [ -s "$out" ] || fail "'$generator --generate $what' printed nothing"
}
mkdir "$work/generated"
generate man "$work/generated/armi.1"
generate complete-bash "$work/generated/armi.bash"
generate complete-zsh "$work/generated/_armi"
generate complete-fish "$work/generated/armi.fish"
gzip -n -9 -c "$work/generated/armi.1" > "$work/generated/armi.1.gz"

# Debian's copyright file: the LICENSE text as the MIT License paragraph (copyright-format 1.0).
debian_copyright() {
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
    printf 'Upstream-Name: armi\n\nFiles: *\nCopyright: %s\nLicense: %s\n' "$copyright" "$license"
    # The license text after its title and copyright lines, one space in, "." for blank lines.
    awk 'started { print; next } seen && /./ { started = 1; print; next } /^Copyright \(c\) / { seen = 1 }' LICENSE \
        | sed -e 's/^$/./' -e 's/^/ /'
}

# One installed tree: the files, their modes, every mtime at SOURCE_DATE_EPOCH.
# $(stage ROOT BINARY KIND) with KIND deb or rpm (the zsh directory and the license differ).
stage() {
    local root=$1 bin=$2 kind=$3 zsh_dir
    case $kind in
        deb) zsh_dir=usr/share/zsh/vendor-completions ;;
        rpm) zsh_dir=usr/share/zsh/site-functions ;;
    esac
    install -D -m 0755 "$bin" "$root/usr/bin/armi"
    install -D -m 0644 "$work/generated/armi.1.gz" "$root/usr/share/man/man1/armi.1.gz"
    install -D -m 0644 "$work/generated/armi.bash" "$root/usr/share/bash-completion/completions/armi"
    install -D -m 0644 "$work/generated/_armi" "$root/$zsh_dir/_armi"
    install -D -m 0644 "$work/generated/armi.fish" "$root/usr/share/fish/vendor_completions.d/armi.fish"
    install -D -m 0644 README.md "$root/usr/share/doc/armi/README.md"
    if [ "$kind" = deb ]; then
        debian_copyright > "$root/usr/share/doc/armi/copyright"
        chmod 0644 "$root/usr/share/doc/armi/copyright"
    else
        install -D -m 0644 LICENSE "$root/usr/share/licenses/armi/LICENSE"
    fi
    find "$root" -type d -exec chmod 0755 {} +
}

# Installed-Size as dpkg-gencontrol computes it: KiB per file rounded up, 1 per directory.
installed_size() {
    find "$1" -path "$1/DEBIAN" -prune -o -mindepth 1 \( -type f -printf '%s\n' -o -printf '1024\n' \) \
        | awk '{ total += int(($1 + 1023) / 1024) } END { print total }'
}

build_deb() {
    local arch=$1 bin=$2 root="$work/deb-$1" out="dist/armi_$version-${release}_$1.deb"
    stage "$root" "$bin" deb
    mkdir -m 0755 "$root/DEBIAN"
    {
        printf 'Package: armi\nVersion: %s-%s\nArchitecture: %s\n' "$version" "$release" "$arch"
        printf 'Maintainer: %s\nInstalled-Size: %s\n' "$holder" "$(installed_size "$root")"
        printf 'Section: utils\nPriority: optional\n'
        printf 'Description: %s\n %s\n' "$summary" "$details"
    } > "$root/DEBIAN/control"
    (cd "$root" && find usr -type f | sort | xargs md5sum) > "$root/DEBIAN/md5sums"
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
    find "$root" -exec touch -h -d "@$epoch" {} +
    dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$root" "$out" >/dev/null
    echo "$out"
}

build_rpm() {
    local arch=$1 bin=$2 top="$work/rpm-$1" root="$work/rpm-$1/tree" out
    mkdir -p "$top"/{BUILD,RPMS,SPECS}
    stage "$root" "$bin" rpm
    cat > "$top/SPECS/armi.spec" <<EOF
Name: armi
Version: $version
Release: $release
Summary: $summary
License: $license
Vendor: $holder
Packager: $holder
AutoReqProv: no

%description
$details

%install
cp -a '$root/.' %{buildroot}/

%files
%defattr(-,root,root,-)
/usr/bin/armi
/usr/share/man/man1/armi.1.gz
/usr/share/bash-completion/completions/armi
/usr/share/zsh/site-functions/_armi
/usr/share/fish/vendor_completions.d/armi.fish
%dir /usr/share/doc/armi
%doc /usr/share/doc/armi/README.md
%dir /usr/share/licenses/armi
%license /usr/share/licenses/armi/LICENSE
EOF
    find "$top" -exec touch -h -d "@$epoch" {} +
    # No post-install processing (it would strip or recompress the prepared files), no debug
    # package, no build-id links; the build host and time are fixed.
    rpmbuild -bb --quiet --target "$arch-linux" \
        --define "_topdir $top" --define "_builddir $top/BUILD" --define "_rpmdir $top/RPMS" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
        --define '__os_install_post %{nil}' --define 'debug_package %{nil}' \
        --define '_build_id_links none' --define '_binary_payload w6.xzdio' \
        --define '_buildhost reproducible' --define 'use_source_date_epoch_as_buildtime 1' \
        --define 'clamp_mtime_to_source_date_epoch 1' \
        "$top/SPECS/armi.spec" > "$work/rpmbuild.log" 2>&1 \
        || { cat "$work/rpmbuild.log" >&2; fail "rpmbuild failed for $arch"; }
    out="dist/armi-$version-$release.$arch.rpm"
    mv "$top/RPMS/armi-$version-$release.$arch.rpm" "$out"
    echo "$out"
}

for pair in "$@"; do
    target=${pair%%=*} bin=${pair#*=}
    [ -f "$bin" ] || fail "$bin does not exist"
    case $target in
        x86_64-*) deb_arch=amd64 rpm_arch=x86_64 ;;
        aarch64-*) deb_arch=arm64 rpm_arch=aarch64 ;;
        *) fail "no package architecture for $target" ;;
    esac
    for package in "$(build_deb "$deb_arch" "$bin")" "$(build_rpm "$rpm_arch" "$bin")"; do
        printf 'dist: %-28s %-34s %9s bytes\n' "$target" "${package#dist/}" "$(stat -c %s "$package")"
    done
done
(cd dist && sha256sum -- *.tar.gz *.deb *.rpm > SHA256SUMS)
echo "dist: dist/SHA256SUMS:"
sed 's/^/    /' dist/SHA256SUMS
