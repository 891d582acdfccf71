#!/bin/sh
# Installs the Debian 12 packages in tools/debian-packages.txt (through
# sudo unless already root), then configures and builds metaextract in
# ./build. Safe to run again: it only rebuilds what changed.
set -eu
cd "$(dirname "$0")/.."

packages=$(grep -v '^#' tools/debian-packages.txt | tr '\n' ' ')
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $packages \
	2>/dev/null | awk '$1 != "ii" { print $2 }' || true)
# dpkg-query says nothing of packages it has never seen.
for p in $packages; do
	dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$(echo $missing)" ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -q
	$sudo apt-get install -y -q --no-install-recommends $missing
fi

if [ ! -f build/build.ninja ]; then
	meson setup build
fi
meson compile -C build
