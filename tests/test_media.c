/*
 * Media metadata from libavformat, checked against ffprobe on the same files.
 *
 * Every expected value comes from
 *   ffprobe -v error -show_format -show_streams -show_chapters -of json FILE
 * (FFmpeg 5.1, Debian 12), saved in tests/expected/FILE.ffprobe.json. The
 * record stores numbers that ffprobe prints as strings (duration, bit_rate,
 * sample_rate) as numbers, moves the language tag to streams[].language and
 * lists the set disposition flags by name.
 *
 * The fixtures are read from the directory named by MX_TEST_DATA.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "metaextract.h"
#include "support.h"

/* ffprobe prints seconds with six decimals, so that is all we can compare. */
#define SECONDS_TOLERANCE 1e-6

/* Accepts an int or a double, because 1.0 s may be stored either way. */
static void expect_seconds(const struct mx_value *root, const char *pointer,
			   double expected)
{
	const struct mx_value *v = mx_value_get(root, pointer);
	double got;

	cr_assert_not_null(v, "%s: %s is missing", support_context(), pointer);
	cr_assert(mx_value_type(v) == MX_DOUBLE || mx_value_type(v) == MX_INT,
		  "%s: %s: expected a number of seconds, got type %s",
		  support_context(), pointer, type_name(mx_value_type(v)));
	got = mx_value_double(v);
	cr_assert(fabs(got - expected) <= SECONDS_TOLERANCE,
		  "%s: %s: expected %.6f s (within %g), got %.9f",
		  support_context(), pointer, expected, SECONDS_TOLERANCE, got);
}

/* For fields that ffprobe leaves out because the value is unknown. */
static void expect_absent_or_null(const struct mx_value *root,
				  const char *pointer)
{
	const struct mx_value *v = mx_value_get(root, pointer);

	if (!v)
		return;
	cr_assert_eq(mx_value_type(v), MX_NULL,
		     "%s: %s: expected no value or null, got type %s",
		     support_context(), pointer, type_name(mx_value_type(v)));
}

static void expect_array_has_string(const struct mx_value *root,
				    const char *pointer, const char *expected)
{
	const struct mx_value *array = get_typed(root, pointer, MX_ARRAY);
	size_t i;

	for (i = 0; i < mx_value_count(array); i++) {
		const struct mx_value *item = mx_value_item(array, i, NULL);
		const char *s = mx_value_string(item, NULL);

		if (s && strcmp(s, expected) == 0)
			return;
	}
	cr_assert_fail("%s: %s: expected an element \"%s\", none found among "
		       "%zu elements", support_context(), pointer, expected,
		       mx_value_count(array));
}

/* A complete file: status ok, no error object, not flagged as truncated. */
static void expect_complete(const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *truncated;

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/error");
	truncated = mx_value_get(root, "/media/truncated");
	if (truncated)
		expect_bool(root, "/media/truncated", false);
}

/* A file cut short: parse error ENODATA, with what was read kept. */
static void expect_truncated(const struct mx_record *rec)
{
	const struct mx_value *root = mx_record_root(rec);
	const struct mx_value *message;

	expect_status(rec, MX_STATUS_ERROR);
	expect_string(root, "/error/stage", "parse");
	expect_string(root, "/error/errno", "ENODATA");
	message = get_typed(root, "/error/message", MX_STRING);
	cr_assert_gt(strlen(mx_value_string(message, NULL)), 0,
		     "%s: /error/message: expected a sentence, got \"\"",
		     support_context());
	expect_bool(root, "/media/truncated", true);
}

/* mp4-rust tests/samples/minimal.mp4 */

Test(media, mp4rust_minimal_format)
{
	struct mx_record *rec = extract_fixture("mp4rust_minimal.mp4");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "mov,mp4,m4a,3gp,3g2,mj2");
	expect_string(root, "/media/format_long_name", "QuickTime / MOV");
	expect_seconds(root, "/media/duration", 0.062);
	expect_seconds(root, "/media/start_time", 0.0);
	expect_int(root, "/media/bit_rate", 334322);
	expect_int(root, "/media/nb_streams", 2);
	expect_count(root, "/media/streams", MX_ARRAY, 2);
	expect_string(root, "/media/tags/major_brand", "isom");
	expect_string(root, "/media/tags/encoder", "Lavf56.40.101");
	expect_count(root, "/media/chapters", MX_ARRAY, 0);
	mx_record_free(rec);
}

