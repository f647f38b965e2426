/*
 * hash.c - sha256 of memory and files.
 */
#include "base/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int hash_sha256_fd(int fd, const char *what, char out[HASH_SHA256_HEX], uint64_t *size,
		   struct err *err)
{
	uint64_t total = 0;
	unsigned char md[HASH_SHA256_LEN], chunk[65536];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -1;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err_set(err, ERR_IO, "cannot read '%s': %s", what, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		EVP_DigestUpdate(ctx, chunk, (size_t)got);
		total += (uint64_t)got;
	}
	if (size)
		*size = total;
	EVP_DigestFinal_ex(ctx, md, &n);
	hash_hex(md, HASH_SHA256_LEN, out);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

int hash_sha256_file(const char *path, char out[HASH_SHA256_HEX], struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	ret = hash_sha256_fd(fd, path, out, NULL, err);
	close(fd);
	return ret;
}
