#!/bin/sh
# Installs the Debian 12 packages in tools/debian-packages.txt (through
# sudo unless already root), then configures and builds metaextract in
# ./build. Safe to run again: it only rebuilds what changed. Its own
# output goes to standard error, so that standard output of a command
# chained after it carries only that command's records.
set -eu
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' tools/debian-packages.txt | tr '\n' ' ')
missing=""
for p in $packages; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q >&2
	$sudo apt-get install -y -q --no-install-recommends $missing >&2
fi

if [ ! -f build/build.ninja ]; then
	meson setup build -Dmpi=enabled >&2
fi
meson compile -C build >&2
