/*
 * Binary encoding of a value tree, for sending the values a parser worker
 * builds to the parent process. The decoder treats its input as hostile.
 *
 * Layout, all integers little-endian and fixed-width:
 *
 *   message  = version:u8 value        version is WIRE_VERSION
 *   value    = tag:u8 payload
 *
 *   tag  payload
 *   0    null      nothing
 *   1    bool      u8, 0 (false) or 1 (true)
 *   2    int       i64, two's complement
 *   3    double    u64, the IEEE 754 binary64 bits (NaN payloads, -0.0
 *                  and infinities survive)
 *   4    string    length:u32, then length bytes (any bytes, NUL too)
 *   5    array     count:u32, then count values
 *   6    object    count:u32, then count members, each a key
 *                  (length:u32, then length bytes, no NUL) and a value
 *
 * Objects keep the order and the duplicates of their members. Keys cannot
 * contain NUL because struct mx_member stores them NUL-terminated.
 * Arrays and objects nest at most WIRE_MAX_DEPTH deep: a container at
 * level WIRE_MAX_DEPTH may hold scalars but no other container.
 */
#ifndef MX_WIRE_H
#define MX_WIRE_H

#include <stddef.h>

#include "arena.h"
#include "strbuf.h"
#include "value.h"

#define WIRE_VERSION 1
/*
 * Deepest nesting of arrays and objects. HDF5 records reach about 56
 * levels (16 nested datatypes of 3 levels each, under the record), and
 * a parser worker's response adds one.
 */
#define WIRE_MAX_DEPTH 128

/*
 * Appends the encoding of v, version byte first, to out. A NULL v is
 * encoded as null. Returns 0, -ENOMEM when out failed to grow (out->failed
 * is then set), -EINVAL when arrays and objects nest deeper than
 * WIRE_MAX_DEPTH, or -EOVERFLOW for a string, key or count above
 * UINT32_MAX. On error out is cut back to its previous length.
 */
int wire_encode(const struct mx_value *v, struct strbuf *out);

/*
 * Rebuilds the tree encoded in the len bytes at data, in arena a. Returns
 * the root, or NULL with *error set to a static message when the input is
 * malformed or an arena allocation fails (error may be NULL).
 *
 * Every length and count is checked against the bytes that remain before
 * anything is allocated. On LP64 the decoder requests at most 48 arena
 * bytes per input byte, the cost of a null in an array (a 32-byte value
 * and a 16-byte member). Because arena blocks double, a fresh arena's
 * total stays below 4 times the requests plus 4 KiB. Recursion stops at
 * WIRE_MAX_DEPTH. After a failure, what was allocated stays in the arena
 * until arena_free().
 */
struct mx_value *wire_decode(struct arena *a, const void *data, size_t len,
			     const char **error);

#endif
