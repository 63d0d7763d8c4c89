#!/usr/bin/env bash
# measure.sh: the whole-process figures of tweetpi (issue 9), with public
# tools only (/usr/bin/time -v, /proc/PID/status, /proc/PID/stat and
# /proc/PID/task/*/schedstat).
#
# It builds the real binary (stripped, as deploy/build.sh does) and the fake
# X API (deploy/bench/fakex), runs `tweetpi run -log-format json` against the
# fake over loopback HTTP in the background, with simulated pins, and prints:
#
#   sizes     stripped binary for linux/arm GOARM=6, linux/arm64, linux/amd64
#   idle      time to READY (sd_notify) and to the first poll from exec, RSS
#             after SECONDS idle at the default poll_interval (60s)
#   empty     CPU per empty poll at poll_interval 1s (unlimited fake)
#   commands  a command every second at poll_interval 1s: peak RSS, CPU per
#             poll, post-visible -> pin-set latency
#   pro       the same commands on the Pro tier's limits (mentions 300/15min:
#             the fastest the limits allow is a poll every 3s): latency
#   stream    the X Activity API stream (delivery: auto) at poll_interval 60s:
#             idle CPU per hour, wake-ups per minute, RSS and bytes written,
#             beside the same figures for polls at 60s; post -> pin set with
#             a command every second; a burst of 800 commands at once (state
#             on the disk); and post -> pin set polling at 60s, for comparison
#
# usage: deploy/bench/measure.sh [SECONDS]    (default 60; CI runs it with 5)
#
# Figures are printed, not checked. The machine's load changes them: look at
# the load average printed first.
set -euo pipefail
cd "$(dirname "$0")/../.."

DUR=${1:-60}
WORK=$(mktemp -d /tmp/tweetpi-bench.XXXXXX)
PIDS=()
RUNS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	rm -rf "$WORK" "${RUNS[@]}"
}
trap cleanup EXIT

say() { printf '%-34s %s\n' "$1" "$2"; }
ms() { awk -v n="$1" 'BEGIN { printf "%.1f ms", n / 1e6 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# anonfile PID: "anon X MiB, file Y MiB": what of the RSS is the process's
# own memory, and what the binary's pages (shared, dropped under pressure).
anonfile() { awk '$1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } END { printf "anon %.1f MiB, binary pages %.1f MiB", a / 1024, f / 1024 }' "/proc/$1/status"; }

# cpu_ns PID: CPU time of every thread of PID, in nanoseconds (schedstat),
# and clock ticks (stat) as a cross-check.
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'
}
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# wakeups PID: context switches of every thread of PID (each one a thread
# that went to sleep and was woken, or was preempted).
wakeups() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { printf "%d", s }'
}
# wbytes PID: bytes the process caused to be written to storage (/proc/PID/io).
wbytes() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }

# idle_sample WARM SECONDS: CPU, wake-ups and bytes written over SECONDS,
# after WARM seconds; sets IDLE_LINE, WAKE_LINE and WRITE_LINE.
idle_sample() {
	local t0 c0 w0 b0 t1 c1 w1 b1
	sleep "$1"
	t0=$(date +%s%N) c0=$(cpu_ns "$PID") w0=$(wakeups "$PID") b0=$(wbytes "$PID")
	sleep "$2"
	t1=$(date +%s%N) c1=$(cpu_ns "$PID") w1=$(wakeups "$PID") b1=$(wbytes "$PID")
	IDLE_LINE=$(awk -v c=$((c1 - c0)) -v s=$(((t1 - t0) / 1000000)) \
		'BEGIN { printf "%.1f ms CPU per hour (%.2f ms over %.1fs)", c / 1e6 * 3600000 / s, c / 1e6, s / 1000 }')
	WAKE_LINE=$(awk -v w=$((w1 - w0)) -v s=$(((t1 - t0) / 1000000)) \
		'BEGIN { printf "%.1f per minute (%d context switches in %.1fs, all threads)", w * 60000 / s, w, s / 1000 }')
	WRITE_LINE="$((b1 - b0)) bytes in $(((t1 - t0) / 1000000000))s (write_bytes of /proc/PID/io)"
}