Test(media, mp4rust_minimal_streams)
{
	struct mx_record *rec = extract_fixture("mp4rust_minimal.mp4");
	const struct mx_value *root = mx_record_root(rec);

	expect_int(root, "/media/streams/0/index", 0);
	expect_string(root, "/media/streams/0/codec_type", "video");
	expect_string(root, "/media/streams/0/codec_name", "h264");
	expect_string(root, "/media/streams/0/profile", "High");
	expect_int(root, "/media/streams/0/width", 320);
	expect_int(root, "/media/streams/0/height", 240);
	expect_string(root, "/media/streams/0/pix_fmt", "yuv420p");
	expect_string(root, "/media/streams/0/avg_frame_rate", "25/1");
	expect_string(root, "/media/streams/0/r_frame_rate", "25/1");
	expect_string(root, "/media/streams/0/language", "und");
	expect_array_has_string(root, "/media/streams/0/disposition",
				"default");

	expect_int(root, "/media/streams/1/index", 1);
	expect_string(root, "/media/streams/1/codec_type", "audio");
	expect_string(root, "/media/streams/1/codec_name", "aac");
	expect_string(root, "/media/streams/1/profile", "LC");
	expect_string(root, "/media/streams/1/sample_fmt", "fltp");
	expect_int(root, "/media/streams/1/sample_rate", 48000);
	expect_int(root, "/media/streams/1/channels", 1);
	expect_string(root, "/media/streams/1/channel_layout", "mono");
	expect_string(root, "/media/streams/1/language", "und");
	mx_record_free(rec);
}

/* ExifTool t/images/QuickTime.mov: headers only, the mdat box is empty. */

Test(media, quicktime_headers_only_format)
{
	struct mx_record *rec = extract_fixture("exiftool_QuickTime.mov");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "mov,mp4,m4a,3gp,3g2,mj2");
	expect_string(root, "/media/format_long_name", "QuickTime / MOV");
	/* 2980 / 600 from the movie header. */
	expect_seconds(root, "/media/duration", 4.966667);
	expect_int(root, "/media/bit_rate", 6235);
	expect_int(root, "/media/nb_streams", 3);
	expect_count(root, "/media/streams", MX_ARRAY, 3);
	mx_record_free(rec);
}

Test(media, quicktime_utf8_tags)
{
	struct mx_record *rec = extract_fixture("exiftool_QuickTime.mov");
	const struct mx_value *root = mx_record_root(rec);

	expect_string(root, "/media/tags/artist", "årtist");
	expect_string(root, "/media/tags/album", "ålbum");
	expect_string(root, "/media/tags/album_artist", "ålbüm årtîst");
	expect_string(root, "/media/tags/composer", "cømpøsér");
	expect_string(root, "/media/tags/genre", "Genré");
	expect_string(root, "/media/tags/comment", "çømménts");
	expect_string(root, "/media/tags/grouping", "grøuping");
	expect_string(root, "/media/tags/com.apple.quicktime.artist",
		      "årtist");
	expect_string(root, "/media/tags/date", "2010");
	expect_string(root, "/media/tags/track", "1/2");
	expect_string(root, "/media/tags/creation_time",
		      "2005-08-11T14:03:54.000000Z");
	mx_record_free(rec);
}

Test(media, quicktime_streams)
{
	struct mx_record *rec = extract_fixture("exiftool_QuickTime.mov");
	const struct mx_value *root = mx_record_root(rec);

	expect_string(root, "/media/streams/0/codec_type", "video");
	expect_string(root, "/media/streams/0/codec_name", "mjpeg");
	expect_int(root, "/media/streams/0/width", 320);
	expect_int(root, "/media/streams/0/height", 240);
	expect_string(root, "/media/streams/0/avg_frame_rate", "30/1");
	expect_string(root, "/media/streams/0/r_frame_rate", "90000/1");
	expect_string(root, "/media/streams/0/language", "eng");
	expect_string(root, "/media/streams/0/tags/encoder", "Photo - JPEG");
	/* No frame can be read, so ffprobe prints no pixel format. */
	expect_absent_or_null(root, "/media/streams/0/pix_fmt");

	expect_string(root, "/media/streams/1/codec_type", "audio");
	expect_string(root, "/media/streams/1/codec_name", "pcm_u8");
	expect_string(root, "/media/streams/1/sample_fmt", "u8");
	expect_int(root, "/media/streams/1/sample_rate", 7875);
	expect_int(root, "/media/streams/1/channels", 1);
	expect_string(root, "/media/streams/1/language", "eng");
	/* ffprobe prints no channel_layout: the track names no layout. */
	expect_absent_or_null(root, "/media/streams/1/channel_layout");

	/* The cover image, shown as an attached-picture stream. */
	expect_string(root, "/media/streams/2/codec_type", "video");
	expect_string(root, "/media/streams/2/codec_name", "mjpeg");
	expect_string(root, "/media/streams/2/profile", "Baseline");
	expect_int(root, "/media/streams/2/width", 8);
	expect_int(root, "/media/streams/2/height", 8);
	expect_string(root, "/media/streams/2/pix_fmt", "yuvj420p");
	expect_array_has_string(root, "/media/streams/2/disposition",
				"attached_pic");
	mx_record_free(rec);
}

