/*
 * route.c - path patterns: literal text and "{x}" / "{x}SUFFIX" captures of
 * one segment. Pure string work, no allocation; fuzzed by fuzz_http_route.
 */
#include "http/http.h"

#include <string.h>

int http_match(const char *pattern, const char *path, char *scratch, const char **cap, size_t *ncap)
{
	const char *p = pattern, *q = path;
	char *w = scratch;
	size_t n = 0;

	while (*p) {
		const char *close, *suf;
		size_t suflen, seglen, clen;
		if (*p != '{') {
			if (*p != *q)
				return 0;
			p++;
			q++;
			continue;
		}
		close = strchr(p, '}');
		if (!close || n == HTTP_MAX_CAPTURES)
			return 0;
		if (p[1] == '*') {
			/*
			 * A tail capture takes the rest of the path; it must end the
			 * pattern and follow literal text, which keeps what is written
			 * to scratch within strlen(path)+1 bytes.
			 */
			size_t rest = strlen(q);
			if (close[1] != '\0' || p == pattern || p[-1] == '}')
				return 0;
			memcpy(w, q, rest + 1);
			cap[n++] = w;
			*ncap = n;
			return 1;
		}
		suf = close + 1;
		suflen = strcspn(suf, "/");
		seglen = strcspn(q, "/");
		if (seglen <= suflen || memcmp(q + seglen - suflen, suf, suflen) != 0)
			return 0;
		clen = seglen - suflen;
		/* A capture never holds ':', so "a:predict" splits at its last colon. */
		if (memchr(q, ':', clen))
			return 0;
		memcpy(w, q, clen);
		w[clen] = '\0';
		cap[n++] = w;
		w += clen + 1;
		q += seglen;
		p = suf + suflen;
	}
	if (*q)
		return 0;
	*ncap = n;
	return 1;
}
