/*
 * Digests through OpenSSL libcrypto (md5, sha1, sha256, sha512) and
 * libxxhash (xxh3, xxh128, xxh64). Hex output follows the byte order that
 * md5sum, sha256sum and xxhsum print, so values compare as strings.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "alloc.h"
#include "digest.h"

enum { EVP_SLOTS = 4 };

static const struct {
	unsigned bit;
	const char *name;
	const char *evp_name;	/* NULL for xxhash digests */
} digests[] = {
	{ MX_DIGEST_XXH3, "xxh3", NULL },
	{ MX_DIGEST_XXH128, "xxh128", NULL },
	{ MX_DIGEST_XXH64, "xxh64", NULL },
	{ MX_DIGEST_MD5, "md5", "MD5" },
	{ MX_DIGEST_SHA1, "sha1", "SHA1" },
	{ MX_DIGEST_SHA256, "sha256", "SHA256" },
	{ MX_DIGEST_SHA512, "sha512", "SHA512" },
};

#define N_DIGESTS (sizeof(digests) / sizeof(digests[0]))

struct digest_set {
	unsigned mask;
	XXH3_state_t *xxh3;
	XXH3_state_t *xxh128;
	XXH64_state_t *xxh64;
	EVP_MD *md[N_DIGESTS];		/* fetched once per set */
	EVP_MD_CTX *ctx[N_DIGESTS];
};

const char *mx_digest_name(unsigned digest)
{
	size_t i;

	for (i = 0; i < N_DIGESTS; i++)
		if (digests[i].bit == digest)
			return digests[i].name;
	return NULL;
}

static unsigned digest_bit(const char *name, size_t len)
{
	size_t i;

	/* "xxh3-64" is the name xxhsum's documentation uses for XXH3. */
	if (len == 7 && memcmp(name, "xxh3-64", 7) == 0)
		return MX_DIGEST_XXH3;
	for (i = 0; i < N_DIGESTS; i++)
		if (strlen(digests[i].name) == len &&
		    memcmp(digests[i].name, name, len) == 0)
			return digests[i].bit;
	return 0;
}

int mx_digest_parse(const char *list, unsigned *mask)
{
	unsigned result = 0;
	const char *p = list;

	if (!list || !*list)
		return -EINVAL;
	if (strcmp(list, "none") == 0) {
		*mask = 0;
		return 0;
	}
	if (strcmp(list, "all") == 0) {
		*mask = MX_DIGEST_ALL;
		return 0;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		unsigned bit = digest_bit(p, len);

		if (!bit)
			return -EINVAL;
		result |= bit;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	*mask = result;
	return 0;
}

struct digest_set *digest_new(unsigned mask)
{
	struct digest_set *ds = alloc_calloc(1, sizeof(*ds));
	size_t i;

	if (!ds)
		return NULL;
	ds->mask = mask;
	if (mask & MX_DIGEST_XXH3 && !(ds->xxh3 = XXH3_createState()))
		goto fail;
	if (mask & MX_DIGEST_XXH128 && !(ds->xxh128 = XXH3_createState()))
		goto fail;
	if (mask & MX_DIGEST_XXH64 && !(ds->xxh64 = XXH64_createState()))
		goto fail;
	for (i = 0; i < N_DIGESTS; i++) {
		if (!(mask & digests[i].bit) || !digests[i].evp_name)
			continue;
		ds->md[i] = EVP_MD_fetch(NULL, digests[i].evp_name, NULL);
		ds->ctx[i] = EVP_MD_CTX_new();
		if (!ds->md[i] || !ds->ctx[i])
			goto fail;
	}
	if (digest_reset(ds) < 0)
		goto fail;
	return ds;
fail:
	digest_free(ds);
	return NULL;
}

int digest_reset(struct digest_set *ds)
{
	size_t i;

	if (ds->xxh3)
		XXH3_64bits_reset(ds->xxh3);
	if (ds->xxh128)
		XXH3_128bits_reset(ds->xxh128);
	if (ds->xxh64)
		XXH64_reset(ds->xxh64, 0);
	for (i = 0; i < N_DIGESTS; i++)
		if (ds->ctx[i] && !EVP_DigestInit_ex2(ds->ctx[i], ds->md[i],
						      NULL))
			return -EINVAL;
	return 0;
}

void digest_update(struct digest_set *ds, const void *data, size_t len)
{
	size_t i;

	if (ds->xxh3)
		XXH3_64bits_update(ds->xxh3, data, len);
	if (ds->xxh128)
		XXH3_128bits_update(ds->xxh128, data, len);
	if (ds->xxh64)
		XXH64_update(ds->xxh64, data, len);
	for (i = 0; i < N_DIGESTS; i++)
		if (ds->ctx[i])
			EVP_DigestUpdate(ds->ctx[i], data, len);
}

static void put_hex(struct arena *a, struct mx_value *obj, const char *name,
		    const unsigned char *bytes, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char buf[2 * EVP_MAX_MD_SIZE];
	size_t i;

	for (i = 0; i < len; i++) {
		buf[2 * i] = hex[bytes[i] >> 4];
		buf[2 * i + 1] = hex[bytes[i] & 15];
	}
	val_put(a, obj, name, val_string(a, buf, 2 * len));
}

void digest_finish(struct digest_set *ds, struct arena *a,
		   struct mx_value *obj)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len;
	size_t i;

	for (i = 0; i < N_DIGESTS; i++) {
		unsigned bit = digests[i].bit;

		if (!(ds->mask & bit))
			continue;
		if (bit == MX_DIGEST_XXH3) {
			XXH64_canonical_t c;

			XXH64_canonicalFromHash(&c, XXH3_64bits_digest(ds->xxh3));
			put_hex(a, obj, digests[i].name, c.digest, sizeof(c));
		} else if (bit == MX_DIGEST_XXH128) {
			XXH128_canonical_t c;

			XXH128_canonicalFromHash(&c,
				XXH3_128bits_digest(ds->xxh128));
			put_hex(a, obj, digests[i].name, c.digest, sizeof(c));
		} else if (bit == MX_DIGEST_XXH64) {
			XXH64_canonical_t c;

			XXH64_canonicalFromHash(&c, XXH64_digest(ds->xxh64));
			put_hex(a, obj, digests[i].name, c.digest, sizeof(c));
		} else if (EVP_DigestFinal_ex(ds->ctx[i], md, &md_len)) {
			put_hex(a, obj, digests[i].name, md, md_len);
		}
	}
}

void digest_free(struct digest_set *ds)
{
	size_t i;

	if (!ds)
		return;
	XXH3_freeState(ds->xxh3);
	XXH3_freeState(ds->xxh128);
	XXH64_freeState(ds->xxh64);
	for (i = 0; i < N_DIGESTS; i++) {
		EVP_MD_CTX_free(ds->ctx[i]);
		EVP_MD_free(ds->md[i]);
	}
	alloc_free(ds);
}
