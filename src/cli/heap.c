/*
 * heap.c - the malloc tuning of the short-lived commands that allocate
 * megabytes (train, predict): fewer page faults, see cli_heap_tuning.
 */
#include "cli/cli.h"

#include "base/mem.h"

#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

/*
 * Training allocates and frees arrays of megabytes one stage after another
 * (frames, feature rows, idf and weight vectors, liblinear's and XGBoost's
 * matrices), and loading a model for predict fills a few MB of weights and
 * idf; every fresh 4 KB page costs a fault: about 2 us on these machines,
 * 2,000 to 5,000 faults per training run, 5-15% of it. So the heap is
 * prepared once: large blocks come from it instead of mmap, freed memory
 * stays there for the next stage, and its first HEAP_MB are backed by
 * transparent huge pages (one fault per 2 MB; THP is "madvise" here). These
 * commands end when done, so nothing is held long; peak RSS grows by 2-4 MB
 * (whole huge pages).
 */
#define HEAP_MB 30 /* one block under the mmap threshold (32 MB), so from the heap */

void cli_heap_tuning(void)
{
	const size_t huge = (size_t)2 << 20, len = (size_t)HEAP_MB << 20;
	char *block;

	/* Best effort throughout: another allocator (a sanitizer's) may refuse,
	 * and results are the same either way. */
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 1 << 30);
	block = mem_malloc(len);
	if (block) {
		uintptr_t from = ((uintptr_t)block + huge - 1) & ~(uintptr_t)(huge - 1);
		uintptr_t to = ((uintptr_t)block + len) & ~(uintptr_t)(huge - 1);
		if (to > from)
			(void)madvise((void *)from, to - from, MADV_HUGEPAGE);
	}
	mem_free(block); /* back into the heap, which keeps it (no trim) */
}
