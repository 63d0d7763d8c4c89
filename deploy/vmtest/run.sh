#!/usr/bin/env bash
# run.sh ARCH: run tweetpi's GPIO tests against real Linux GPIO character
# devices, inside a small QEMU VM of ARCH (amd64, arm64, armhf or all).
#
# run.sh systemd: boot an amd64 Debian root with systemd as PID 1 instead,
# install the tweetpi .deb into it, and run TestSystemdUnit: the packaged
# unit, with all its hardening, started, killed, reloaded and stopped by a
# real systemd on gpio-sim lines (needs root: mmdebstrap and chroot).
#
# The lines are the kernel's gpio-sim driver's. The VM boots a stock Debian
# kernel that builds gpio-sim as a module (Debian 12 and 13's own kernels do
# not), from an initramfs of busybox, the two modules, the cross-compiled
# test binary (go test -c -tags vmtest ./cmd/tweetpi) and the tweetpi binary.
# QEMU runs with TCG, so no /dev/kvm is needed.
#
# Downloads are cached (kernel and busybox .debs, apt lists) under
# $TWEETPI_VMTEST_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/tweetpi-vmtest);
# apt lists older than a day are refreshed, and a cached kernel is used
# when the mirror cannot be reached. /etc/apt is never written: packages come
# through a private apt configuration that reads the machine's Debian mirror.
#
# Environment:
#   TWEETPI_VMTEST_CACHE    the cache directory
#   TWEETPI_VMTEST_TIMEOUT  seconds before a VM is killed (default 600)
#   TWEETPI_VMTEST_RUN      a -test.run pattern for the tests inside (default ^TestVM)
#   TWEETPI_VMTEST_SKIP     a -test.skip pattern
#   TWEETPI_VMTEST_REFRESH  1: refresh the apt lists even if fresh
#   TWEETPI_VMTEST_KEEP     1: keep the work directory (initramfs, logs)
#   TWEETPI_VMTEST_SUITE    the Debian release of the systemd root (default
#                           trixie, which today's Raspberry Pi OS is built on;
#                           bookworm for the one before)
#
# Exit status: 0 when every test inside every VM passed, 1 otherwise, 2 on
# bad usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${TWEETPI_VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tweetpi-vmtest}
vm_timeout=${TWEETPI_VMTEST_TIMEOUT:-600}
export PATH="$PATH:/usr/local/go/bin"

usage() { echo "usage: $0 amd64|arm64|armhf|all|systemd" >&2; exit 2; }
log() { printf '[vmtest %s] %s\n' "${arch:-}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 1 ] || usage
mode=busybox
case $1 in
amd64 | arm64 | armhf) arches=("$1") ;;
all) arches=(amd64 arm64 armhf) ;;
systemd) arches=(amd64) mode=systemd ;;
*) usage ;;
esac

# --- host tools -------------------------------------------------------------

need_pkgs=()
need() { # command package
	command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2")
}
for a in "${arches[@]}"; do
	case $a in
	amd64) need qemu-system-x86_64 qemu-system-x86 ;;
	arm64) need qemu-system-aarch64 qemu-system-arm ;;
	armhf) need qemu-system-arm qemu-system-arm ;;
	esac
done
need cpio cpio
need xz xz-utils
need gzip gzip
need dpkg-deb dpkg
need apt-get apt
if [ "$mode" = systemd ]; then
	[ "$(id -u)" -eq 0 ] || die "run.sh systemd builds a root file system with chroot: run it as root"
	need mmdebstrap mmdebstrap
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
	mapfile -t need_pkgs < <(printf '%s\n' "${need_pkgs[@]}" | sort -u)
	log "installing ${need_pkgs[*]}"
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
command -v go >/dev/null || die "go is not on PATH"