echo "== tweetpi whole-process figures: $(nproc) cores, $(awk '{print $1, $2, $3}' /proc/loadavg) load, $(go version | awk '{print $3}'), ${DUR}s per phase"

# The binary the package ships: without the demo and HTTP/2 (the tags of
# deploy/build.sh). Its code pages are most of the RSS.
TAGS=$(sed -n 's/^TAGS=//p' deploy/build.sh)
go build -trimpath -tags "$TAGS" -ldflags "-s -w" -o "$WORK/tweetpi" ./cmd/tweetpi
go build -o "$WORK/fakex" ./deploy/bench/fakex

echo "-- sizes (as packaged: -tags $TAGS, stripped: -trimpath -ldflags '-s -w', CGO_ENABLED=0)"
for t in arm:6 arm64: amd64:; do
	arch=${t%%:*} arm=${t#*:}
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm go build -trimpath -tags "$TAGS" -ldflags "-s -w -buildid=" \
		-o "$WORK/tweetpi-$arch" ./cmd/tweetpi
	say "linux/$arch${arm:+ GOARM=$arm}" "$(stat -c %s "$WORK/tweetpi-$arch" | awk '{ printf "%.2f MiB (%d bytes)", $1 / 1048576, $1 }')"
done

# phase NAME FAKEX-FLAGS...: starts the fake and the daemon; sets FAKE, TIME
# (the /usr/bin/time process), PID (tweetpi), START (ns), DIR.
phase() {
	DIR=$WORK/$1
	shift
	mkdir -p "$DIR"
	"$WORK/fakex" -dir "$DIR" -log "$DIR/daemon.log" "$@" >"$DIR/events" 2>"$DIR/fakex.err" &
	FAKE=$!
	PIDS+=("$FAKE")
	for _ in $(seq 100); do grep -q '^config ' "$DIR/events" 2>/dev/null && break; sleep 0.05; done
	# The status file goes where the unit's RuntimeDirectory= puts it: a
	# tmpfs (/dev/shm here), not the disk.
	RUNTIME=$(mktemp -d /dev/shm/tweetpi-bench-run.XXXXXX 2>/dev/null || mktemp -d "$DIR/run.XXXXXX")
	RUNS+=("$RUNTIME")
	START=$(date +%s%N)
	NOTIFY_SOCKET=$DIR/notify.sock RUNTIME_DIRECTORY=$RUNTIME /usr/bin/time -v -o "$DIR/time.txt" \
		"$WORK/tweetpi" run -config "$DIR/config.yaml" -log-format json 2>"$DIR/daemon.log" &
	TIME=$!
	PIDS+=("$TIME")
	PID=
	for _ in $(seq 200); do PID=$(pgrep -P "$TIME" || true); [ -n "$PID" ] && break; sleep 0.01; done
	[ -n "$PID" ] || { echo "tweetpi did not start"; cat "$DIR/daemon.log"; exit 1; }
}

# stop: SIGTERM to the daemon, then to the fake (which reads the daemon's log).
stop() {
	kill -TERM "$PID"
	wait "$TIME" || true
	kill -TERM "$FAKE"
	wait "$FAKE" || true
}

event() { awk -v e="$1" '$1 == e { print $2; exit }' "$DIR/events"; }
maxrss() { awk -F': ' '/Maximum resident set size/ { print $2 }' "$DIR/time.txt"; }

# polls_between T0 T1 (ns): mentions requests the fake saw in between.
polls_between() { awk -v a="$1" -v b="$2" '$1 == "poll" && $3 == "mentions" && $2 > a && $2 <= b { n++ } END { print n + 0 }' "$DIR/events"; }

# cpu_per_poll: samples CPU WARM seconds in and at the end of the phase.
cpu_per_poll() {
	local warm=$1 rest=$2 t0 c0 k0 t1 c1 k1 n
	sleep "$warm"
	t0=$(date +%s%N) c0=$(cpu_ns "$PID") k0=$(cpu_ticks "$PID")
	sleep "$rest"
	t1=$(date +%s%N) c1=$(cpu_ns "$PID") k1=$(cpu_ticks "$PID")
	n=$(polls_between "$t0" "$t1")
	CPU_LINE=$(awk -v c=$((c1 - c0)) -v k=$((k1 - k0)) -v n="$n" -v s=$(((t1 - t0) / 1000000)) \
		'BEGIN { if (n == 0) { print "no polls"; exit } printf "%.2f ms CPU per poll over %d polls in %.1fs (%.1f ms by clock ticks); %.2f%% of a core", c / n / 1e6, n, s / 1000, k * 10 / n, c / s / 1e4 }')
}

echo "-- idle: default poll_interval 60s, fresh state, v2, delivery: poll"
phase idle -poll 60s
idle_sample 3 "$DUR"
rss=$(kb "$PID" VmRSS) hwm=$(kb "$PID" VmHWM) split=$(anonfile "$PID")
stop
ready=$(event ready) first=$(event poll)
say "exec -> READY" "$(ms $((ready - START)))"
say "exec -> first poll (mentions)" "$(ms $((first - START))) (after users/me and the allow list's handle)"
say "RSS after ${DUR}s idle" "$(mib "$rss") (VmRSS: $split; VmHWM $(mib "$hwm"))"
say "peak RSS (time -v)" "$(mib "$(maxrss)")"
say "idle CPU (polls at 60s)" "$IDLE_LINE"
say "idle wake-ups (polls at 60s)" "$WAKE_LINE"
say "idle bytes written (polls)" "$WRITE_LINE"

if [ -x /usr/sbin/mosquitto ]; then
	echo "-- idle with mqtt: on (a mosquitto on loopback), default poll_interval 60s"
	mport=$(shuf -i 20000-59999 -n 1)
	printf 'listener %s 127.0.0.1\nallow_anonymous true\n%s\n' "$mport" "$([ "$(id -u)" -ne 0 ] || echo 'user root')" >"$WORK/mosquitto.conf"
	/usr/sbin/mosquitto -c "$WORK/mosquitto.conf" 2>"$WORK/mosquitto.log" &
	PIDS+=("$!")
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.05; done
	phase mqtt -poll 60s -mqtt "mqtt://127.0.0.1:$mport"
	for _ in $(seq 200); do grep -q '"msg":"mqtt connected"' "$DIR/daemon.log" 2>/dev/null && break; sleep 0.05; done
	sleep 2
	t0=$(date +%s%N) c0=$(cpu_ns "$PID")
	sleep "$DUR"
	t1=$(date +%s%N) c1=$(cpu_ns "$PID")
	rss=$(kb "$PID" VmRSS) hwm=$(kb "$PID" VmHWM)
	stop
	say "RSS after ${DUR}s idle, MQTT on" "$(mib "$rss") (VmRSS; VmHWM $(mib "$hwm"))"
	say "CPU idle, MQTT on" "$(awk -v c=$((c1 - c0)) -v s=$(((t1 - t0) / 1000000)) 'BEGIN { printf "%.3f%% of a core (%.1f ms in %.1fs)", c / s / 1e4, c / 1e6, s / 1000 }')"
	grep -q '"msg":"mqtt connected"' "$DIR/daemon.log" || echo "(the daemon did not connect to the broker: see $DIR/daemon.log)"
fi

echo "-- empty polls: poll_interval 1s, nothing to do"
phase empty -poll 1s
cpu_per_poll 2 "$DUR"
rss=$(kb "$PID" VmRSS)
stop
say "CPU per empty poll" "$CPU_LINE"
say "RSS" "$(mib "$rss")"

echo "-- commands: one every second, poll_interval 1s (unlimited fake)"
phase commands -poll 1s -every 1s
cpu_per_poll 2 "$DUR"
hwm=$(kb "$PID" VmHWM)
stop
say "CPU per poll" "$CPU_LINE"
say "peak RSS" "$(mib "$(maxrss)") (time -v; VmHWM $(mib "$hwm"))"
read -r _ _ n p50 p90 p99 max < <(grep '^latency_ms' "$DIR/events") || true
say "post visible -> pin set" "n=${n:-0} p50 ${p50:-?} ms, p90 ${p90:-?} ms, p99 ${p99:-?} ms, max ${max:-?} ms"
say "replies / rate-limit waits" "$(awk '$1 == "replies" { print $3 }' "$DIR/events") / $(grep -c '"rate limited' "$DIR/daemon.log" || true)"

echo "-- pro: a command every second on the Pro tier's limits (a poll every 3s at most)"
phase pro -tier pro -poll 1s -every 1s
sleep "$((DUR + 2))"
stop
read -r _ _ n p50 p90 p99 max < <(grep '^latency_ms' "$DIR/events") || true
say "post visible -> pin set" "n=${n:-0} p50 ${p50:-?} ms, p90 ${p90:-?} ms, p99 ${p99:-?} ms, max ${max:-?} ms"
say "polls / 429 waits" "$(awk '$1 == "polls" { print $3 }' "$DIR/events") / $(grep -c '"rate limited' "$DIR/daemon.log" || true)"

echo "-- stream: delivery auto, poll_interval 60s (reconcile 5m), idle"
phase stream-idle -delivery auto -poll 60s
idle_sample 3 "$DUR"
rss=$(kb "$PID" VmRSS) hwm=$(kb "$PID" VmHWM) split=$(anonfile "$PID")
stop
say "exec -> stream up" "$(ms $(($(event stream) - START)))"
say "RSS after ${DUR}s idle" "$(mib "$rss") (VmRSS: $split; VmHWM $(mib "$hwm"))"
say "idle CPU (stream up)" "$IDLE_LINE"
say "idle wake-ups (stream up)" "$WAKE_LINE"
say "idle bytes written (stream)" "$WRITE_LINE"
say "keep-alives / polls" "$(grep -c '"stream up' "$DIR/daemon.log" || true) connect(s), $(awk '$1 == "polls" { print $3 }' "$DIR/events") mentions polls"

echo "-- stream: a command every second, poll_interval 60s"
phase stream-commands -delivery auto -poll 60s -every 1s
sleep "$((DUR + 2))"
hwm=$(kb "$PID" VmHWM)
stop
read -r _ _ n p50 p90 p99 max < <(grep '^latency_ms' "$DIR/events") || true
say "post visible -> pin set (stream)" "n=${n:-0} p50 ${p50:-?} ms, p90 ${p90:-?} ms, p99 ${p99:-?} ms, max ${max:-?} ms"
say "polls / peak RSS" "$(awk '$1 == "polls" { print $3 }' "$DIR/events") mentions polls / $(mib "$(maxrss)") (VmHWM $(mib "$hwm"))"

echo "-- stream: a burst of 800 commands at once, state on the disk ($(df --output=fstype "$WORK" | tail -1))"
phase burst -delivery auto -poll 60s -burst 800
for _ in $(seq 600); do grep -q '^burst ' "$DIR/events" 2>/dev/null && break; sleep 0.05; done
for _ in $(seq 600); do [ "$(grep -c '"msg":"run"' "$DIR/daemon.log" || true)" -ge 800 ] && break; sleep 0.05; done
sleep 1
hwm=$(kb "$PID" VmHWM)
stop
read -r _ _ n span < <(grep '^span_ms' "$DIR/events") || true
read -r _ _ n p50 p90 p99 max < <(grep '^latency_ms' "$DIR/events") || true
say "800 posts -> 800th pin set" "n=${n:-0} in ${span:-?} ms (each: p50 ${p50:-?} ms, p99 ${p99:-?} ms, max ${max:-?} ms)"
say "peak RSS in the burst" "$(mib "$(maxrss)") (time -v; VmHWM $(mib "$hwm"))"

echo "-- polls at 60s for comparison: a command every 5s, delivery: poll"
phase poll60 -poll 60s -every 5s
sleep "$((DUR + 2))"
stop
read -r _ _ n p50 p90 p99 max < <(grep '^latency_ms' "$DIR/events") || true
say "post visible -> pin set (poll 60s)" "n=${n:-0} p50 ${p50:-?} ms, p90 ${p90:-?} ms, p99 ${p99:-?} ms, max ${max:-?} ms"
