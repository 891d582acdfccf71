/*
 * Messages between a loop and its parser worker, over a stream socket.
 * The loop sends a request with the file's descriptor attached
 * (SCM_RIGHTS) and the path after it. The worker replies with a response
 * followed by payload_len bytes, which are the wire encoding (wire.h) of
 * an array of [results object, warnings array, message string]. Both sides run the
 * same build, so the structs go as they are, in host byte order.
 */
#ifndef MX_PARSER_PROTO_H
#define MX_PARSER_PROTO_H

#include <stdint.h>

#define PARSE_REQUEST_MAGIC 0x5150584du		/* "MXPQ" */
#define PARSE_RESPONSE_MAGIC 0x5250584du	/* "MXPR" */

/* Descriptors of the worker, set up by the loop before exec. */
#define WORKER_SOCKET_FD 3
#define WORKER_SHARED_FD 4

/* Longest path a request carries. */
#define PARSE_PATH_MAX 65536u

struct parse_request {
	uint32_t magic;
	uint32_t backend;		/* index in fmt_backends */
	uint64_t size;			/* of the file, from statx at open */
	uint32_t max_objects;
	uint32_t max_tags;
	uint32_t path_len;		/* bytes of path after the request */
	uint32_t max_depth;
	uint64_t probe_size;
	double analyze_duration;
};

struct parse_response {
	uint32_t magic;
	int32_t ret;			/* parse()'s result */
	uint64_t bytes;			/* read by the parser */
	uint32_t reads;
	uint32_t payload_len;
};

#endif