# mirror prints the machine's Debian archive URI (the one that serves the
# main suites, not debian-security), from /etc/apt/sources.list{,.d/*}.
mirror() {
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		case $f in
		*.sources) uri=$(awk 'tolower($1)=="uris:"{for(i=2;i<=NF;i++)print $i}' "$f") ;;
		*) uri=$(awk '$1=="deb"{for(i=2;i<=NF;i++)if($i ~ /^[a-z+]+:\/\//){print $i;break}}' "$f") ;;
		esac
		for u in $uri; do
			case $u in
			*security*) ;;
			*/debian | */debian/) echo "${u%/}"; return ;;
			esac
		done
	done
	return 1
}

# --- one architecture -------------------------------------------------------

# fetch ARCH: make sure the kernel, its two modules and a static busybox of
# ARCH are in $adir; sets kver, kernel, kmods (dir) and busybox.
fetch() {
	local suite meta
	case $arch in
	amd64) suite=trixie-backports meta=linux-image-amd64 ;;
	arm64) suite=trixie-backports meta=linux-image-arm64 ;;
	armhf) suite=unstable meta=linux-image-armmp ;;
	esac
	adir=$cache/$arch
	local apt=$adir/apt
	mkdir -p "$apt"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,lists/partial,archives/partial} "$adir/debs"
	touch "$apt/status"
	if [ ! -s "$apt/etc/sources.list" ]; then
		local m
		m=$(mirror) || die "no Debian mirror in /etc/apt/sources.list*"
		local kr=/usr/share/keyrings/debian-archive-keyring.gpg
		printf 'deb [signed-by=%s] %s %s main\n' "$kr" "$m" "$suite" "$kr" "$m" trixie >"$apt/etc/sources.list"
	fi
	cat >"$apt/apt.conf" <<-EOF
		Dir::Etc "$apt/etc";
		Dir::Etc::SourceList "$apt/etc/sources.list";
		Dir::Etc::SourceParts "$apt/etc/sources.list.d";
		Dir::Etc::Parts "$apt/etc/apt.conf.d";
		Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
		Dir::Etc::Preferences "$apt/etc/preferences";
		Dir::State "$apt";
		Dir::State::Lists "$apt/lists";
		Dir::State::status "$apt/status";
		Dir::Cache "$apt";
		Dir::Cache::archives "$apt/archives";
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
		APT::Architecture "$arch";
		APT::Architectures { "$arch"; };
		APT::Sandbox::User "root";
		Acquire::Languages "none";
		// unstable's Release is valid for a week only; a mirror that lags
		// behind still serves signed, consistent files.
		Acquire::Check-Valid-Until "false";
	EOF
	local -a aptc=(env APT_CONFIG="$apt/apt.conf")
	local stamp=$apt/lists/.updated
	if [ "${TWEETPI_VMTEST_REFRESH:-0}" = 1 ] || [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		log "apt lists: $suite and trixie"
		if "${aptc[@]}" apt-get update -qq 2>"$adir/apt-update.err"; then
			touch "$stamp"
		elif [ -e "$stamp" ]; then
			log "apt update failed, using the cached lists: $(tail -n1 "$adir/apt-update.err")"
		else
			cat "$adir/apt-update.err" >&2
			die "apt update failed"
		fi
	fi
	# The metapackage's version in the suite names the kernel's ABI.
	local ver
	ver=$("${aptc[@]}" apt-cache madison "$meta" | awk -F' *[|] *' -v s=" $suite/" 'index($3, s){print $2; exit}')
	[ -n "$ver" ] || die "no $meta in $suite"
	local img
	img=$("${aptc[@]}" apt-cache show "$meta=$ver" | sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\).*/\1/p' | head -n1)
	[ -n "$img" ] || die "$meta $ver depends on no linux-image-<abi>"
	kver=${img#linux-image-}
	local bbver
	bbver=$("${aptc[@]}" apt-cache madison busybox-static | awk -F' *[|] *' 'index($3, " trixie/"){print $2; exit}')
	[ -n "$bbver" ] || die "no busybox-static in trixie"

	local kdir=$adir/kernel-$kver
	# .done-net: the modules of the virtio network card are there too (a
	# cache from before them is fetched again).
	if [ ! -e "$kdir/.done-net" ]; then
		log "kernel $kver ($suite $ver): downloading"
		if ! ls "$adir"/debs/linux-binary-"$kver"_*.deb "$adir"/debs/linux-modules-"$kver"_*.deb >/dev/null 2>&1; then
			(cd "$adir/debs" && rm -f ./linux-*.deb &&
				"${aptc[@]}" apt-get download -qq "linux-binary-$kver=$ver" "linux-modules-$kver=$ver") ||
				die "apt-get download of kernel $kver failed"
		fi
		rm -rf "$kdir" && mkdir -p "$kdir/x" "$kdir/modules"
		dpkg-deb -x "$adir"/debs/linux-binary-"$kver"_*.deb "$kdir/x"
		local m
		m=$(find "$kdir/x" -name 'vmlinuz*' -type f | head -n1)
		[ -n "$m" ] || die "no kernel image in linux-binary-$kver"
		mv "$m" "$kdir/vmlinuz"
		# gpio-sim and what it depends on (configfs), and the virtio network
		# card's driver and what it may depend on (those a kernel builds in
		# are not in the package); the packages carry no modules.dep (depmod
		# writes it on install), so the .ko's own depends= field says.
		local -a want
		mapfile -t want < <(dpkg-deb -c "$adir"/debs/linux-modules-"$kver"_*.deb | awk '{print $NF}' |
			grep -E '/kernel/(fs/configfs/configfs|drivers/gpio/gpio-sim|drivers/net/(virtio_net|net_failover)|net/core/failover|drivers/virtio/virtio(_ring|_pci|_pci_modern_dev|_pci_legacy_dev)?)\.ko')
		dpkg-deb --fsys-tarfile "$adir"/debs/linux-modules-"$kver"_*.deb | tar -x -C "$kdir/x" "${want[@]}"
		find "$kdir/x" -name '*.ko*' -exec cp {} "$kdir/modules/" \;
		for f in "$kdir/modules"/*; do
			case $f in
			*.ko.xz) xz -d "$f" ;;
			*.ko.zst) zstd -q -d --rm "$f" ;;
			*.ko.gz) gzip -d "$f" ;;
			esac
		done
		rm -rf "$kdir/x"
		rm -f "$adir"/debs/linux-*.deb # extracted; the cache keeps what the VM needs
		touch "$kdir/.done-net"
	fi
	kernel=$kdir/vmlinuz
	kmods=$kdir/modules

	busybox=$adir/busybox-${bbver#*:}
	if [ ! -x "$busybox" ]; then
		log "busybox-static $bbver: downloading"
		(cd "$adir/debs" && rm -f busybox-static_*.deb &&
			"${aptc[@]}" apt-get download -qq "busybox-static=$bbver") || die "apt-get download of busybox-static failed"
		local x
		x=$(mktemp -d)
		dpkg-deb -x "$adir"/debs/busybox-static_*.deb "$x"
		local b
		b=$(find "$x" -path '*/bin/busybox' -type f | head -n1)
		[ -n "$b" ] || die "no busybox in busybox-static $bbver"
		cp "$b" "$busybox.tmp" || die "copy busybox"
		mv "$busybox.tmp" "$busybox"
		rm -rf "$x" "$adir"/debs/busybox-static_*.deb
	fi
}

# build: cross-compile the test binary and tweetpi for $arch into $work.
build() {
	local -a genv=(env CGO_ENABLED=0 GOOS=linux GOFLAGS="${GOFLAGS:--buildvcs=false}")
	case $arch in
	amd64) genv+=(GOARCH=amd64) ;;
	arm64) genv+=(GOARCH=arm64) ;;
	armhf) genv+=(GOARCH=arm GOARM=6) ;;
	esac
	log "go build: tweetpi and the vmtest binary"
	# The binary as the package builds it (deploy/build.sh's TAGS).
	local tags
	tags=$(sed -n 's/^TAGS=//p' "$root/deploy/build.sh")
	(cd "$root" && "${genv[@]}" go build -trimpath -tags "$tags" -o "$work/tweetpi" ./cmd/tweetpi) ||
		die "go build ./cmd/tweetpi failed for $arch"
	(cd "$root" && "${genv[@]}" go test -c -trimpath -tags vmtest -o "$work/tweetpi.test" ./cmd/tweetpi) ||
		die "go test -c -tags vmtest ./cmd/tweetpi failed for $arch (every _test.go of the package must build there)"
}

