#!/bin/sh
# Regenerates the reference outputs in this directory by running the peer
# tools (ffprobe, h5dump, the coreutils digests, xxhsum, file) on every
# fixture in ../data and on an empty file.
#
# The tests hard-code values taken from these outputs, so after running this
# script, review the diff and update the tests to match.
#
# Tools used (Debian 12): ffprobe 5.1, h5dump 1.10.8, coreutils md5sum,
# sha1sum, sha256sum and sha512sum, xxhsum 0.8.1, file 5.44.

set -eu

# Sort and compare names byte by byte, whatever the caller's locale.
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
data=$(cd "$here/../data" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

: > "$work/empty"

# Fixture names, sorted, without the scripts and the README. The names
# contain no white space, so the list is expanded unquoted below.
fixtures=
for path in "$data"/*; do
	name=${path##*/}
	case $name in
	*.sh | README.md) continue ;;
	esac
	fixtures="$fixtures $name"
done

# Runs a digest command on every fixture and then on the empty file. The
# tools run inside the fixture directory, so the output contains bare names.
digest_all() {
	# shellcheck disable=SC2086
	(cd "$data" && "$@" $fixtures)
	(cd "$work" && "$@" empty)
}

digest_all md5sum > "$here/md5sum.txt"
digest_all sha1sum > "$here/sha1sum.txt"
digest_all sha256sum > "$here/sha256sum.txt"
digest_all sha512sum > "$here/sha512sum.txt"
# xxhsum 0.8.1: -H1 is XXH64, -H2 is XXH3 128-bit, -H3 is XXH3 64-bit. It
# prints -H3 results in BSD tag form ("XXH3 (name) = hex") even without
# --tag. All three print the canonical big-endian form of the hash.
digest_all xxhsum -H1 > "$here/xxh64sum.txt"
digest_all xxhsum -H2 > "$here/xxh128sum.txt"
digest_all xxhsum -H3 > "$here/xxh3sum.txt"

# libmagic type: one "name<TAB>output" line per file. file escapes
# unprintable bytes of the description as \ooo (a newline is \012), as
# libmagic does without MAGIC_RAW. The empty file is read from standard
# input: given a path, file checks the inode first and prints inode/x-empty,
# whereas the bytes alone give application/x-empty, as in the engine.
type_all() {
	for name in $fixtures; do
		printf '%s\t%s\n' "$name" "$(file "$@" "$data/$name")"
	done
	printf '%s\t%s\n' empty "$(file "$@" - < "$work/empty")"
}

type_all -b --mime-type > "$here/file-mime-type.txt"
type_all -b > "$here/file-brief.txt"

# ffprobe on every fixture. Its messages go to NAME.ffprobe.log, followed by
# the exit status. The addresses in "[demuxer @ 0x...]" change between runs,
# so they are removed.
for name in $fixtures; do
	status=0
	(cd "$data" && ffprobe -v error -show_format -show_streams \
		-show_chapters -of json "$name") \
		> "$here/$name.ffprobe.json" 2> "$work/log" || status=$?
	sed 's/ @ 0x[0-9a-f]*\]/]/' "$work/log" > "$here/$name.ffprobe.log"
	echo "exit status $status" >> "$here/$name.ffprobe.log"
done

# h5dump on the HDF5 fixtures: superblock, headers and storage properties
# (-B -H -p), then the attributes with their values (-A -p).
for name in $fixtures; do
	case $name in
	*.h5 | *.hdf5) ;;
	*) continue ;;
	esac
	for mode in header attributes; do
		if [ "$mode" = header ]; then
			set -- -B -H -p
		else
			set -- -A -p
		fi
		status=0
		(cd "$data" && h5dump "$@" "$name") \
			> "$here/$name.h5dump-$mode.txt" 2>&1 || status=$?
		if [ "$status" -ne 0 ]; then
			echo "exit status $status" >> "$here/$name.h5dump-$mode.txt"
		fi
	done
done