/*
 * gen_moov_end.mp4, gen_faststart.mp4 and gen_truncated.mp4 carry the same
 * moov box, so their streams read the same.
 */
static void expect_generated_mp4_streams(const struct mx_value *root)
{
	expect_string(root, "/media/format_name", "mov,mp4,m4a,3gp,3g2,mj2");
	expect_seconds(root, "/media/duration", 1.0);
	expect_seconds(root, "/media/start_time", 0.0);
	expect_int(root, "/media/nb_streams", 2);
	expect_count(root, "/media/streams", MX_ARRAY, 2);
	expect_string(root, "/media/tags/major_brand", "isom");
	expect_string(root, "/media/tags/compatible_brands",
		      "isomiso2avc1mp41");

	expect_string(root, "/media/streams/0/codec_type", "video");
	expect_string(root, "/media/streams/0/codec_name", "h264");
	expect_string(root, "/media/streams/0/profile", "High");
	expect_int(root, "/media/streams/0/width", 160);
	expect_int(root, "/media/streams/0/height", 120);
	expect_string(root, "/media/streams/0/pix_fmt", "yuv420p");
	expect_string(root, "/media/streams/0/avg_frame_rate", "10/1");
	expect_string(root, "/media/streams/0/r_frame_rate", "10/1");
	expect_string(root, "/media/streams/0/tags/encoder", "Lavc libx264");

	expect_string(root, "/media/streams/1/codec_type", "audio");
	expect_string(root, "/media/streams/1/codec_name", "aac");
	expect_string(root, "/media/streams/1/profile", "LC");
	expect_string(root, "/media/streams/1/sample_fmt", "fltp");
	expect_int(root, "/media/streams/1/sample_rate", 8000);
	expect_int(root, "/media/streams/1/channels", 1);
	expect_string(root, "/media/streams/1/channel_layout", "mono");
}

/*
 * Extracts the generated MP4 file name and checks its state with
 * expect_state (expect_complete or expect_truncated), its streams and its
 * bit rate.
 */
static void check_generated_mp4(const char *name,
				void (*expect_state)(const struct mx_record *),
				int64_t bit_rate)
{
	struct mx_record *rec = extract_fixture(name);
	const struct mx_value *root = mx_record_root(rec);

	expect_state(rec);
	expect_generated_mp4_streams(root);
	expect_int(root, "/media/bit_rate", bit_rate);
	mx_record_free(rec);
}

Test(media, mp4_moov_at_end)
{
	check_generated_mp4("gen_moov_end.mp4", expect_complete, 78032);
}

Test(media, mp4_moov_at_start)
{
	check_generated_mp4("gen_faststart.mp4", expect_complete, 78032);
}

/*
 * ffprobe reads this file without a message, because the packets it probes
 * lie before the cut. The record must still flag it: the mdat box declares
 * 8091 bytes and the file ends 4049 bytes into it. ffprobe derives the bit
 * rate from the size: 5712 bytes * 8 / 1.0 s.
 */
Test(media, mp4_cut_inside_mdat)
{
	check_generated_mp4("gen_truncated.mp4", expect_truncated, 45696);
}

