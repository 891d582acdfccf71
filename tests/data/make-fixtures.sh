#!/bin/sh
# Regenerates the gen_* fixtures in this directory with FFmpeg and h5py.
#
# The outputs are committed, so the tests never run this script. Run it only
# to change a fixture, then run ../expected/make-expected.sh and update the
# values hard-coded in the tests.
#
# Needs (Debian 12): ffmpeg built with libx264, libvorbis and libmp3lame, and
# python3-h5py. Debian's /usr/bin/python3 is used because h5py is installed
# for that interpreter only.
#
# Output is byte-identical between runs with the same tool versions:
# -fflags +bitexact and -flags +bitexact keep FFmpeg's version strings,
# dates and random track UIDs out of the files, -map_metadata keeps only the
# metadata set here, and h5py stores no timestamps (track_times=False).
# NOTE: libx264 still writes its own version into an SEI message, so the
# H.264 files change when Debian's libx264 changes.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ff() {
	ffmpeg -nostdin -hide_banner -loglevel error -y "$@"
}

# Flags for every FFmpeg output: no version strings or dates, one thread so
# the encoders are deterministic. Each call also sets -map_metadata.
bitexact="-fflags +bitexact -flags +bitexact -threads 1"

# Inputs: 1 s of the testsrc2 pattern at 160x120 and 10 fps (10 frames), and
# sine tones. lavfi sources are computed, so they are the same on every run.
video_src="testsrc2=size=160x120:rate=10:duration=1"
tone_8k="sine=frequency=440:sample_rate=8000:duration=1"

# MP4 with H.264 High and AAC-LC. The mov muxer writes the moov box after
# mdat by default, and +faststart rewrites the file with moov first.
make_mp4() {
	out=$1
	shift
	# shellcheck disable=SC2086 # $bitexact is a list of options.
	ff -f lavfi -i "$video_src" -f lavfi -i "$tone_8k" \
		-map 0:v -map 1:a \
		-c:v libx264 -profile:v high -preset medium -crf 35 \
		-pix_fmt yuv420p \
		-c:a aac -b:a 16k -ac 1 \
		-map_metadata -1 $bitexact "$@" "$out"
}

make_mp4 "$here/gen_moov_end.mp4"
make_mp4 "$here/gen_faststart.mp4" -movflags +faststart

# Matroska with MPEG-4 part 2 video, Vorbis audio tagged as French, a title
# with non-ASCII UTF-8 text and one chapter (0 to 0.5 s) read from an
# FFmpeg metadata file. -map_metadata 2 takes the global and chapter
# metadata from that file, because -map_metadata -1 would also drop the
# chapter title.
cat > "$work/chapters.txt" <<'EOF'
;FFMETADATA1
[CHAPTER]
TIMEBASE=1/1000
START=0
END=500
title=Première partie
EOF

# shellcheck disable=SC2086
ff -f lavfi -i "$video_src" -f lavfi -i "$tone_8k" -i "$work/chapters.txt" \
	-map 0:v -map 1:a -map_chapters 2 \
	-c:v mpeg4 -q:v 10 \
	-c:a libvorbis -q:a 0 -ac 1 \
	-map_metadata 2 $bitexact \
	-metadata title="Café für Ωμέγα – 日本語" \
	-metadata:s:a:0 language=fra \
	"$here/gen_chapters.mkv"

# WAV: pcm_s16le, 8 kHz, mono, 0.5 s (4000 samples).
# shellcheck disable=SC2086
ff -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=0.5" \
	-c:a pcm_s16le -ac 1 -map_metadata -1 $bitexact "$here/gen_tone.wav"

# FLAC: 16 kHz, mono, 0.5 s, with a Vorbis comment title.
# shellcheck disable=SC2086
ff -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=0.5" \
	-c:a flac -compression_level 5 -ac 1 -map_metadata -1 $bitexact \
	-metadata title="Tonalité" "$here/gen_tone.flac"

# MP3: libmp3lame, 22050 Hz, mono, 32 kbit/s CBR, 0.5 s, with an ID3v2
# title and the default Xing/LAME header frame.
# shellcheck disable=SC2086
ff -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=0.5" \
	-c:a libmp3lame -b:a 32k -ac 1 -map_metadata -1 $bitexact \
	-metadata title="Ünïcødé tône" "$here/gen_tone.mp3"

