#!/usr/bin/env bash
# build.sh: cross-build tweetpi and package it.
#
#   deploy/build.sh            binaries and .debs for every architecture
#   deploy/build.sh binaries   only the binaries
#   deploy/build.sh debs       the binaries, then the .debs
#
# Output in dist/ (or $DIST):
#   tweetpi-linux-amd64, tweetpi-linux-arm64, tweetpi-linux-armv6
#       static (CGO_ENABLED=0), -trimpath, stripped, version stamped
#   tweetpi_<version>-1_{amd64,arm64,armhf}.deb
#   SHA256SUMS
#
# Environment:
#   VERSION     the version (default: from the newest v* tag, else
#               0.0.0~git<date>.<commit>); a leading v is dropped
#   ARCHS       Debian architectures to build (default "amd64 arm64 armhf")
#   DIST        output directory (default dist)
#   MAINTAINER  the packages' Maintainer field
#   SOURCE_DATE_EPOCH  file times in the packages (default: the commit's)
#
# armhf is built with GOARM=6: the Pi Zero and Pi 1 are ARMv6 and crash on
# GOARM=7 code; an ARMv6 binary runs on every later 32-bit Pi as well.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2 # newer ones do not build here
what=${1:-all}
case $what in
all | debs | binaries) ;;
*)
	echo "usage: deploy/build.sh [all|binaries|debs]" >&2
	exit 2
	;;
esac

DIST=${DIST:-dist}
ARCHS=${ARCHS:-amd64 arm64 armhf}
MAINTAINER=${MAINTAINER:-tweetpi developers <tweetpi@users.noreply.github.com>}

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

if [ -z "${VERSION:-}" ]; then
	if tag=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
		# v1.2.0 -> 1.2.0; v1.2.0-3-gabc -> 1.2.0+3.gabc (sorts after 1.2.0)
		VERSION=$(printf '%s\n' "${tag#v}" | sed -E 's/-([0-9]+)-(g[0-9a-f]+)$/+\1.\2/')
	else
		VERSION="0.0.0~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).${commit:0:7}"
	fi
fi
VERSION=${VERSION#v}
case $VERSION in
[0-9]*) ;;
*)
	echo "build.sh: VERSION $VERSION must start with a digit" >&2
	exit 2
	;;
esac

mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)

# goarch DEBARCH: the Go architecture and the binary's name for it.
goarch() {
	case $1 in
	amd64) echo "amd64 '' tweetpi-linux-amd64" ;;
	arm64) echo "arm64 '' tweetpi-linux-arm64" ;;
	armhf) echo "arm 6 tweetpi-linux-armv6" ;;
	*)
		echo "build.sh: unknown architecture $1 (amd64, arm64, armhf)" >&2
		return 1
		;;
	esac
}

# The packaged binary's build tags: nodemo leaves the demo's fake X API out;
# nethttpomithttp2 leaves net/http's HTTP/2 out (0.44 MiB on armv6, as much
# RSS: every page of the binary ends up resident): tweetpi makes a few
# requests a minute and reads the stream as one HTTP/1.1 response, and
# X's API serves HTTP/1.1. deploy/bench/measure.sh measures this build.
TAGS=nodemo,nethttpomithttp2

build() { # GOARCH GOARM OUT
	echo "build.sh: $3 ($VERSION)"
	CGO_ENABLED=0 GOOS=linux GOARCH=$1 GOARM=$2 go build -trimpath -buildvcs=false -tags "$TAGS" \
		-ldflags "-s -w -buildid= -X main.version=$VERSION" -o "$DIST/$3" ./cmd/tweetpi
}

# copyright: deploy/debian/copyright, then the license of Go and of every
# module linked into the binary (Apache-2.0 by reference).
copyright() {
	cat deploy/debian/copyright
	{
		echo "std $(go env GOVERSION) $(go env GOROOT)"
		go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ./cmd/tweetpi | sort -u
	} | while read -r path version dir; do
		printf '\n\n%s %s\n' "$path" "$version"
		for f in "$dir"/LICENSE* "$dir"/NOTICE* "$dir"/COPYING*; do
			[ -f "$f" ] || continue
			if head -n 5 "$f" | grep -q 'Apache License' && grep -q 'Version 2.0, January 2004' "$f"; then
				printf '\nApache License 2.0: see /usr/share/common-licenses/Apache-2.0\n'
			else
				printf '\n'
				sed 's/[[:space:]]*$//' "$f"
			fi
		done
	done
}

for a in $ARCHS; do
	eval "set -- $(goarch "$a")"
	build "$1" "$2" "$3"
done

if [ "$what" != binaries ]; then
	if [ ! -f deploy/config.example.yaml ]; then
		echo "build.sh: deploy/config.example.yaml is missing: it becomes /etc/tweetpi/config.yaml in the package" >&2
		exit 1
	fi

	stage=$root/dist/.stage # deploy/nfpm.yaml reads it
	rm -rf "$stage"
	mkdir -p "$stage"

	# The man page comes from the -h output of a binary for this machine.
	CGO_ENABLED=0 go build -trimpath -buildvcs=false \
		-ldflags "-X main.version=$VERSION" -o "$stage/tweetpi" ./cmd/tweetpi
	deploy/mkman.sh "$stage/tweetpi" >"$stage/tweetpi.1"
	gzip -9n <"$stage/tweetpi.1" >"$stage/tweetpi.1.gz"
	gzip -9n <README.md >"$stage/README.md.gz"
	copyright >"$stage/copyright"

	cat >"$stage/changelog.yaml" <<-EOF
		- semver: "$VERSION-1"
		  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
		  packager: "$MAINTAINER"
		  deb:
		    urgency: low
		    distributions: [stable]
		  changes:
		    - commit: "$commit"
		      note: "Built from commit $commit."
	EOF

	for a in $ARCHS; do
		eval "set -- $(goarch "$a")"
		rm -f "$DIST/tweetpi_${VERSION}-1_$a.deb"
		TWEETPI_VERSION=$VERSION TWEETPI_DEBARCH=$a TWEETPI_BINARY=$DIST/$3 \
			TWEETPI_MAINTAINER=$MAINTAINER \
			go run "$NFPM" package --config deploy/nfpm.yaml --packager deb --target "$DIST/"
	done
	rm -rf "$stage"
fi

cd "$DIST"
# shellcheck disable=SC2046 # the names have no spaces
sha256sum $(ls tweetpi-linux-* tweetpi_*.deb 2>/dev/null) >SHA256SUMS
ls -l
cd "$root"
