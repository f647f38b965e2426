/*
 * hash.c - sha256 of memory and files.
 */
#include "base/hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

void hash_sha256(const void *data, size_t len, unsigned char out[HASH_SHA256_LEN])
{
	unsigned int n = 0;
	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void hash_hex(const unsigned char *digest, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[2 * len] = '\0';
}

int hash_sha256_file(const char *path, char out[HASH_SHA256_HEX], struct err *err)
{
	unsigned char md[HASH_SHA256_LEN], chunk[65536];
	unsigned int n = 0;
	EVP_MD_CTX *ctx;
	FILE *f = fopen(path, "rb");
	size_t got;
	int ret = -1;
	if (!f)
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		EVP_DigestUpdate(ctx, chunk, got);
	if (ferror(f)) {
		err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, &n);
	hash_hex(md, HASH_SHA256_LEN, out);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	fclose(f);
	return ret;
}
