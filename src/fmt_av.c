/*
 * Video and audio backend: container, stream and chapter metadata through
 * libavformat (FFmpeg 5.1), under ffprobe's field names.
 *
 * Every byte comes through source_read() by way of a custom AVIOContext.
 * This file decodes nothing itself, but avformat_find_stream_info() may
 * decode a few frames to fill in codec parameters, as it does for ffprobe.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>

#include "fmt.h"

/*
 * Probe sizes start at 2 KiB and stop at 1 MiB, as in libavformat's own
 * probing. Warnings are capped per file, tag values and keys in bytes.
 */
#define AVIO_BUFFER_SIZE	(64 * 1024)
#define PROBE_MIN		2048
#define PROBE_MAX		(1024 * 1024)
#define MAX_WARNINGS		16
#define WARNING_MAX_LEN		240
#define TAG_VALUE_MAX		(64 * 1024)
#define TAG_KEY_MAX		1024

/* ------------------------------------------------------------------ */
/* Log messages */

/*
 * Collects libavformat's warnings and errors for the parse running on this
 * thread. A message may arrive in several av_log() calls, so its text
 * collects in line until a newline ends it.
 */
struct log_sink {
	struct parse_ctx *ctx;
	const char *pushed[MAX_WARNINGS];	/* for deduplication */
	unsigned pushed_count;
	char line[WARNING_MAX_LEN];
	size_t line_len;
	char first_error[160];		/* first AV_LOG_ERROR text */
};

static _Thread_local struct log_sink *current_sink;

static void push_warning(struct log_sink *sink)
{
	struct arena *a = sink->ctx->arena;
	size_t len = sink->line_len;
	unsigned i;
	char *text;

	while (len && (unsigned char)sink->line[len - 1] <= ' ')
		len--;
	sink->line_len = 0;
	if (!len || sink->pushed_count == MAX_WARNINGS)
		return;
	for (i = 0; i < sink->pushed_count; i++)
		if (strlen(sink->pushed[i]) == len &&
		    !memcmp(sink->pushed[i], sink->line, len))
			return;

	text = arena_strndup(a, sink->line, len);
	if (!text)
		return;
	sink->pushed[sink->pushed_count++] = text;
	val_push(a, sink->ctx->warnings, val_string(a, text, len));
}

/* Returns the name of the logging component: "mov,mp4,...", "aac". */
static const char *log_source(void *avcl)
{
	const AVClass *cls = avcl ? *(const AVClass **)avcl : NULL;
	const char *name;

	if (!cls)
		return NULL;
	name = cls->item_name ? cls->item_name(avcl) : NULL;
	/* An AVFormatContext names itself "NULL" until a demuxer is chosen. */
	if (!name || !strcmp(name, "NULL"))
		name = cls->class_name;
	return name;
}

static void append_text(struct log_sink *sink, const char *text)
{
	size_t room = sizeof(sink->line) - sink->line_len - 1;
	size_t len = strnlen(text, room);

	memcpy(sink->line + sink->line_len, text, len);
	sink->line_len += len;
	sink->line[sink->line_len] = '\0';
}

/*
 * Receives every av_log() call of the process. Messages of threads with no
 * parse running, and those less severe than AV_LOG_WARNING, are dropped
 * because the library prints nothing.
 */
static void log_message(void *avcl, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_message(void *avcl, int level, const char *fmt, va_list ap)
{
	struct log_sink *sink = current_sink;
	char text[WARNING_MAX_LEN];
	const char *source;
	char *line_end;
	int n;

	if (!sink || (level & 0xff) > AV_LOG_WARNING)
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n <= 0)
		return;

	source = log_source(avcl);
	if (!sink->line_len && source) {
		append_text(sink, source);
		append_text(sink, ": ");
	}
	/*
	 * Only the first line of a call is kept, because later lines are
	 * advice for the ffmpeg command line, such as raising -probesize.
	 */
	line_end = strchr(text, '\n');
	if (line_end)
		*line_end = '\0';
	if ((level & 0xff) <= AV_LOG_ERROR && !sink->first_error[0])
		snprintf(sink->first_error, sizeof(sink->first_error), "%.*s",
			 (int)sizeof(sink->first_error) - 1, text);
	append_text(sink, text);
	if (line_end || (size_t)n >= sizeof(text) - 1)
		push_warning(sink);
}

