/*
 * pq.c - libpq, loaded on the first call (the PostgreSQL metadata store).
 * Defines the PQ* functions kiln uses, with libpq-fe.h's own prototypes,
 * each forwarding to the library's.
 *
 * These definitions cannot capture libpq's own calls: kiln is linked without
 * -rdynamic and without -lpq, so nothing linked at build time refers to these
 * names, ld leaves them out of kiln's dynamic symbol table, and libpq (opened
 * RTLD_LOCAL) binds its internal calls to itself.
 */
#include <libpq-fe.h>
#include <stddef.h>

#include "dyn/dyn.h"

#ifndef KILN_SONAME_PQ
#error "KILN_SONAME_PQ is set by the Makefile from libpq.so's SONAME"
#endif

#define PQ_FUNCTIONS(X)                                                                            \
	X(PQconnectdb)                                                                             \
	X(PQstatus)                                                                                \
	X(PQerrorMessage)                                                                          \
	X(PQsetNoticeProcessor)                                                                    \
	X(PQfinish)                                                                                \
	X(PQexec)                                                                                  \
	X(PQexecParams)                                                                            \
	X(PQprepare)                                                                               \
	X(PQexecPrepared)                                                                          \
	X(PQresultStatus)                                                                          \
	X(PQresultErrorField)                                                                      \
	X(PQntuples)                                                                               \
	X(PQgetvalue)                                                                              \
	X(PQgetisnull)                                                                             \
	X(PQcmdTuples)                                                                             \
	X(PQclear)

DYN_SHIM(PQ_FUNCTIONS, KILN_SONAME_PQ, KILN_PACKAGE_PQ)

/*
 * Without the library, PQconnectdb returns what libpq returns for a failed
 * connection: a connection in CONNECTION_BAD whose PQerrorMessage says why
 * ("libpq.so.5 could not be loaded", after the logged line). It is this placeholder, never
 * dereferenced; every other function sees only it or NULL, and fails as libpq does on a bad
 * connection (NULL result, PGRES_FATAL_ERROR).
 */
static _Alignas(max_align_t) char bad_conn;
static char empty[1];

DYN_FWD(PGconn *, PQconnectdb, (PGconn *)(void *)&bad_conn, (const char *conninfo), (conninfo))
DYN_FWD(ConnStatusType, PQstatus, CONNECTION_BAD, (const PGconn *c), (c))
DYN_FWD(char *, PQerrorMessage, lib.brief, (const PGconn *c), (c))
DYN_FWD(PQnoticeProcessor, PQsetNoticeProcessor, NULL,
	(PGconn * c, PQnoticeProcessor proc, void *arg), (c, proc, arg))
DYN_VOID(PQfinish, (PGconn * c), (c))
DYN_FWD(PGresult *, PQexec, NULL, (PGconn * c, const char *query), (c, query))
DYN_FWD(PGresult *, PQexecParams, NULL,
	(PGconn * c, const char *command, int n, const Oid *types, const char *const *values,
	 const int *lengths, const int *formats, int result_format),
	(c, command, n, types, values, lengths, formats, result_format))
DYN_FWD(PGresult *, PQprepare, NULL,
	(PGconn * c, const char *name, const char *query, int n, const Oid *types),
	(c, name, query, n, types))
DYN_FWD(PGresult *, PQexecPrepared, NULL,
	(PGconn * c, const char *name, int n, const char *const *values, const int *lengths,
	 const int *formats, int result_format),
	(c, name, n, values, lengths, formats, result_format))
DYN_FWD(ExecStatusType, PQresultStatus, PGRES_FATAL_ERROR, (const PGresult *r), (r))
DYN_FWD(char *, PQresultErrorField, NULL, (const PGresult *r, int code), (r, code))
DYN_FWD(int, PQntuples, 0, (const PGresult *r), (r))
DYN_FWD(char *, PQgetvalue, NULL, (const PGresult *r, int row, int col), (r, row, col))
DYN_FWD(int, PQgetisnull, 1, (const PGresult *r, int row, int col), (r, row, col))
DYN_FWD(char *, PQcmdTuples, empty, (PGresult * r), (r))
DYN_VOID(PQclear, (PGresult * r), (r))
