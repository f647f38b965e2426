/*
 * curl.c - libcurl, loaded on the first call (kiln's HTTP client: server
 * client, S3 and HTTP blob remotes). Defines the curl_* functions kiln uses,
 * with curl.h's own prototypes, each forwarding to the library's.
 *
 * Why these definitions cannot capture libcurl's own calls: kiln is linked
 * without -rdynamic and without -lcurl, so no library linked at build time
 * refers to these names and ld leaves them out of kiln's dynamic symbol
 * table (`nm -D kiln` shows none; tests/e2e/t0002 checks). libcurl, opened
 * RTLD_LOCAL, therefore binds its internal curl_* calls to itself.
 */
#define CURL_DISABLE_TYPECHECK /* curl.h would make curl_easy_setopt a macro */
#include <curl/curl.h>
#include <stdarg.h>

#include "dyn/dyn.h"

#ifndef KILN_SONAME_CURL
#error "KILN_SONAME_CURL is set by the Makefile from libcurl.so's SONAME"
#endif

#define CURL_FUNCTIONS(X)                                                                          \
	X(curl_easy_init)                                                                          \
	X(curl_easy_cleanup)                                                                       \
	X(curl_easy_reset)                                                                         \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_perform)                                                                       \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_strerror)                                                                      \
	X(curl_easy_escape)                                                                        \
	X(curl_free)                                                                               \
	X(curl_slist_append)                                                                       \
	X(curl_slist_free_all)

DYN_SHIM(CURL_FUNCTIONS, KILN_SONAME_CURL, KILN_PACKAGE_CURL)

/* Without the library, no handle or list exists: the rest fail or do nothing. */
DYN_FWD(CURL *, curl_easy_init, NULL, (void), ())
DYN_VOID(curl_easy_cleanup, (CURL * curl), (curl))
DYN_VOID(curl_easy_reset, (CURL * curl), (curl))
DYN_FWD(CURLcode, curl_easy_perform, CURLE_FAILED_INIT, (CURL * curl), (curl))
DYN_FWD(const char *, curl_easy_strerror, lib.brief, (CURLcode code), (code))
DYN_FWD(char *, curl_easy_escape, NULL, (CURL * curl, const char *s, int n), (curl, s, n))
DYN_VOID(curl_free, (void *p), (p))
DYN_FWD(struct curl_slist *, curl_slist_append, NULL, (struct curl_slist * list, const char *s),
	(list, s))
DYN_VOID(curl_slist_free_all, (struct curl_slist * list), (list))

/* Any function pointer type: the option's own type is known only to libcurl. */
typedef void (*curl_any_fn)(void);

/*
 * The option number says the argument's type (curl.h, CURLOPTTYPE_*): read
 * it as that type and pass it on, as libcurl will read it.
 */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
	long type = (long)option;
	CURLcode rc;
	va_list ap;
	if (!ready())
		return CURLE_FAILED_INIT;
	if (type < 0 || type >= CURLOPTTYPE_BLOB + 10000)
		return CURLE_UNKNOWN_OPTION; /* no type to read the argument as */
	va_start(ap, option);
	if (type < CURLOPTTYPE_OBJECTPOINT) /* long, also CURLOPTTYPE_VALUES */
		rc = fn.curl_easy_setopt(curl, option, va_arg(ap, long));
	else if (type < CURLOPTTYPE_FUNCTIONPOINT) /* strings, slists, callback data */
		rc = fn.curl_easy_setopt(curl, option, va_arg(ap, void *));
	else if (type < CURLOPTTYPE_OFF_T)
		rc = fn.curl_easy_setopt(curl, option, va_arg(ap, curl_any_fn));
	else if (type < CURLOPTTYPE_BLOB)
		rc = fn.curl_easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else /* struct curl_blob * */
		rc = fn.curl_easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* type (string, long, double, slist, socket, off_t) is a pointer. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;
	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = fn.curl_easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
