/*
 * hash.h - sha256 through OpenSSL libcrypto.
 */
#ifndef KILN_BASE_HASH_H
#define KILN_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HASH_SHA256_LEN 32
#define HASH_SHA256_HEX 65 /* 64 hex digits and a NUL */

void hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN]);
/* Lowercase hex of a digest into out (HASH_SHA256_HEX bytes). */
void hash_hex(const unsigned char *digest, size_t len, char *out);
/*
 * sha256 of what fd reads from where it is to its end, as hex, and the byte
 * count into *size (may be NULL); what names the input in errors.
 */
int hash_sha256_fd(int fd, const char *what, char out[HASH_SHA256_HEX], uint64_t *size,
		   struct err *err);
/* sha256 of a file's bytes, as hex. */
int hash_sha256_file(const char *path, char out[HASH_SHA256_HEX], struct err *err);

#endif
