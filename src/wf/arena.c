/*
 * arena.c - bump allocator for memory freed all at once (a parsed workflow
 * and its YAML tree). Not for long-lived objects that are freed one by one.
 */
#include "wf/internal.h"

#include "base/mem.h"

#include <errno.h>
#include <string.h>

#define ARENA_CHUNK 16384

struct wf__arena_chunk {
	struct wf__arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

void *wf__arena_alloc(struct wf__arena *a, size_t size)
{
	struct wf__arena_chunk *c = a->head;
	size_t need = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t);
	void *p;

	if (need == 0)
		need = 1;

	if (size > ((size_t)1 << 30)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!c || c->cap - c->used < need) {
		size_t cap = ARENA_CHUNK / sizeof(max_align_t);
		if (need > cap)
			cap = need;
		c = mem_malloc(sizeof(*c) + cap * sizeof(max_align_t));
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = &c->data[c->used];
	c->used += need;
	memset(p, 0, size);
	return p;
}

char *wf__arena_strndup(struct wf__arena *a, const char *s, size_t n)
{
	char *p = wf__arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void wf__arena_release(struct wf__arena *a)
{
	while (a->head) {
		struct wf__arena_chunk *next = a->head->next;
		mem_free(a->head);
		a->head = next;
	}
}