static int fmt_av_init(void)
{
	av_log_set_callback(log_message);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Probe */

/* MIME types of libmagic that name audio or video containers. */
static bool mime_is_media(const char *mime)
{
	static const char *const prefixes[] = {
		"video/",
		"audio/",
		"application/ogg",
		"application/mxf",
		"application/vnd.rn-realmedia",
		"application/vnd.ms-asf",
		"application/x-matroska",
	};
	size_t i;

	if (!mime)
		return false;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(mime, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/*
 * An HDF5 superblock sits at offset 0 or 512 * 2^n (after a user block).
 * libavformat guesses MP3 for some of these files, so they are rejected
 * here even though the HDF5 backend probes first.
 */
static bool has_hdf5_signature(const unsigned char *head, size_t len)
{
	static const unsigned char signature[8] = "\x89HDF\r\n\x1a\n";
	size_t offset;

	for (offset = 0; offset + sizeof(signature) <= len;
	     offset = offset ? offset * 2 : 512)
		if (!memcmp(head + offset, signature, sizeof(signature)))
			return true;
	return false;
}

/* Demuxers that match single images or terminal text, not media. */
static bool is_still_image_format(const AVInputFormat *ifmt)
{
	const char *name = ifmt->name;
	size_t len = strlen(name);

	return !strcmp(name, "image2") || !strcmp(name, "tty") ||
	       !strcmp(name, "ico") || !strcmp(name, "fits") ||
	       (len > 5 && !strcmp(name + len - 5, "_pipe"));
}

/* Whether the first bytes hold no control characters other than spaces. */
static bool looks_like_text(const unsigned char *head, size_t len)
{
	size_t i;

	if (len > 4096)
		len = 4096;
	for (i = 0; i < len; i++)
		if (head[i] < 0x20 && !strchr("\t\n\v\f\r", head[i]))
			return false;
	return true;
}

/*
 * Finds matches that are no evidence of media. libgme takes every gzip
 * stream for a compressed VGM tune. On plain text, probers of binary
 * formats (MPEG-TS gives 97 to some file lists) and loose text probers
 * (TED captions gives 50 to any JSON object with a "duration" key) score
 * below 100. Well-formed SubRip, ASS and WebVTT files score 100.
 */
static bool is_weak_match(const AVInputFormat *ifmt, int score,
			  const unsigned char *head, size_t len)
{
	if (!strcmp(ifmt->name, "libgme"))
		return head[0] == 0x1f && head[1] == 0x8b;
	return score < AVPROBE_SCORE_MAX && looks_like_text(head, len);
}

/*
 * Demuxers of playlists and manifests, whose media is in other files that
 * a parser does not open.
 */
static bool is_playlist_format(const AVInputFormat *ifmt)
{
	static const char *const names[] = { "hls", "concat", "dash", "imf" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(ifmt->name, names[i]))
			return true;
	return false;
}

/*
 * Probes the first PROBE_MIN bytes, where most containers can be
 * recognised, then the whole head, and takes the first size where a
 * demuxer scores AVPROBE_SCORE_MAX / 2. avformat_open_input() doubles the
 * size from PROBE_MIN instead. The scanning probers (MPEG audio, start
 * codes) cost in proportion to the bytes, so here the doublings cost 290
 * against 170 us a file on random files of 1 B to 16 KiB.
 */
static bool probe_head(const unsigned char *head, size_t head_len)
{
	size_t limit = head_len < PROBE_MAX ? head_len : PROBE_MAX;
	const AVInputFormat *ifmt;
	unsigned char *buf;
	AVProbeData pd = { .filename = "" };
	bool found = false;
	size_t size = 0;
	int score;

	buf = av_malloc(limit + AVPROBE_PADDING_SIZE);
	if (!buf)
		return false;
	while (size < limit) {
		size = size ? limit : PROBE_MIN;
		if (size > limit)
			size = limit;
		memcpy(buf, head, size);
		memset(buf + size, 0, AVPROBE_PADDING_SIZE);
		pd.buf = buf;
		pd.buf_size = (int)size;
		score = 0;
		ifmt = av_probe_input_format3(&pd, 1, &score);
		if (ifmt && score >= AVPROBE_SCORE_MAX / 2) {
			found = !is_still_image_format(ifmt) &&
				!is_playlist_format(ifmt) &&
				!is_weak_match(ifmt, score, buf, size);
			break;
		}
	}
	av_free(buf);
	return found;
}

static bool fmt_av_probe(const unsigned char *head, size_t head_len,
			 uint64_t file_size, const char *mime)
{
	(void)file_size;
	if (mime_is_media(mime))
		return true;
	if (!head_len || has_hdf5_signature(head, head_len))
		return false;
	return probe_head(head, head_len);
}

/* ------------------------------------------------------------------ */
/* Input through the source */

struct av_input {
	struct source *src;
	uint64_t size;
	uint64_t pos;
	uint64_t max_seek;	/* largest offset a seek asked for */
	const AVInputFormat *format;	/* the probe's choice */
	int read_error;		/* first error of source_read() */
	uint64_t error_offset;
};

/* Reads through the source and keeps the first error for the record. */
static ssize_t read_at(struct av_input *in, void *buf, size_t len,
		       uint64_t offset)
{
	ssize_t n;

	if (in->read_error)
		return in->read_error;
	n = source_read(in->src, buf, len, offset);
	if (n < 0) {
		in->read_error = (int)n;
		in->error_offset = offset;
	}
	return n;
}

static int read_input(void *opaque, uint8_t *buf, int buf_size)
{
	struct av_input *in = opaque;
	ssize_t n;

	if (buf_size <= 0)
		return 0;
	n = read_at(in, buf, (size_t)buf_size, in->pos);
	/* AVERROR(e) is -e, so a negative errno passes unchanged. */
	if (n < 0)
		return (int)n;
	if (n == 0)
		return AVERROR_EOF;
	in->pos += (uint64_t)n;
	return (int)n;
}

static int64_t seek_input(void *opaque, int64_t offset, int whence)
{
	struct av_input *in = opaque;
	int64_t base;

	switch (whence & ~AVSEEK_FORCE) {
	case AVSEEK_SIZE:
		return (int64_t)in->size;
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)in->pos;
		break;
	case SEEK_END:
		base = (int64_t)in->size;
		break;
	default:
		return AVERROR(EINVAL);
	}
	if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
		return AVERROR(EINVAL);

	in->pos = (uint64_t)(base + offset);
	if (in->pos > in->max_seek)
		in->max_seek = in->pos;
	return (int64_t)in->pos;
}

/*
 * Replaces libavformat's opener of nested files (HLS segments, external
 * data references), so that a parser reads only the file it was given.
 */
static int refuse_nested_open(AVFormatContext *fmt, AVIOContext **pb,
			      const char *url, int flags,
			      AVDictionary **options)
{
	(void)pb;
	(void)flags;
	(void)options;
	av_log(fmt, AV_LOG_WARNING,
	       "not opening %s: files that this one refers to are not read\n",
	       url);
	return AVERROR(EPERM);
}

/* ------------------------------------------------------------------ */
/* Errors */

/*
 * Maps a libavformat error to a negative errno. Failed reads of the source
 * are handled before this, so AVERROR(EIO) here is the demuxer's verdict
 * on the data and becomes -EBADMSG. Matroska returns it for a premature
 * end, which check_complete() then reports as a cut.
 */
static int errno_of(int averr)
{
	if (averr == AVERROR(ENOMEM))
		return -ENOMEM;
	if (averr == AVERROR_EOF)
		return -ENODATA;
	if (averr == AVERROR_PATCHWELCOME || averr == AVERROR(ENOSYS) ||
	    averr == AVERROR_DECODER_NOT_FOUND ||
	    averr == AVERROR_DEMUXER_NOT_FOUND)
		return -EOPNOTSUPP;
	return -EBADMSG;
}

/*
 * Stores "what: first logged error (libavformat's error text)" in
 * ctx->message and returns the matching negative errno. A failed
 * source_read() takes precedence, since libavformat often reports it as
 * end of file or invalid data.
 */
static int fail(struct parse_ctx *ctx, const struct av_input *in,
		const struct log_sink *sink, int averr, const char *what)
{
	char text[AV_ERROR_MAX_STRING_SIZE];

	if (in->read_error) {
		av_strerror(in->read_error, text, sizeof(text));
		snprintf(ctx->message, sizeof(ctx->message),
			 "read failed at byte %" PRIu64 ": %s",
			 in->error_offset, text);
		return in->read_error;
	}
	if (averr == AVERROR(EIO))
		snprintf(text, sizeof(text),
			 "invalid data, reported as an I/O error");
	else
		av_strerror(averr, text, sizeof(text));
	if (averr == AVERROR_EOF)
		snprintf(ctx->message, sizeof(ctx->message),
			 "%s: the file ends before the media headers do", what);
	else if (sink->first_error[0])
		snprintf(ctx->message, sizeof(ctx->message), "%s: %s (%s)",
			 what, sink->first_error, text);
	else
		snprintf(ctx->message, sizeof(ctx->message), "%s: %s",
			 what, text);
	return errno_of(averr);
}

/* ------------------------------------------------------------------ */
/* Output */

/* Ticks of time_base in seconds, without the rounding of av_q2d(). */
static double seconds(int64_t ts, AVRational time_base)
{
	if (!time_base.den)
		return 0.0;
	return (double)ts * time_base.num / time_base.den;
}

static void put_seconds(struct arena *a, struct mx_value *obj,
			const char *key, int64_t ts, AVRational time_base)
{
	if (ts != AV_NOPTS_VALUE)
		val_put_double(a, obj, key, seconds(ts, time_base));
}

static void put_ratio(struct arena *a, struct mx_value *obj, const char *key,
		      AVRational q, char separator)
{
	val_put_cstring(a, obj, key,
			arena_printf(a, "%d%c%d", q.num, separator, q.den));
}

/*
 * Returns the first max bytes of s as a string value, cut before a UTF-8
 * sequence that would not fit whole.
 */
static struct mx_value *capped_string(struct arena *a, const char *s,
				      size_t max)
{
	size_t len = strnlen(s, max + 1);
	size_t floor;

	if (len > max) {
		len = max;
		floor = len > 3 ? len - 3 : 0;
		while (len > floor && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	return val_string(a, s, len);
}

/*
 * Adds "tags" with at most cfg->max_tags entries of dict to obj, and
 * "tags_truncated": true when entries were left out. Adds nothing for an
 * empty dictionary, as ffprobe does.
 */
static void put_tags(struct parse_ctx *ctx, struct mx_value *obj,
		     const AVDictionary *dict)
{
	struct arena *a = ctx->arena;
	const AVDictionaryEntry *e = NULL;
	struct mx_value *tags;
	unsigned count = 0;
	const char *key;

	if (!av_dict_count(dict))
		return;
	tags = val_put_object(a, obj, "tags");
	while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX))) {
		if (count == ctx->cfg->max_tags) {
			val_put_bool(a, obj, "tags_truncated", true);
			break;
		}
		key = e->key;
		if (strlen(key) > TAG_KEY_MAX)
			key = arena_strndup(a, key, TAG_KEY_MAX);
		if (key)
			val_put(a, tags, key,
				capped_string(a, e->value, TAG_VALUE_MAX));
		count++;
	}
}

/* Adds the names of the AV_DISPOSITION_* flags set in disposition. */
static void put_disposition(struct arena *a, struct mx_value *obj,
			    int disposition)
{
	struct mx_value *names = val_put_array(a, obj, "disposition");
	const char *name;
	unsigned bit;

	for (bit = 0; bit < 31; bit++) {
		if (!(disposition & (1 << bit)))
			continue;
		name = av_disposition_to_string(1 << bit);
		if (name)
			val_push(a, names, val_cstring(a, name));
	}
}

static void put_video(struct arena *a, struct mx_value *obj,
		      AVFormatContext *fmt, AVStream *st)
{
	const AVCodecParameters *par = st->codecpar;
	AVRational sar, dar;
	const char *pix_fmt;

	val_put_int(a, obj, "width", par->width);
	val_put_int(a, obj, "height", par->height);
	sar = av_guess_sample_aspect_ratio(fmt, st, NULL);
	if (sar.num) {
		av_reduce(&dar.num, &dar.den, (int64_t)par->width * sar.num,
			  (int64_t)par->height * sar.den, 1024 * 1024);
		put_ratio(a, obj, "sample_aspect_ratio", sar, ':');
		put_ratio(a, obj, "display_aspect_ratio", dar, ':');
	}
	pix_fmt = av_get_pix_fmt_name(par->format);
	if (pix_fmt)
		val_put_cstring(a, obj, "pix_fmt", pix_fmt);
}

/*
 * Adds the frame rates. ffprobe prints them for every stream, with "0/0"
 * when unknown. Here only video streams get "0/0", and other streams (a
 * QuickTime timecode track) get only known rates.
 */
static void put_frame_rates(struct arena *a, struct mx_value *obj,
			    const AVStream *st)
{
	bool video = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;

	if (video || st->r_frame_rate.num)
		put_ratio(a, obj, "r_frame_rate", st->r_frame_rate, '/');
	if (video || st->avg_frame_rate.num)
		put_ratio(a, obj, "avg_frame_rate", st->avg_frame_rate, '/');
}

static void put_audio(struct arena *a, struct mx_value *obj,
		      const AVCodecParameters *par)
{
	const char *sample_fmt = av_get_sample_fmt_name(par->format);
	char layout[128];

	if (sample_fmt)
		val_put_cstring(a, obj, "sample_fmt", sample_fmt);
	val_put_int(a, obj, "sample_rate", par->sample_rate);
	val_put_int(a, obj, "channels", par->ch_layout.nb_channels);
	if (par->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC &&
	    av_channel_layout_describe(&par->ch_layout, layout,
				       sizeof(layout)) > 0)
		val_put_cstring(a, obj, "channel_layout", layout);
}

/* Adds codec_name, codec_long_name, profile, codec_type and the tag. */
static void put_codec(struct arena *a, struct mx_value *obj,
		      const AVCodecParameters *par)
{
	const AVCodecDescriptor *desc = avcodec_descriptor_get(par->codec_id);
	const char *profile = avcodec_profile_name(par->codec_id, par->profile);
	const char *type = av_get_media_type_string(par->codec_type);
	char fourcc[AV_FOURCC_MAX_STRING_SIZE];

	if (desc) {
		val_put_cstring(a, obj, "codec_name", desc->name);
		val_put_cstring(a, obj, "codec_long_name",
				desc->long_name ? desc->long_name : "unknown");
	}
	/* ffprobe prints the number of a profile that has no name. */
	if (profile)
		val_put_cstring(a, obj, "profile", profile);
	else if (par->profile != FF_PROFILE_UNKNOWN)
		val_put_cstring(a, obj, "profile",
				arena_printf(a, "%d", par->profile));
	if (type)
		val_put_cstring(a, obj, "codec_type", type);
	av_fourcc_make_string(fourcc, par->codec_tag);
	val_put_cstring(a, obj, "codec_tag_string", fourcc);
}

static void put_stream(struct parse_ctx *ctx, struct mx_value *streams,
		       AVFormatContext *fmt, AVStream *st)
{
	struct arena *a = ctx->arena;
	const AVCodecParameters *par = st->codecpar;
	struct mx_value *obj = val_push(a, streams, val_object(a));
	const AVDictionaryEntry *language;

	val_put_int(a, obj, "index", st->index);
	put_codec(a, obj, par);
	if (par->codec_type == AVMEDIA_TYPE_VIDEO)
		put_video(a, obj, fmt, st);
	else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
		put_audio(a, obj, par);
	else if (par->codec_type == AVMEDIA_TYPE_SUBTITLE && par->width) {
		val_put_int(a, obj, "width", par->width);
		val_put_int(a, obj, "height", par->height);
	}

	put_frame_rates(a, obj, st);
	put_ratio(a, obj, "time_base", st->time_base, '/');
	put_seconds(a, obj, "start_time", st->start_time, st->time_base);
	put_seconds(a, obj, "duration", st->duration, st->time_base);
	if (par->bit_rate > 0)
		val_put_int(a, obj, "bit_rate", par->bit_rate);
	if (par->bits_per_raw_sample > 0)
		val_put_int(a, obj, "bits_per_raw_sample",
			    par->bits_per_raw_sample);
	if (st->nb_frames)
		val_put_int(a, obj, "nb_frames", st->nb_frames);

	language = av_dict_get(st->metadata, "language", NULL, 0);
	if (language)
		val_put(a, obj, "language",
			capped_string(a, language->value, TAG_VALUE_MAX));
	put_disposition(a, obj, st->disposition);
	put_tags(ctx, obj, st->metadata);
}

static void put_chapters(struct parse_ctx *ctx, const AVFormatContext *fmt)
{
	struct arena *a = ctx->arena;
	struct mx_value *chapters = val_put_array(a, ctx->out, "chapters");
	struct mx_value *obj;
	const AVChapter *ch;
	unsigned i;

	for (i = 0; i < fmt->nb_chapters; i++) {
		ch = fmt->chapters[i];
		obj = val_push(a, chapters, val_object(a));
		val_put_int(a, obj, "id", ch->id);
		put_seconds(a, obj, "start_time", ch->start, ch->time_base);
		put_seconds(a, obj, "end_time", ch->end, ch->time_base);
		put_tags(ctx, obj, ch->metadata);
	}
}

static void put_format(struct parse_ctx *ctx, AVFormatContext *fmt)
{
	struct arena *a = ctx->arena;
	struct mx_value *out = ctx->out;
	const AVInputFormat *ifmt = fmt->iformat;
	struct mx_value *streams;
	unsigned i;

	val_put_cstring(a, out, "format_name", ifmt->name);
	val_put_cstring(a, out, "format_long_name",
			ifmt->long_name ? ifmt->long_name : "unknown");
	put_seconds(a, out, "start_time", fmt->start_time, AV_TIME_BASE_Q);
	put_seconds(a, out, "duration", fmt->duration, AV_TIME_BASE_Q);
	if (fmt->bit_rate > 0)
		val_put_int(a, out, "bit_rate", fmt->bit_rate);
	val_put_int(a, out, "nb_streams", fmt->nb_streams);
	val_put_int(a, out, "probe_score", fmt->probe_score);
	put_tags(ctx, out, fmt->metadata);

	streams = val_put_array(a, out, "streams");
	for (i = 0; i < fmt->nb_streams; i++)
		put_stream(ctx, streams, fmt, fmt->streams[i]);
	put_chapters(ctx, fmt);
}

/* ------------------------------------------------------------------ */
/* Truncation */

/* End of the data that a file claims, when that is past its last byte. */
struct overrun {
	uint64_t end;
	char what[48];		/* what ends there, for the message */
};

/*
 * Returns the end of the media data that the demuxer's sample index
 * describes: the largest pos + size over all entries. Containers that list
 * every sample up front (MP4, MOV) give the full extent here. Formats
 * without a stored index give 0 or cover only the packets read so far.
 */
static uint64_t index_end(AVFormatContext *fmt)
{
	const AVIndexEntry *e;
	uint64_t end = 0;
	unsigned i;
	int j, count;

	for (i = 0; i < fmt->nb_streams; i++) {
		count = avformat_index_get_entries_count(fmt->streams[i]);
		for (j = 0; j < count; j++) {
			e = avformat_index_get_entry(fmt->streams[i], j);
			if (!e || e->pos < 0 || e->size < 0 ||
			    e->pos > INT64_MAX - e->size)
				continue;
			if ((uint64_t)(e->pos + e->size) > end)
				end = (uint64_t)(e->pos + e->size);
		}
	}
	return end;
}

static uint64_t load_be(const unsigned char *p, size_t len)
{
	uint64_t v = 0;

	while (len--)
		v = v << 8 | *p++;
	return v;
}

static bool is_box_type(const unsigned char *type)
{
	int i;

	for (i = 0; i < 4; i++)
		if (type[i] < 0x20 || type[i] > 0x7e)
			return false;
	return true;
}

/*
 * Walks the top-level boxes of an ISO BMFF (MP4, MOV) file and returns the
 * end of the first one whose declared size runs past the file, or 0.
 * libavformat clamps such a box to the file, so a file cut inside "mdat"
 * before its "moov" shows only as "moov atom not found". The walk stops
 * at a size-0 box, which extends to the end by definition, and at a
 * malformed size. It also stops at a partial header or a type that is not
 * printable, so trailing junk after the last box is not taken for a cut.
 */
static uint64_t bmff_overrun(struct av_input *in, char type[5])
{
	uint64_t size = in->size;
	unsigned char h[16];
	uint64_t offset = 0, box;
	unsigned count;
	ssize_t n;

	for (count = 0; offset < size && count < 4096; count++) {
		n = read_at(in, h, sizeof(h), offset);
		if (n < 8 || !is_box_type(h + 4))
			return 0;
		memcpy(type, h + 4, 4);
		type[4] = '\0';
		box = load_be(h, 4);
		if (box == 1) {
			if (n < 16)
				return offset + 16;
			box = load_be(h + 8, 8);
		}
		/* Size 0 extends to the end, and 1 to 7 are invalid. */
		if (box < 8)
			return 0;
		if (box > UINT64_MAX - offset)
			return UINT64_MAX;
		if (box > size - offset)
			return offset + box;
		offset += box;
	}
	return 0;
}

/*
 * Reads the EBML variable-size integer at p. Returns its length, or 0 when
 * it is invalid or longer than avail, and stores its value without the
 * length marker. *unknown is set for the all-ones "unknown size".
 */
static size_t ebml_vint(const unsigned char *p, size_t avail,
			uint64_t *value, bool *unknown)
{
	size_t len = 1, i;
	uint64_t v;

	if (!avail || !p[0])
		return 0;
	while (!(p[0] & (0x80 >> (len - 1))))
		len++;
	if (len > avail)
		return 0;
	v = p[0] & (0xff >> len);
	*unknown = v == (0xffu >> len);
	for (i = 1; i < len; i++) {
		v = v << 8 | p[i];
		*unknown = *unknown && p[i] == 0xff;
	}
	*value = v;
	return len;
}

/*
 * Returns the end of a Matroska or WebM Segment element when its declared
 * size runs past the file, or 0. The demuxer reads clusters until the data
 * stops and takes the duration from the header, so a cut file looks whole.
 */
static uint64_t matroska_overrun(struct av_input *in)
{
	static const unsigned char ebml_id[4] = { 0x1a, 0x45, 0xdf, 0xa3 };
	static const unsigned char segment_id[4] = { 0x18, 0x53, 0x80, 0x67 };
	unsigned char h[12];
	uint64_t offset, length;
	bool unknown;
	size_t len;

	if (read_at(in, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, ebml_id, 4))
		return 0;
	len = ebml_vint(h + 4, 8, &length, &unknown);
	if (!len || unknown || length > in->size)
		return 0;
	offset = 4 + len + length;
	if (read_at(in, h, sizeof(h), offset) != (ssize_t)sizeof(h) ||
	    memcmp(h, segment_id, 4))
		return 0;
	len = ebml_vint(h + 4, 8, &length, &unknown);
	if (!len || unknown)
		return 0;
	offset += 4 + len;
	return length > in->size - offset ? offset + length : 0;
}

/*
 * Returns the end of a RIFF (WAV, AVI) file by its header when that is
 * past the file, or 0. Sizes 0 and 0xffffffff mean "not known", as in
 * streamed output and RF64. An excess of up to 8 bytes is allowed, so that
 * a writer that counts the 8-byte header, or a pad byte that it never
 * wrote, does not make a complete file look cut.
 */
static uint64_t riff_overrun(struct av_input *in)
{
	unsigned char h[8];
	uint64_t end;

	if (read_at(in, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, "RIFF", 4))
		return 0;
	end = 8 + (h[4] | (uint64_t)h[5] << 8 | (uint64_t)h[6] << 16 |
		   (uint64_t)h[7] << 24);
	if (end == 8 || end == 8 + 0xffffffffu)
		return 0;
	return end > in->size + 8 ? end : 0;
}

/* Checks the size that the container declares for itself, by format. */
static struct overrun declared_overrun(struct av_input *in)
{
	const char *name = in->format ? in->format->name : "";
	struct overrun o = { 0, "" };
	char type[5] = "";

	if (!strncmp(name, "mov,", 4)) {
		o.end = bmff_overrun(in, type);
		snprintf(o.what, sizeof(o.what), "the '%s' box", type);
	} else if (!strncmp(name, "matroska", 8)) {
		o.end = matroska_overrun(in);
		snprintf(o.what, sizeof(o.what), "the Matroska segment");
	} else if (!strcmp(name, "wav") || !strcmp(name, "avi")) {
		o.end = riff_overrun(in);
		snprintf(o.what, sizeof(o.what), "the RIFF chunk");
	}
	return o;
}

/*
 * Finds data that the file claims past its last byte. Three signs count,
 * in this order: a sample in the index that ends past the last byte, a
 * container size field (declared_overrun()), and a seek past the last
 * byte. Demuxers seek there when they follow an index or skip an element
 * whose size runs beyond the end (AVI "idx1"). Reads that merely reach the
 * end prove nothing, since demuxers read complete files to the end too.
 * NOTE: formats that declare no size and keep no index up front (MPEG-TS,
 * MP3, Ogg, FLAC as written by FFmpeg) are not flagged when cut.
 */
static struct overrun find_overrun(AVFormatContext *fmt,
				   struct av_input *in)
{
	struct overrun o = { fmt ? index_end(fmt) : 0, "the last sample" };

	if (o.end > in->size)
		return o;
	o = declared_overrun(in);
	if (o.end > in->size)
		return o;
	o.end = in->max_seek;
	snprintf(o.what, sizeof(o.what), "a position the demuxer seeked to");
	return o;
}

static int mark_truncated(struct parse_ctx *ctx)
{
	val_put_bool(ctx->arena, ctx->out, "truncated", true);
	return -ENODATA;
}

/*
 * Flags a file that ends before the data it describes, given ret, the
 * result so far. Returns -ENODATA with "truncated": true in ctx->out for
 * a cut file, otherwise ret.
 */
static int check_complete(struct parse_ctx *ctx, AVFormatContext *fmt,
			  struct av_input *in, int ret)
{
	struct overrun o = find_overrun(fmt, in);
	char earlier[sizeof(ctx->message)];
	size_t len;

	if (o.end <= in->size)
		return ret == -ENODATA ? mark_truncated(ctx) : ret;

	memcpy(earlier, ctx->message, sizeof(earlier));
	snprintf(ctx->message, sizeof(ctx->message),
		 "media data runs past the end of the file: %s ends at byte %" PRIu64 ", file has %" PRIu64 " bytes",
		 o.what, o.end, in->size);
	len = strlen(ctx->message);
	if (ret)
		snprintf(ctx->message + len, sizeof(ctx->message) - len,
			 ". Earlier error: %s", earlier);
	return mark_truncated(ctx);
}

/* ------------------------------------------------------------------ */
/* Parse */

static void close_input(AVFormatContext **fmt, AVIOContext **pb)
{
	avformat_close_input(fmt);
	if (*pb) {
		/* avio may have replaced the buffer, so free this one. */
		av_freep(&(*pb)->buffer);
		avio_context_free(pb);
	}
}

static int alloc_io(struct parse_ctx *ctx, struct av_input *in,
		    AVIOContext **pb)
{
	unsigned char *buffer = av_malloc(AVIO_BUFFER_SIZE);

	if (buffer)
		*pb = avio_alloc_context(buffer, AVIO_BUFFER_SIZE, 0, in,
					 read_input, NULL, seek_input);
	if (!*pb) {
		av_free(buffer);
		snprintf(ctx->message, sizeof(ctx->message),
			 "out of memory for the media input buffer");
		return -ENOMEM;
	}
	return 0;
}

/*
 * Chooses the demuxer and returns its probe score. Probing here rather
 * than inside avformat_open_input() separates "no demuxer for this data"
 * from a demuxer that failed. The path lets the prober weigh the file
 * extension, as in ffprobe.
 */
static int probe_input(struct parse_ctx *ctx, struct av_input *in,
		       struct log_sink *sink, AVIOContext *pb,
		       const char *url)
{
	int score = av_probe_input_buffer2(pb, &in->format, url, NULL, 0, 0);

	if (score == AVERROR_INVALIDDATA && !in->read_error) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "no libavformat demuxer recognises this data");
		return -EOPNOTSUPP;
	}
	if (score < 0)
		return fail(ctx, in, sink, score, "media probe failed");
	if (is_playlist_format(in->format)) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "%s playlists list media in other files, which are not read",
			 in->format->name);
		return -EOPNOTSUPP;
	}
	return score;
}

