/*
 * mem.h - checked allocation. Every allocation in kiln goes through here.
 * Size arithmetic is checked for overflow; failure returns NULL with
 * errno = ENOMEM. Tests can install a failing allocator (mem_set_fail_after).
 */
#ifndef KILN_BASE_MEM_H
#define KILN_BASE_MEM_H

#include <stddef.h>

void *mem_malloc(size_t size);
void *mem_calloc(size_t n, size_t size);
/* Like realloc, but n * size is checked; on failure ptr is left untouched. */
void *mem_reallocarray(void *ptr, size_t n, size_t size);
void *mem_realloc(void *ptr, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
void mem_free(void *ptr);

/*
 * Test hook: after n more successful allocations, every allocation fails.
 * n < 0 turns failure injection off. Not thread-safe; tests only.
 */
void mem_set_fail_after(long n);

#endif