/* mutagen tests/data/truncated-64bit.mp4, cut inside a 64-bit mdat box. */
Test(media, mutagen_truncated_64bit)
{
	struct mx_record *rec = extract_fixture("mutagen_truncated-64bit.mp4");
	const struct mx_value *root = mx_record_root(rec);

	expect_truncated(rec);
	expect_string(root, "/media/format_name", "mov,mp4,m4a,3gp,3g2,mj2");
	expect_seconds(root, "/media/duration", 0.306667);
	expect_int(root, "/media/nb_streams", 2);
	expect_count(root, "/media/streams", MX_ARRAY, 2);
	expect_string(root, "/media/tags/artist", "Foobarella");
	expect_string(root, "/media/tags/major_brand", "mp42");

	expect_string(root, "/media/streams/0/codec_type", "audio");
	expect_string(root, "/media/streams/0/codec_name", "aac");
	expect_string(root, "/media/streams/0/profile", "LC");
	expect_int(root, "/media/streams/0/sample_rate", 44100);
	expect_int(root, "/media/streams/0/channels", 2);
	expect_string(root, "/media/streams/0/channel_layout", "stereo");
	expect_string(root, "/media/streams/0/language", "eng");

	/* ffprobe prints width and height 0: no frame was read. */
	expect_string(root, "/media/streams/1/codec_type", "video");
	expect_string(root, "/media/streams/1/codec_name", "mpeg4");
	expect_string(root, "/media/streams/1/avg_frame_rate", "15/1");
	expect_string(root, "/media/streams/1/r_frame_rate", "15/1");
	expect_string(root, "/media/streams/1/language", "eng");
	mx_record_free(rec);
}

Test(media, matroska_streams)
{
	struct mx_record *rec = extract_fixture("gen_chapters.mkv");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "matroska,webm");
	expect_string(root, "/media/format_long_name", "Matroska / WebM");
	expect_seconds(root, "/media/duration", 1.032);
	expect_seconds(root, "/media/start_time", 0.0);
	expect_int(root, "/media/bit_rate", 127612);
	expect_int(root, "/media/nb_streams", 2);

	expect_string(root, "/media/streams/0/codec_type", "video");
	expect_string(root, "/media/streams/0/codec_name", "mpeg4");
	expect_string(root, "/media/streams/0/profile", "Simple Profile");
	expect_int(root, "/media/streams/0/width", 160);
	expect_int(root, "/media/streams/0/height", 120);
	expect_string(root, "/media/streams/0/pix_fmt", "yuv420p");
	expect_string(root, "/media/streams/0/avg_frame_rate", "10/1");
	expect_string(root, "/media/streams/0/r_frame_rate", "10/1");

	expect_string(root, "/media/streams/1/codec_type", "audio");
	expect_string(root, "/media/streams/1/codec_name", "vorbis");
	expect_string(root, "/media/streams/1/sample_fmt", "fltp");
	expect_int(root, "/media/streams/1/sample_rate", 8000);
	expect_int(root, "/media/streams/1/channels", 1);
	expect_string(root, "/media/streams/1/channel_layout", "mono");
	expect_string(root, "/media/streams/1/language", "fra");
	mx_record_free(rec);
}

Test(media, matroska_utf8_title)
{
	struct mx_record *rec = extract_fixture("gen_chapters.mkv");
	const struct mx_value *root = mx_record_root(rec);

	expect_string(root, "/media/tags/title", "Café für Ωμέγα – 日本語");
	mx_record_free(rec);
}

/*
 * ffprobe prints the chapter as start 0 and end 500000000 in its time base
 * 1/1000000000, and as start_time 0.000000 and end_time 0.500000 seconds.
 * The record keeps only the seconds, under ffprobe's names for them.
 */
Test(media, matroska_chapter)
{
	struct mx_record *rec = extract_fixture("gen_chapters.mkv");
	const struct mx_value *root = mx_record_root(rec);

	expect_count(root, "/media/chapters", MX_ARRAY, 1);
	expect_int(root, "/media/chapters/0/id", 1);
	expect_seconds(root, "/media/chapters/0/start_time", 0.0);
	expect_seconds(root, "/media/chapters/0/end_time", 0.5);
	expect_string(root, "/media/chapters/0/tags/title", "Première partie");
	mx_record_free(rec);
}

Test(media, wav_pcm_mono)
{
	struct mx_record *rec = extract_fixture("gen_tone.wav");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "wav");
	expect_string(root, "/media/format_long_name",
		      "WAV / WAVE (Waveform Audio)");
	expect_seconds(root, "/media/duration", 0.5);
	expect_int(root, "/media/bit_rate", 128704);
	expect_int(root, "/media/nb_streams", 1);
	expect_string(root, "/media/streams/0/codec_type", "audio");
	expect_string(root, "/media/streams/0/codec_name", "pcm_s16le");
	expect_string(root, "/media/streams/0/sample_fmt", "s16");
	expect_int(root, "/media/streams/0/sample_rate", 8000);
	expect_int(root, "/media/streams/0/channels", 1);
	/* A plain WAVEFORMAT header names no layout, so ffprobe prints none. */
	expect_absent_or_null(root, "/media/streams/0/channel_layout");
	mx_record_free(rec);
}

