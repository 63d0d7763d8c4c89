#!/usr/bin/env bash
# ci.sh: the deployment checks, called by .ci/run. Runs as root on a Debian
# machine; installs what it needs with apt.
#
#   1. shellcheck on the scripts and the maintainer scripts
#   2. systemd-analyze security --offline=true --threshold=20 on the unit
#   3. deploy/build.sh: the three static binaries and the three .debs
#   4. the binaries (static, stripped, version stamped, GOARM=6) and the
#      packages (files, owners, modes, conffiles, control fields)
#   5. lintian: no errors
#   6. on amd64, in a throwaway root: install, systemd-analyze verify of the
#      installed unit, an upgrade that keeps an edited config at 0600, remove
#      and purge
#
# The throwaway root is an overlay on this machine's own root file system:
# the lower layer is / (read-only to it), the upper one a tmpfs that is
# thrown away at the end. It needs no download (a debootstrap of bookworm
# took over ten minutes here) and leaves the machine as it was; the price
# is that it tests on the CI machine's Debian rather than Raspberry Pi OS,
# and that no systemd runs inside, so start, stop and try-restart are
# skipped by the scripts' own "is systemd running" checks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

step() { printf '\n== deploy: %s\n' "$*"; }
fail() {
	echo "deploy: FAIL: $*" >&2
	exit 1
}
start=$(date +%s)

step "tools"
need=()
for tool in shellcheck:shellcheck lintian:lintian dpkg-deb:dpkg file:file \
	systemd-analyze:systemd deb-systemd-helper:init-system-helpers \
	systemd-sysusers:systemd /bin/kill:procps update-ca-certificates:ca-certificates; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
systemd-analyze --version | head -n 1