# modinfo_depends KO prints the modules KO depends on, from its .modinfo.
modinfo_depends() {
	tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '
}

# load_order MOD...: the modules to insmod for MODs, dependencies first,
# each once; a dependency that is not in $kmods is built into the kernel.
load_order() {
	local -A seen=()
	local -a out=()
	visit() {
		local m=$1 d
		[ -z "${seen[$m]:-}" ] || return 0
		seen[$m]=1
		[ -e "$kmods/$m.ko" ] || return 0
		for d in $(modinfo_depends "$kmods/$m.ko"); do visit "$d"; done
		out+=("$m.ko")
	}
	local m
	for m in "$@"; do visit "$m"; done
	printf '%s\n' "${out[@]}"
}

# initramfs: busybox, the modules gpio-sim needs (in load order), the
# binaries and /init, as a gzipped newc cpio.
initramfs() {
	local r=$work/root
	rm -rf "$r" && mkdir -p "$r"/{bin,lib/modules,dev,proc,sys,tmp,run}
	cp "$busybox" "$r/bin/busybox"
	cp "$work/tweetpi" "$work/tweetpi.test" "$r/bin/"
	cp "$here/init" "$r/init"
	chmod 755 "$r/init" "$r/bin/"*
	# gpio-sim's dependencies (each a module we have, or built in) first;
	# with a broker, the network card's driver too.
	local mods=() d
	[ -e "$kmods/gpio-sim.ko" ] || die "kernel $kver has no gpio-sim module"
	for d in $(modinfo_depends "$kmods/gpio-sim.ko"); do
		[ -e "$kmods/$d.ko" ] || die "gpio-sim needs module $d, which run.sh does not fetch"
	done
	local -a top=(gpio-sim)
	[ -z "$mqtt" ] || top+=(virtio_net)
	mapfile -t mods < <(load_order "${top[@]}")
	for m in "${mods[@]}"; do cp "$kmods/$m" "$r/lib/modules/"; done
	printf '%s\n' "${mods[@]}" >"$r/lib/modules/order"
	{
		printf 'arch=%s\nkernel=%s\n' "$arch" "$kver"
		printf "mqtt='%s'\n" "$mqtt"
		printf "run='%s'\n" "$(printf %s "${TWEETPI_VMTEST_RUN:-}" | sed "s/'/'\\\\''/g")"
		printf "skip='%s'\n" "$(printf %s "${TWEETPI_VMTEST_SKIP:-}" | sed "s/'/'\\\\''/g")"
	} >"$r/vmtest.env"
	(cd "$r" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -1 >"$work/initramfs.gz"
}

# broker: a mosquitto on the host's loopback for TestVMMQTT inside the VM
# (QEMU's user network shows the host's 127.0.0.1 to the guest as
# 10.0.2.2); sets mqtt to the address the guest uses, or leaves it empty
# (the test skips) when the host has no mosquitto.
broker_pid=
broker() {
	mqtt=
	local bin=/usr/sbin/mosquitto port try
	if ! [ -x "$bin" ]; then
		log "no $bin on this host: TestVMMQTT skips inside (apt-get install mosquitto)"
		return 0
	fi
	for try in 1 2 3 4 5; do
		port=$(shuf -i 20000-59999 -n 1)
		{
			printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' "$port"
			printf 'log_dest file %s\nlog_type all\n' "$work/mosquitto.log"
			[ "$(id -u)" -ne 0 ] || echo "user root" # else it drops to user mosquitto, who cannot write $work
		} >"$work/mosquitto.conf"
		"$bin" -c "$work/mosquitto.conf" 2>>"$work/mosquitto.log" &
		broker_pid=$!
		for _ in $(seq 100); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				mqtt=10.0.2.2:$port
				log "mosquitto on 127.0.0.1:$port for the VM (10.0.2.2:$port inside)"
				return 0
			fi
			kill -0 "$broker_pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_broker
	done
	die "mosquitto did not start (try $try); see $work/mosquitto.log"
}

stop_broker() {
	[ -n "$broker_pid" ] || return 0
	kill "$broker_pid" 2>/dev/null || true
	wait "$broker_pid" 2>/dev/null || true
	broker_pid=
}
trap stop_broker EXIT

# sysroot: a Debian root with systemd (the base is cached for a week),
# the tweetpi .deb installed by dpkg in a chroot (its maintainer scripts
# run: user, group, enablement), the test binary, the modules gpio-sim
# needs and the service that runs the test; packed as a newc cpio.
sysroot() {
	local suite=${TWEETPI_VMTEST_SUITE:-trixie}
	local base=$cache/systemd-rootfs-$suite.tar
	if [ -z "$(find "$base" -mtime -7 2>/dev/null)" ]; then
		local m
		m=$(mirror) || die "no Debian mirror in /etc/apt/sources.list*"
		log "mmdebstrap: Debian $suite with systemd"
		mmdebstrap --quiet --variant=essential \
			--include=systemd,systemd-sysv,kmod,ca-certificates,procps \
			--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
			--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
			"$suite" "${base%.tar}.tmp.tar" "deb $m $suite main" || die "mmdebstrap failed"
		mv "${base%.tar}.tmp.tar" "$base"
	fi
	log "the tweetpi .deb for amd64"
	(cd "$root" && ARCHS=amd64 DIST="$work/dist" deploy/build.sh debs >"$work/build.log" 2>&1) ||
		{ cat "$work/build.log" >&2; die "deploy/build.sh debs failed"; }
	local deb
	deb=$(ls "$work"/dist/tweetpi_*_amd64.deb)
	local r=$work/sysroot
	rm -rf "$r" && mkdir -p "$r"
	tar -C "$r" -xf "$base"
	cp "$deb" "$r/tmp/tweetpi.deb"
	chroot "$r" dpkg -i /tmp/tweetpi.deb >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; die "dpkg -i tweetpi.deb failed in the root"; }
	rm "$r/tmp/tweetpi.deb"
	local v=$r/opt/vmtest
	mkdir -p "$v/modules"
	cp "$work/tweetpi.test" "$here/systemd-test.sh" "$v/"
	cp "$deb" "$v/tweetpi.deb" # the test upgrades and purges with it
	local mods=() d
	for d in $(modinfo_depends "$kmods/gpio-sim.ko"); do mods+=("$d.ko"); done
	mods+=(gpio-sim.ko)
	for d in "${mods[@]}"; do cp "$kmods/$d" "$v/modules/"; done
	printf '%s\n' "${mods[@]}" >"$v/modules/order"
	printf 'arch=%s\nkernel=%s\n' "$arch" "$kver" >"$v/vmtest.env"
	cp "$here/vmtest.service" "$r/etc/systemd/system/"
	ln -sf /etc/systemd/system/vmtest.service "$r/etc/systemd/system/multi-user.target.wants/vmtest.service"
	# No login prompts on the console the test writes to.
	ln -sf /dev/null "$r/etc/systemd/system/serial-getty@ttyS0.service"
	ln -sf /dev/null "$r/etc/systemd/system/getty@tty1.service"
	: >"$r/etc/machine-id"
	echo tweetpi-vm >"$r/etc/hostname"
	(cd "$r" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) >"$work/sysroot.cpio"
	rm -rf "$r"
}

