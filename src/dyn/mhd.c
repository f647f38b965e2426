/*
 * mhd.c - libmicrohttpd, loaded on the first call (the HTTP server of
 * `kiln serve` and `kiln server`). Defines the MHD_* functions kiln uses,
 * with microhttpd.h's own prototypes, each forwarding to the library's.
 *
 * These definitions cannot capture libmicrohttpd's own calls: kiln is linked
 * without -rdynamic and without -lmicrohttpd, so nothing linked at build time
 * refers to these names, ld leaves them out of kiln's dynamic symbol table,
 * and the library (opened RTLD_LOCAL) binds its internal calls to itself.
 */
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "dyn/dyn.h"

#ifndef KILN_SONAME_MICROHTTPD
#error "KILN_SONAME_MICROHTTPD is set by the Makefile from libmicrohttpd.so's SONAME"
#endif

#define MHD_FUNCTIONS(X)                                                                           \
	X(MHD_start_daemon_va)                                                                     \
	X(MHD_stop_daemon)                                                                         \
	X(MHD_quiesce_daemon)                                                                      \
	X(MHD_get_daemon_info)                                                                     \
	X(MHD_get_connection_info)                                                                 \
	X(MHD_get_connection_values)                                                               \
	X(MHD_lookup_connection_value)                                                             \
	X(MHD_lookup_connection_value_n)                                                           \
	X(MHD_create_response_from_buffer)                                                         \
	X(MHD_create_response_from_buffer_with_free_callback)                                      \
	X(MHD_create_response_from_fd64)                                                           \
	X(MHD_create_response_from_callback)                                                       \
	X(MHD_add_response_header)                                                                 \
	X(MHD_queue_response)                                                                      \
	X(MHD_destroy_response)

DYN_SHIM(MHD_FUNCTIONS, KILN_SONAME_MICROHTTPD, KILN_PACKAGE_MICROHTTPD)

/* Without the library no daemon starts, so no connection or response exists. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
				    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;
	if (!ready())
		return NULL;
	va_start(ap, dh_cls);
	d = fn.MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

DYN_VOID(MHD_stop_daemon, (struct MHD_Daemon * d), (d))
DYN_FWD(MHD_socket, MHD_quiesce_daemon, MHD_INVALID_SOCKET, (struct MHD_Daemon * d), (d))

/*
 * The two info getters are variadic in the header, but libmicrohttpd 0.9.75
 * reads no argument past info_type for any info type (its code never calls
 * va_start), and kiln passes none: forwarding the two named ones is exact.
 */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *d, enum MHD_DaemonInfoType type,
						...)
{
	return ready() ? fn.MHD_get_daemon_info(d, type) : NULL;
}

const union MHD_ConnectionInfo *MHD_get_connection_info(struct MHD_Connection *c,
							enum MHD_ConnectionInfoType type, ...)
{
	return ready() ? fn.MHD_get_connection_info(c, type) : NULL;
}

DYN_FWD(int, MHD_get_connection_values, -1,
	(struct MHD_Connection * c, enum MHD_ValueKind kind, MHD_KeyValueIterator it, void *cls),
	(c, kind, it, cls))
DYN_FWD(const char *, MHD_lookup_connection_value, NULL,
	(struct MHD_Connection * c, enum MHD_ValueKind kind, const char *key), (c, kind, key))
DYN_FWD(enum MHD_Result, MHD_lookup_connection_value_n, MHD_NO,
	(struct MHD_Connection * c, enum MHD_ValueKind kind, const char *key, size_t key_size,
	 const char **value, size_t *value_size),
	(c, kind, key, key_size, value, value_size))
DYN_FWD(struct MHD_Response *, MHD_create_response_from_buffer, NULL,
	(size_t size, void *buffer, enum MHD_ResponseMemoryMode mode), (size, buffer, mode))
DYN_FWD(struct MHD_Response *, MHD_create_response_from_buffer_with_free_callback, NULL,
	(size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc), (size, buffer, crfc))
DYN_FWD(struct MHD_Response *, MHD_create_response_from_fd64, NULL, (uint64_t size, int fd),
	(size, fd))
DYN_FWD(struct MHD_Response *, MHD_create_response_from_callback, NULL,
	(uint64_t size, size_t block_size, MHD_ContentReaderCallback crc, void *crc_cls,
	 MHD_ContentReaderFreeCallback crfc),
	(size, block_size, crc, crc_cls, crfc))
DYN_FWD(enum MHD_Result, MHD_add_response_header, MHD_NO,
	(struct MHD_Response * r, const char *header, const char *content), (r, header, content))
DYN_FWD(enum MHD_Result, MHD_queue_response, MHD_NO,
	(struct MHD_Connection * c, unsigned int status, struct MHD_Response *r), (c, status, r))
DYN_VOID(MHD_destroy_response, (struct MHD_Response * r), (r))