step "shellcheck"
shellcheck deploy/build.sh deploy/ci.sh deploy/mkman.sh deploy/vmtest/run.sh deploy/vmtest/systemd-test.sh deploy/bench/*.sh
shellcheck --shell=sh deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm

step "systemd-analyze security (exposure must be 2.0 or better)"
systemd-analyze security --offline=true --threshold=20 deploy/tweetpi.service >/tmp/tweetpi-security.txt ||
	{ cat /tmp/tweetpi-security.txt; fail "the unit's exposure is above 2.0"; }
grep 'Overall exposure' /tmp/tweetpi-security.txt

step "build"
rm -rf dist
deploy/build.sh
version=$(dpkg-deb -f dist/tweetpi_*_amd64.deb Version)
version=${version%-1}

step "binaries"
check_bin() { # FILE ELF-ARCH
	local out
	out=$(file -b "$1")
	case $out in *"$2"*"statically linked"*stripped*) ;; *) fail "$1: $out" ;; esac
	# -trimpath keeps -ldflags out of the build info: look for the string.
	grep -aqF "$version" "$1" || fail "$1: not stamped with $version"
	go version -m "$1" | grep -q -- "-trimpath=true" || fail "$1: not built with -trimpath"
	go version -m "$1" | grep -q -- "CGO_ENABLED=0" || fail "$1: not built with CGO_ENABLED=0"
	printf '%-24s %9d bytes  %s\n' "$(basename "$1")" "$(stat -c %s "$1")" "$out"
}
check_bin dist/tweetpi-linux-amd64 x86-64
check_bin dist/tweetpi-linux-arm64 aarch64
check_bin dist/tweetpi-linux-armv6 "32-bit LSB executable, ARM"
go version -m dist/tweetpi-linux-armv6 | grep -q 'GOARM=6' || fail "armv6 binary not built with GOARM=6"
# The Pi Zero's binary stays within 9 MiB (the packaged builds leave the
# demo's fake X API and net/http's HTTP/2 out: build.sh's TAGS).
armv6=$(stat -c %s dist/tweetpi-linux-armv6)
[ "$armv6" -le $((9 << 20)) ] || fail "the armv6 binary is $armv6 bytes, over 9 MiB ($((9 << 20)))"
dist/tweetpi-linux-amd64 demo >/dev/null 2>&1 && fail "the packaged binary has the demo; build.sh builds with -tags nodemo"
go version -m dist/tweetpi-linux-armv6 | grep -q -- '-tags=.*nethttpomithttp2' || fail "the packaged binary has HTTP/2; build.sh builds with -tags nethttpomithttp2"
# "tweetpi VERSION (what the build info adds)": the first two words.
vers() { "$@" version | awk '{print $1, $2}'; }
[ "$(vers dist/tweetpi-linux-amd64)" = "tweetpi $version" ] || fail "tweetpi version: $(dist/tweetpi-linux-amd64 version)"

step "packages"
# What every .deb holds: mode owner/group path (directories end in /).
expect=$(
	cat <<'EOF'
drwxr-xr-x root/root ./etc/
drwx------ root/root ./etc/tweetpi/
-rw------- root/root ./etc/tweetpi/config.yaml
-rwxr-xr-x root/root ./usr/bin/tweetpi
-rw-r--r-- root/root ./usr/lib/systemd/system/tweetpi.service
-rw-r--r-- root/root ./usr/lib/sysusers.d/tweetpi.conf
-rw-r--r-- root/root ./usr/share/doc/tweetpi/README.md.gz
-rw-r--r-- root/root ./usr/share/doc/tweetpi/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/tweetpi/copyright
-rw-r--r-- root/root ./usr/share/doc/tweetpi/examples/fleet-agent.yaml
-rw-r--r-- root/root ./usr/share/doc/tweetpi/examples/fleet-gateway.yaml
-rw-r--r-- root/root ./usr/share/lintian/overrides/tweetpi
-rw-r--r-- root/root ./usr/share/man/man1/tweetpi.1.gz
EOF
)
for arch in amd64 arm64 armhf; do
	deb=dist/tweetpi_${version}-1_${arch}.deb
	[ -f "$deb" ] || fail "$deb is missing"
	# Numeric 0/0 (nfpm's own files) is root/root too.
	got=$(dpkg-deb -c "$deb" | awk '{sub(/^0\/0$/, "root/root", $2); print $1, $2, $6}' |
		grep -v -E '^d.* \./(usr/|usr/bin/|usr/lib/|usr/lib/systemd/|usr/lib/systemd/system/|usr/lib/sysusers.d/|usr/share/|usr/share/doc/|usr/share/doc/tweetpi/|usr/share/doc/tweetpi/examples/|usr/share/lintian/|usr/share/lintian/overrides/|usr/share/man/|usr/share/man/man1/)$' |
		sort)
	if [ "$got" != "$(printf '%s\n' "$expect" | sort)" ]; then
		diff <(printf '%s\n' "$expect" | sort) <(printf '%s\n' "$got") || true
		fail "$deb: unexpected contents (< expected, > got)"
	fi
	[ "$(dpkg-deb -f "$deb" Package)" = tweetpi ] || fail "$deb: Package"
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "$deb: Architecture"
	[ "$(dpkg-deb -f "$deb" Version)" = "$version-1" ] || fail "$deb: Version"
	[ "$(dpkg-deb --info "$deb" conffiles)" = /etc/tweetpi/config.yaml ] || fail "$deb: conffiles"
	for s in postinst prerm postrm; do
		dpkg-deb --info "$deb" "$s" | cmp -s - "deploy/debian/$s" || fail "$deb: $s differs from deploy/debian/$s"
	done
	printf '%-48s %9d bytes, installed %s KiB\n' "$(basename "$deb")" "$(stat -c %s "$deb")" "$(dpkg-deb -f "$deb" Installed-Size)"
done
dpkg-deb --info "dist/tweetpi_${version}-1_amd64.deb"
dpkg-deb --contents "dist/tweetpi_${version}-1_amd64.deb"

step "lintian"
# lintian warns that it runs as root; CI runs everything as root.
lintian --fail-on error --info dist/tweetpi_*.deb 2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error dist/tweetpi_*.deb >/dev/null 2>&1 || fail "lintian reports errors"

step "install, upgrade, purge on amd64 in a throwaway root"
# A second package with a higher version, for the upgrade.
DIST=dist/upgrade ARCHS=amd64 VERSION="$version+ci2" deploy/build.sh >/dev/null
deb1=dist/tweetpi_${version}-1_amd64.deb
deb2=dist/upgrade/tweetpi_${version}+ci2-1_amd64.deb

for d in /usr /var /etc; do
	[ "$(findmnt -n -o TARGET --target "$d")" = / ] || fail "$d is a separate mount; the overlay test needs one root file system"
done
host_before=$(getent passwd tweetpi || true; getent group gpio || true; dpkg-query -W tweetpi 2>/dev/null || true)

tmp=$(mktemp -d /tmp/tweetpi-ci.XXXXXX)
ov=$tmp/ov
m=$ov/root
cleanup() {
	for mp in "$m/dev" "$m/proc" "$m/sys" "$m" "$ov"; do
		mountpoint -q "$mp" && umount -l "$mp"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$ov"
mount -t tmpfs -o size=512m tmpfs "$ov"
mkdir -p "$ov/upper" "$ov/work" "$m"
mount -t overlay overlay -o "lowerdir=/,upperdir=$ov/upper,workdir=$ov/work" "$m"
mount --rbind /dev "$m/dev"
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
# The chroot must not see a running systemd (/run is not in the lower layer).
[ ! -d "$m/run/systemd/system" ] || fail "the throwaway root sees /run/systemd/system"
mkdir -p "$m/root/ci"
cp "$deb1" "$deb2" "$m/root/ci/"
in_root() { chroot "$m" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
mode() { stat -c '%a %U:%G' "$m$1"; }
wants=/etc/systemd/system/multi-user.target.wants/tweetpi.service

# Clear what a previous install on this machine left, inside the overlay only.
in_root sh -c 'dpkg --purge tweetpi >/dev/null 2>&1 || true'

echo "-- install $(basename "$deb1")"
in_root dpkg -i "/root/ci/$(basename "$deb1")" </dev/null | tee "$tmp/install.txt"
grep -q 'installed and enabled, but not started' "$tmp/install.txt" || fail "no hint after a fresh install"
in_root id tweetpi
in_root id -nG tweetpi | tr ' ' '\n' | grep -qx gpio || fail "tweetpi is not in group gpio"
in_root id -nG tweetpi | tr ' ' '\n' | grep -qx i2c || fail "tweetpi is not in group i2c"
[ "$(mode /etc/tweetpi)" = "700 root:root" ] || fail "/etc/tweetpi: $(mode /etc/tweetpi)"
[ "$(mode /etc/tweetpi/config.yaml)" = "600 root:root" ] || fail "config.yaml: $(mode /etc/tweetpi/config.yaml)"
[ -L "$m$wants" ] || fail "the unit is not enabled"
[ "$(vers in_root tweetpi)" = "tweetpi $version" ] || fail "installed tweetpi version"

echo "-- systemd-analyze verify (the installed unit, with /usr/bin/tweetpi in place)"
in_root systemd-analyze verify /usr/lib/systemd/system/tweetpi.service 2>&1 | tee "$tmp/verify.txt"
[ ! -s "$tmp/verify.txt" ] || fail "systemd-analyze verify is not clean"

echo "-- edit the config, upgrade to $(basename "$deb2")"
echo "# edited by deploy/ci.sh" >>"$m/etc/tweetpi/config.yaml"
sum=$(sha256sum <"$m/etc/tweetpi/config.yaml")
mkdir -p "$m/var/lib/tweetpi"
echo '{}' >"$m/var/lib/tweetpi/state.json"
in_root dpkg -i --force-confold "/root/ci/$(basename "$deb2")" </dev/null | tee "$tmp/upgrade.txt"
! grep -q 'not started' "$tmp/upgrade.txt" || fail "the fresh-install hint printed on an upgrade"
# shellcheck disable=SC2016 # dpkg-query's own ${Version}
[ "$(in_root dpkg-query -W -f '${Version}' tweetpi)" = "$version+ci2-1" ] || fail "upgrade: version"
[ "$(vers in_root tweetpi)" = "tweetpi $version+ci2" ] || fail "upgraded tweetpi version"
[ "$(sha256sum <"$m/etc/tweetpi/config.yaml")" = "$sum" ] || fail "upgrade replaced the edited config"
[ "$(mode /etc/tweetpi/config.yaml)" = "600 root:root" ] || fail "upgrade: config.yaml is $(mode /etc/tweetpi/config.yaml)"
[ "$(mode /etc/tweetpi)" = "700 root:root" ] || fail "upgrade: /etc/tweetpi is $(mode /etc/tweetpi)"
[ -L "$m$wants" ] || fail "upgrade: the unit is no longer enabled"

echo "-- remove"
in_root dpkg --remove tweetpi </dev/null
[ ! -e "$m/usr/bin/tweetpi" ] || fail "remove left /usr/bin/tweetpi"
[ -f "$m/etc/tweetpi/config.yaml" ] || fail "remove deleted the config"
[ -f "$m/var/lib/tweetpi/state.json" ] || fail "remove deleted the state"

echo "-- purge"
in_root dpkg --purge tweetpi </dev/null
for p in /etc/tweetpi /var/lib/tweetpi "$wants" /etc/systemd/system/tweetpi.service; do
	if [ -e "$m$p" ] || [ -L "$m$p" ]; then fail "purge left $p"; fi
done
in_root id tweetpi >/dev/null || fail "purge removed the tweetpi user (Debian leaves system users)"
if in_root dpkg-query -W tweetpi >/dev/null 2>&1; then fail "dpkg still lists tweetpi after the purge"; fi

cleanup
trap - EXIT
host_after=$(getent passwd tweetpi || true; getent group gpio || true; dpkg-query -W tweetpi 2>/dev/null || true)
[ "$host_before" = "$host_after" ] || fail "the test changed this machine"

step "passed in $(($(date +%s) - start)) s"
cd "$root"
