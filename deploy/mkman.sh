#!/usr/bin/env bash
# mkman.sh BINARY: print the tweetpi(1) man page (roff) on stdout. The
# commands and their flags come from the binary's own -h output, so the page
# cannot drift from the program; the rest is written here.
set -euo pipefail

bin=${1:?usage: mkman.sh BINARY}
version=$("$bin" version | awk '{print $2}')
date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)

# esc: text to roff: backslashes, minus signs, and lines that start with a
# control character.
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

# The commands, in the order "tweetpi -h" lists them.
mapfile -t cmds < <("$bin" -h | sed -n '/^commands:/,/^$/{s/^  \([a-z][a-z]*\) .*/\1/p}')
[ "${#cmds[@]}" -gt 0 ] || { echo "mkman.sh: no commands in $bin -h" >&2; exit 1; }

cat <<ROFF
.TH TWEETPI 1 "$date" "tweetpi $version" "User Commands"
.SH NAME
tweetpi \- run GPIO pins from X (Twitter) mentions and direct messages
.SH SYNOPSIS
ROFF
for c in "${cmds[@]}"; do
	usage=$("$bin" "$c" -h 2>&1 | sed -n 's/^usage: tweetpi [a-z]* *//p' | head -n 1)
	printf '.B tweetpi %s\n' "$c"
	[ -z "$usage" ] || printf '%s\n' "$usage" | esc
	printf '.br\n'
done
cat <<'ROFF'
.SH DESCRIPTION
.B tweetpi
polls an X account's mentions and direct messages and turns commands from
allowed people, such as
.I "@mypi led on"
or
.IR "pump pulse 30s" ,
into GPIO actions, and answers each with a short reply.
A command runs at most once, across restarts and crashes, and never after it
is older than
.BR max_age .
Outputs start at their initial level and go to their safe level (off)
whenever the daemon stops.
.PP
The commands a post may carry are
.BR help ,
.BR status ,
.IR device ,
.I device
.BR on | off | toggle ,
.I device
.B pulse
.IR duration ,
.I device
.B blink
.I n
.RI [ period ]
and
.I device
.IR n %
for pwm; several may be separated by ";", "," or new lines.
.PP
With an
.B mqtt:
section the devices are also on an MQTT broker, for Home Assistant. A fleet
of Pis shares one X account: the gateway holds the keys and names the other
Pis' devices
.RB ( "garden_pump: {node: garden, device: pump}" );
an agent is a configuration with
.B mqtt:
and devices and no
.B twitter:
section, which serves its devices on the broker and needs no keys.
Examples of both are in
.IR /usr/share/doc/tweetpi/examples/ .
.SH COMMANDS
ROFF
for c in "${cmds[@]}"; do
	help=$("$bin" "$c" -h 2>&1 || true)
	usage=$(printf '%s\n' "$help" | sed -n 's/^usage: tweetpi [a-z]* *//p' | head -n 1)
	printf '.TP\n\\fBtweetpi %s\\fR %s\n' "$c" "$(printf '%s\n' "$usage" | esc)"
	# The summary: the lines between the usage line and "flags:".
	printf '%s\n' "$help" | sed -n '/^usage:/d; /^flags:/q; /^$/d; p' | esc
	flags=$(printf '%s\n' "$help" | sed -n '/^flags:/,${/^flags:/d; p}')
	if [ -n "$flags" ]; then
		printf '.RS\n.nf\n'
		printf '%s\n' "$flags" | expand | esc
		printf '.fi\n.RE\n'
	fi
done
cat <<'ROFF'
.SH FILES
.TP
.I /etc/tweetpi/config.yaml
The configuration: the four OAuth 1.0a keys, who may command the device, and
the devices. It holds secrets, so it must be mode 0600; tweetpi refuses a
secret file that group or others can read.
.B tweetpi check
validates it.
.TP
.I /var/lib/tweetpi/state.json
Cursors, seen direct message ids and the account id, written atomically.
.TP
.I /var/lib/tweetpi/devices.json
The devices of the running configuration, so that
.B tweetpi safe
can drive the outputs safe without the configuration.
.TP
.I /usr/lib/systemd/system/tweetpi.service
The hardened unit. It runs
.B tweetpi run
as user tweetpi in group gpio and passes the configuration as the credential
.IR config.yaml ;
change it with
.BR "systemctl edit tweetpi" .
.SH ENVIRONMENT
.TP
.B TWEETPI_CONFIG
The configuration file, when
.B \-config
is not given.
.TP
.B CREDENTIALS_DIRECTORY
Set by systemd: the configuration is read from
.I $CREDENTIALS_DIRECTORY/config.yaml
when neither
.B \-config
nor
.B TWEETPI_CONFIG
names one.
.TP
.BR TWEETPI_CONSUMER_KEY ", " TWEETPI_CONSUMER_SECRET ", " TWEETPI_ACCESS_TOKEN ", " TWEETPI_ACCESS_TOKEN_SECRET
The keys, overriding the configuration's.
.SH EXIT STATUS
.TP
.B 0
Success.
.TP
.B 1
Any other failure (a pin, the network, the API).
.TP
.B 2
A usage error: an unknown command or flag, or an argument missing or too
many. The message says which, once.
.TP
.B 78
A configuration or credential error (EX_CONFIG); systemd does not restart
the service on it.
.SH NOTES
Raspberry Pi kernels keep a GPIO line driven after the process that set it
exits. Add
.B dtparam=strict_gpiod
to
.I /boot/firmware/config.txt
(\fI/boot/config.txt\fR on older systems) and reboot, so that lines are
released when tweetpi stops; the unit also runs
.B tweetpi safe
after every stop.
.PP
Hardware PWM on a Raspberry Pi needs /dev/mem, which the unit does not
give; use outputs, or see the comments at the end of the unit.
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
.BR systemd.exec (5),
.I /usr/share/doc/tweetpi/README.md.gz
ROFF