/*
 * Sets up the custom AVIOContext and the demuxer, and reads stream
 * information. On failure *fmt is NULL or open, *pb NULL or allocated:
 * close_input() releases both in every case.
 */
static int open_input(struct parse_ctx *ctx, struct av_input *in,
		      struct log_sink *sink, AVIOContext **pb,
		      AVFormatContext **fmt)
{
	const char *url = source_path(ctx->src) ? source_path(ctx->src) : "";
	AVDictionary *options = NULL;
	int score, ret;

	ret = alloc_io(ctx, in, pb);
	if (ret < 0)
		return ret;
	score = probe_input(ctx, in, sink, *pb, url);
	if (score < 0)
		return score;

	*fmt = avformat_alloc_context();
	if (!*fmt)
		return fail(ctx, in, sink, AVERROR(ENOMEM), "media setup");
	(*fmt)->pb = *pb;
	(*fmt)->flags |= AVFMT_FLAG_CUSTOM_IO;
	(*fmt)->io_open = refuse_nested_open;

	/*
	 * ffprobe scans all MPEG-TS program tables. No protocol is allowed,
	 * so demuxers that open other files on their own (concat) fail too.
	 */
	av_dict_set(&options, "scan_all_pmts", "1", 0);
	av_dict_set(&options, "protocol_whitelist", "none", 0);
	/* Bounds on the stream analysis, for files crafted to prolong it. */
	av_dict_set_int(&options, "probesize", (int64_t)ctx->cfg->probe_size,
			0);
	av_dict_set_int(&options, "analyzeduration",
			(int64_t)(ctx->cfg->analyze_duration * 1e6), 0);
	ret = avformat_open_input(fmt, url, in->format, &options);
	av_dict_free(&options);
	if (ret < 0)
		return fail(ctx, in, sink, ret,
			    "cannot open the media container");
	(*fmt)->probe_score = score;

	/* At the end of the file, AVERROR_EOF here means "no streams". */
	ret = avformat_find_stream_info(*fmt, NULL);
	if (ret < 0 && ret != AVERROR_EOF)
		return fail(ctx, in, sink, ret,
			    "cannot read media stream information");
	if (!(*fmt)->nb_streams) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "no audio, video, subtitle or data streams found");
		return -EBADMSG;
	}
	return 0;
}