# Truncated MP4: the faststart file cut in the middle of its mdat payload,
# so the moov box is complete but the samples are not.
cut_at=$("$python" - "$here/gen_faststart.mp4" <<'EOF'
import struct
import sys

# Walk the top-level boxes and print the offset halfway into mdat.
data = open(sys.argv[1], "rb").read()
pos = 0
while pos + 8 <= len(data):
    size, kind = struct.unpack(">I4s", data[pos:pos + 8])
    header = 8
    if size == 1:
        size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
        header = 16
    elif size == 0:
        size = len(data) - pos
    if kind == b"mdat":
        print(pos + header + (size - header) // 2)
        sys.exit(0)
    pos += size
sys.exit("no mdat box in " + sys.argv[1])
EOF
)
head -c "$cut_at" "$here/gen_faststart.mp4" > "$here/gen_truncated.mp4"

# HDF5 files. Default h5py settings (libver "earliest") give superblock
# version 0 and version 1 object headers.
"$python" - "$here" <<'EOF'
import os
import sys

import h5py
import numpy as np

out_dir = sys.argv[1]

# Chunked, gzip level 7 with shuffle, first dimension unlimited. The level
# differs from the shuffle parameter (4, the element size) and from the
# h5py default (4).
with h5py.File(os.path.join(out_dir, "gen_chunked.h5"), "w") as f:
    group = f.create_group("measurements")
    group.attrs["instrument"] = "probe-7"
    group.attrs["channels"] = np.int64(4)
    group.attrs["gain"] = np.float64(1.5)
    group.attrs["offsets"] = np.array([1, 2, 3], dtype="<i4")

    samples = group.create_dataset(
        "samples",
        data=(np.arange(64, dtype="<f4") * 0.5).reshape(16, 4),
        maxshape=(None, 4),
        chunks=(4, 4),
        compression="gzip",
        compression_opts=7,
        shuffle=True,
        track_times=False,
    )
    samples.attrs["units"] = "volt"
    samples.attrs["scale"] = np.float64(0.25)
    samples.attrs["count"] = np.int32(16)
    samples.attrs["window"] = np.array([0.0, 1.0], dtype="<f8")

# Compound, string and scalar datasets, root attributes and two links.
with h5py.File(os.path.join(out_dir, "gen_types.h5"), "w") as f:
    f.attrs["answer"] = np.int32(42)
    f.attrs["ratio"] = np.float64(0.125)
    f.attrs["label"] = "types fixture"
    f.attrs["dims"] = np.array([2, 3, 5], dtype="<i8")

    record = np.dtype([("id", "<i4"), ("x", "<f8"), ("name", "S8")])
    f.create_dataset(
        "table",
        data=np.array([(1, 0.5, b"one"), (2, 1.5, b"two"), (3, 2.5, b"three")],
                      dtype=record),
        track_times=False,
    )
    f.create_dataset(
        "names_fixed",
        data=np.array([b"alpha", b"beta", b"gamma"], dtype="S8"),
        track_times=False,
    )
    f.create_dataset(
        "names_vlen",
        data=["alpha", "βeta", "gamma"],
        dtype=h5py.string_dtype("utf-8"),
        track_times=False,
    )
    scalar = f.create_dataset("scalar", data=np.int64(7), track_times=False)
    scalar.attrs["note"] = "a scalar"

    f["soft"] = h5py.SoftLink("/table")
    f["external"] = h5py.ExternalLink("other.h5", "/data")
EOF

# An HDF5 file with an external link to its own root: a reader that
# followed external links would open it again and again.
"$python" - "$here" <<'EOF'
import os, sys
import h5py

with h5py.File(os.path.join(sys.argv[1], "gen_extlink_self.h5"), "w") as f:
    f.create_group("inner")
    f["inner/back"] = h5py.ExternalLink("gen_extlink_self.h5", "/")
EOF

# Truncated HDF5: the first half of gen_types.h5. libhdf5 rejects it on
# open because the file ends before the end address in its superblock.
size=$(wc -c < "$here/gen_types.h5")
head -c $((size / 2)) "$here/gen_types.h5" > "$here/gen_truncated.h5"

# Plain ASCII text.
printf '%s\n' \
	"metaextract test fixture: plain ASCII text." \
	"It has no format metadata, only a type and digests." \
	> "$here/gen_notes.txt"