# boot: run the VM; its console goes to $work/console.log and stdout.
boot() {
	local -a q
	case $arch in
	amd64) q=(qemu-system-x86_64 -machine q35 -cpu max -append "console=ttyS0 panic=-1 quiet") ;;
	arm64) q=(qemu-system-aarch64 -machine virt -cpu cortex-a53 -append "console=ttyAMA0 panic=-1 quiet") ;;
	armhf) q=(qemu-system-arm -machine "virt,highmem=off" -cpu cortex-a15 -append "console=ttyAMA0 panic=-1 quiet") ;;
	esac
	local mem=256 initrd=$work/initramfs.gz
	if [ "$mode" = systemd ]; then
		# The whole root is the initramfs, uncompressed (TCG unpacks gzip
		# slowly); systemd runs from it as PID 1.
		mem=1024 initrd=$work/sysroot.cpio
		q[${#q[@]} - 1]+=" rdinit=/sbin/init systemd.show_status=false systemd.log_level=warning"
	fi
	local nic=none
	[ -z "${mqtt:-}" ] || nic=user,model=virtio-net-pci # the guest reaches the host's broker at 10.0.2.2
	q+=(-accel tcg -m "$mem" -nographic -no-reboot -nic "$nic" -kernel "$kernel" -initrd "$initrd")
	log "booting $kver under $(basename "${q[0]}") (TCG)"
	local rc=0
	timeout --foreground -k 10 "$vm_timeout" "${q[@]}" </dev/null 2>&1 |
		sed -u 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/\r$//' | tee "$work/console.log" || rc=$?
	if [ "$rc" -eq 124 ]; then log "the VM did not power off within ${vm_timeout}s"; fi
	return 0
}

one() {
	arch=$1
	local t0 t1 t2
	t0=$(date +%s.%N)
	fetch
	work=$(mktemp -d "${TMPDIR:-/tmp}/tweetpi-vmtest-$arch.XXXXXX")
	build
	mqtt=
	if [ "$mode" = systemd ]; then
		sysroot
	else
		broker
		initramfs
	fi
	t1=$(date +%s.%N)
	boot
	stop_broker
	t2=$(date +%s.%N)
	result=$(sed -n 's/^TWEETPI-VMTEST-RESULT: \([A-Z]*\).*/\1/p' "$work/console.log" | tail -n1)
	local prep vm
	prep=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
	vm=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}')
	local boot end
	boot=$(sed -n 's/^vmtest: booted, tests start at \([0-9.]*\)s.*/\1/p' "$work/console.log" | tail -n1)
	end=$(sed -n 's/^vmtest: tests done at \([0-9.]*\)s.*/\1/p' "$work/console.log" | tail -n1)
	local inside=""
	if [ -n "$boot" ] && [ -n "$end" ]; then
		inside=$(awk -v a="$boot" -v b="$end" 'BEGIN{printf " (boot %.1fs, tests %.1fs)", a, b-a}')
	fi
	local name=$arch
	[ "$mode" = busybox ] || name="$arch/$mode/${TWEETPI_VMTEST_SUITE:-trixie}"
	summary+=("$(printf '%-6s %-5s kernel %s, prepare %ss, VM %ss%s' "$name" "${result:-NONE}" "$kver" "$prep" "$vm" "$inside")")
	if [ "${TWEETPI_VMTEST_KEEP:-0}" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}

if [ ${#arches[@]} -gt 1 ]; then
	# Each architecture in its own process, so that set -e holds in each.
	sum=$(mktemp)
	failed=0
	for a in "${arches[@]}"; do
		n=$(wc -l <"$sum")
		TWEETPI_VMTEST_SUMMARY=$sum "$0" "$a" || failed=1
		if [ "$(wc -l <"$sum")" -eq "$n" ]; then
			printf '%-6s FAIL  before the VM ran (see above)\n' "$a" >>"$sum"
		fi
	done
	echo
	echo "vmtest summary:"
	sed 's/^/  /' "$sum"
	rm -f "$sum"
	if [ "$failed" -ne 0 ]; then
		echo "vmtest: FAIL"
		exit 1
	fi
	echo "vmtest: PASS"
	exit 0
fi

summary=()
result=
one "${arches[0]}"
status=0
[ "$result" = PASS ] || status=1
[ -z "${TWEETPI_VMTEST_SUMMARY:-}" ] || printf '%s\n' "${summary[@]}" >>"$TWEETPI_VMTEST_SUMMARY"
echo
printf 'vmtest: %s\n' "${summary[@]}"
exit "$status"