static int fmt_av_parse(struct parse_ctx *ctx)
{
	struct log_sink sink = { .ctx = ctx };
	struct av_input in = {
		.src = ctx->src,
		.size = source_size(ctx->src),
	};
	AVFormatContext *fmt = NULL;
	AVIOContext *pb = NULL;
	int ret;

	current_sink = &sink;
	ret = open_input(ctx, &in, &sink, &pb, &fmt);
	if (fmt)
		put_format(ctx, fmt);
	if (ret == 0 || ret == -EBADMSG || ret == -ENODATA)
		ret = check_complete(ctx, fmt, &in, ret);
	/* libavformat often takes a failed read for the end of the file. */
	if (in.read_error && ret != in.read_error)
		ret = fail(ctx, &in, &sink, AVERROR(EIO), "");
	close_input(&fmt, &pb);
	if (sink.line_len)
		push_warning(&sink);
	current_sink = NULL;

	if (ret == 0 && ctx->arena->failed) {
		snprintf(ctx->message, sizeof(ctx->message),
			 "out of memory for the media record");
		ret = -ENOMEM;
	}
	return ret;
}

static void fmt_av_version(char *buf, size_t len)
{
	unsigned v = avformat_version();

	snprintf(buf, len, "FFmpeg %s, libavformat %u.%u.%u", av_version_info(),
		 AV_VERSION_MAJOR(v), AV_VERSION_MINOR(v), AV_VERSION_MICRO(v));
}

const struct fmt_ops fmt_av_ops = {
	.name = "media",
	.init = fmt_av_init,
	.probe = fmt_av_probe,
	.parse = fmt_av_parse,
	.version = fmt_av_version,
};
