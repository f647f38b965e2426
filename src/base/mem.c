/*
 * mem.c - checked allocation with a failure-injection hook for tests.
 */
#include "base/mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Allocations left before they fail; -1: never. Atomic: training and
 * predict allocate on two threads while a test counts down. */
static atomic_long fail_after = -1;

static int should_fail(void)
{
	long n = atomic_load_explicit(&fail_after, memory_order_relaxed);
	while (n > 0 && !atomic_compare_exchange_weak(&fail_after, &n, n - 1))
		;
	if (n != 0)
		return 0; /* -1: not counting; > 0: taken one */
	errno = ENOMEM;
	return 1;
}

void mem_set_fail_after(long n)
{
	atomic_store(&fail_after, n);
}

void *mem_malloc(size_t size)
{
	void *p;
	if (should_fail())
		return NULL;
	p = malloc(size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *mem_calloc(size_t n, size_t size)
{
	void *p;
	if (should_fail())
		return NULL;
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

void *mem_reallocarray(void *ptr, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return mem_realloc(ptr, n * size);
}

void *mem_realloc(void *ptr, size_t size)
{
	void *p;
	if (should_fail())
		return NULL;
	p = realloc(ptr, size ? size : 1);
	if (!p)
		errno = ENOMEM;
	return p;
}

char *mem_strndup(const char *s, size_t n)
{
	char *p = mem_malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *mem_strdup(const char *s)
{
	return mem_strndup(s, strlen(s));
}

void mem_free(void *ptr)
{
	free(ptr);
}