Test(media, flac_tone)
{
	struct mx_record *rec = extract_fixture("gen_tone.flac");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "flac");
	expect_string(root, "/media/format_long_name", "raw FLAC");
	expect_seconds(root, "/media/duration", 0.5);
	expect_int(root, "/media/bit_rate", 178928);
	expect_string(root, "/media/tags/title", "Tonalité");
	expect_string(root, "/media/streams/0/codec_type", "audio");
	expect_string(root, "/media/streams/0/codec_name", "flac");
	expect_string(root, "/media/streams/0/sample_fmt", "s16");
	expect_int(root, "/media/streams/0/sample_rate", 16000);
	expect_int(root, "/media/streams/0/channels", 1);
	expect_string(root, "/media/streams/0/channel_layout", "mono");
	mx_record_free(rec);
}

/*
 * ffprobe's MP3 times: the start 0.050113 s is 1105 samples at 22050 Hz,
 * the delay that FFmpeg's mp3 demuxer takes from the LAME header, and the
 * duration 0.574694 s is an estimate from the Xing frame count.
 */
Test(media, mp3_tone)
{
	struct mx_record *rec = extract_fixture("gen_tone.mp3");
	const struct mx_value *root = mx_record_root(rec);

	expect_complete(rec);
	expect_string(root, "/media/format_name", "mp3");
	expect_string(root, "/media/format_long_name",
		      "MP2/3 (MPEG audio layer 2/3)");
	expect_seconds(root, "/media/duration", 0.574694);
	expect_seconds(root, "/media/start_time", 0.050113);
	expect_int(root, "/media/bit_rate", 35218);
	expect_string(root, "/media/tags/title", "Ünïcødé tône");
	expect_string(root, "/media/streams/0/codec_type", "audio");
	expect_string(root, "/media/streams/0/codec_name", "mp3");
	expect_string(root, "/media/streams/0/sample_fmt", "fltp");
	expect_int(root, "/media/streams/0/sample_rate", 22050);
	expect_int(root, "/media/streams/0/channels", 1);
	expect_string(root, "/media/streams/0/channel_layout", "mono");
	mx_record_free(rec);
}

/*
 * mutagen tests/data/ooming-header.flac: the comment block claims about
 * 1.85 billion comments in 86 bytes. ffprobe 5.1 rejects the file ("Invalid
 * data found when processing input"). Either the stream info or a parse
 * error is a valid result. The test fails on a crash or a timeout.
 */
Test(media, flac_huge_comment_count)
{
	struct mx_record *rec = extract_fixture("mutagen_ooming-header.flac");
	const struct mx_value *root = mx_record_root(rec);
	enum mx_status status = mx_record_status(rec);

	cr_assert(status == MX_STATUS_OK || status == MX_STATUS_ERROR,
		  "%s: record status: expected ok or error, got %d",
		  support_context(), (int)status);
	if (status == MX_STATUS_OK) {
		expect_int(root, "/media/streams/0/sample_rate", 44100);
		expect_int(root, "/media/streams/0/channels", 2);
	} else {
		expect_string(root, "/error/stage", "parse");
	}
	mx_record_free(rec);
}

Test(media, tar_has_no_media)
{
	struct mx_record *rec =
		extract_fixture("libarchive_test_compat_gtar_1.tar");
	const struct mx_value *root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/media");
	mx_record_free(rec);
}

Test(media, text_has_no_media)
{
	struct mx_record *rec = extract_fixture("gen_notes.txt");
	const struct mx_value *root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_OK);
	expect_absent(root, "/media");
	mx_record_free(rec);
}

/*
 * libmagic calls this MIDI message audio/x-syx (file -b --mime-type), so
 * the media parser runs, finds no demuxer, and leaves only a warning.
 */
Test(media, audio_mime_without_demuxer)
{
	struct mx_record *rec = extract_fixture("gen_sysex.syx");
	const struct mx_value *root = mx_record_root(rec);

	expect_status(rec, MX_STATUS_OK);
	expect_string(root, "/type/mime", "audio/x-syx");
	expect_absent(root, "/media");
	expect_absent(root, "/error");
	expect_count(root, "/warnings", MX_ARRAY, 1);
	expect_string(root, "/warnings/0", "media parser: no libavformat "
		      "demuxer recognises this data");
	mx_record_free(rec);
}
