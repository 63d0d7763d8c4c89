#!/bin/sh
# shellcheck disable=SC2154 # arch and kernel come from vmtest.env, which run.sh writes
# The test service of the systemd VM (run.sh systemd), run by systemd after
# the boot: make the gpio-sim lines, give the chip to group gpio as
# Raspberry Pi OS's udev rules do, run TestSystemdUnit against the installed
# tweetpi.service, print the result line run.sh looks for, and power off.
# shellcheck disable=SC1091
. /opt/vmtest/vmtest.env
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp

uptime() { cut -d' ' -f1 /proc/uptime; }

result() {
	echo "vmtest: tests done at $(uptime)s"
	echo "TWEETPI-VMTEST-RESULT: $1 $arch $2"
	sync
	systemctl --force --force poweroff
	exit 0
}

while read -r m; do
	insmod "/opt/vmtest/modules/$m" || result FAIL "insmod $m"
done </opt/vmtest/modules/order
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config || result FAIL "mount configfs"
mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing || result FAIL "mount tracefs"

chip=/sys/kernel/config/gpio-sim/tweetpi
mkdir $chip $chip/bank0 || result FAIL "gpio-sim configfs"
n=0
for name in SYS_LED SYS_PUMP; do
	mkdir $chip/bank0/line$n
	echo "$name" >$chip/bank0/line$n/name
	n=$((n + 1))
done
echo $n >$chip/bank0/num_lines
echo 1 >$chip/live || result FAIL "gpio-sim live"
dev=/dev/$(cat $chip/bank0/chip_name)
if ! chgrp gpio "$dev" || ! chmod 0660 "$dev"; then
	result FAIL "chgrp gpio $dev"
fi
echo "gpio-sim: $dev: SYS_LED SYS_PUMP; $(systemctl --version | head -n1)"

# The package enabled the unit, and it tried to start at boot with the
# example configuration: no keys, so exit 78 and no restart loop.
echo "tweetpi.service at boot: $(systemctl is-enabled tweetpi), $(systemctl show -p ActiveState --value tweetpi), exit status $(systemctl show -p ExecMainStatus --value tweetpi), $(systemctl show -p NRestarts --value tweetpi) restarts"
[ "$(systemctl is-enabled tweetpi)" = enabled ] || result FAIL "the package did not enable tweetpi.service"
[ "$(systemctl show -p ExecMainStatus --value tweetpi)" = 78 ] || result FAIL "tweetpi.service at boot without keys did not exit 78"
[ "$(systemctl show -p NRestarts --value tweetpi)" = 0 ] || result FAIL "tweetpi.service was restarted after exit 78"

echo "vmtest: booted, tests start at $(uptime)s"
export TWEETPI_GPIOSIM=$chip TWEETPI_VMTEST_SYSTEMD=1 TWEETPI_DEB=/opt/vmtest/tweetpi.deb
if /opt/vmtest/tweetpi.test -test.v -test.timeout=300s -test.run='^TestSystemdUnit$'; then
	result PASS "kernel $kernel"
else
	result FAIL "kernel $kernel: go test exited $?"
fi
