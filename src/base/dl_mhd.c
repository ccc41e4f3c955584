/* libmicrohttpd, loaded on first use: defines the MHD_* functions src/http/server_mhd.c calls and
 * forwards them to libmicrohttpd.so.12 opened with dlopen, so a role serving through the small
 * built-in backend (the agent) never maps it nor GnuTLS and the libraries GnuTLS pulls in. */
#include <microhttpd.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/base.h"
#include "base/dl.h"

#ifndef LIBMHD_SONAME /* overridable to test the path where the library is missing */
#define LIBMHD_SONAME "libmicrohttpd.so.12"
#endif

static struct {
    struct MHD_Daemon *(*start_daemon)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                       MHD_AccessHandlerCallback, void *, ...);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *);
    void (*stop_daemon)(struct MHD_Daemon *);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType,
                                                   ...);
    int (*get_connection_values)(struct MHD_Connection *, enum MHD_ValueKind,
                                 MHD_KeyValueIterator, void *);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind,
                                           const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
                                      struct MHD_Response *);
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *,
                                                        enum MHD_ResponseMemoryMode);
    struct MHD_Response *(*create_response_from_buffer_with_free_callback)(
        size_t, void *, MHD_ContentReaderFreeCallback);
    void (*destroy_response)(struct MHD_Response *);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
} real;

static const odin_dl_sym syms[] = {
    {"MHD_start_daemon", (void **)&real.start_daemon},
    {"MHD_quiesce_daemon", (void **)&real.quiesce_daemon},
    {"MHD_stop_daemon", (void **)&real.stop_daemon},
    {"MHD_get_daemon_info", (void **)&real.get_daemon_info},
    {"MHD_get_connection_values", (void **)&real.get_connection_values},
    {"MHD_lookup_connection_value", (void **)&real.lookup_connection_value},
    {"MHD_queue_response", (void **)&real.queue_response},
    {"MHD_create_response_from_buffer", (void **)&real.create_response_from_buffer},
    {"MHD_create_response_from_buffer_with_free_callback",
     (void **)&real.create_response_from_buffer_with_free_callback},
    {"MHD_destroy_response", (void **)&real.destroy_response},
    {"MHD_add_response_header", (void **)&real.add_response_header},
};

static odin_dl_lib lib = ODIN_DL_LIB(LIBMHD_SONAME, syms, NULL);

int odin_mhd_load(char *err, size_t cap)
{
    if (!odin_dl_ensure(&lib)) {
        snprintf(err, cap, "%s", lib.error);
        return -1;
    }
    return 0;
}

static bool have_mhd(void)
{
    return odin_dl_ensure(&lib);
}

/* The forwarders. server_mhd.c calls odin_mhd_load before the first of them, so without the
 * library none runs; each still answers as libmicrohttpd does on failure. */

/* server_mhd.c passes its options as MHD_OPTION_ARRAY, items, MHD_OPTION_END and nothing else;
 * that fixed shape is forwarded (va_list cannot be passed on to a variadic function). */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    if (!have_mhd()) {
        return NULL;
    }
    va_list ap;
    va_start(ap, dh_cls);
    enum MHD_OPTION opt = va_arg(ap, enum MHD_OPTION);
    struct MHD_OptionItem *items = NULL;
    if (opt == MHD_OPTION_ARRAY) {
        items = va_arg(ap, struct MHD_OptionItem *);
    }
    va_end(ap);
    if (opt == MHD_OPTION_END) {
        return real.start_daemon(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_END);
    }
    if (items == NULL) {
        return NULL; /* a shape server_mhd.c never passes */
    }
    return real.start_daemon(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_ARRAY, items,
                             MHD_OPTION_END);
}

MHD_socket MHD_quiesce_daemon(struct MHD_Daemon *daemon)
{
    return have_mhd() ? real.quiesce_daemon(daemon) : MHD_INVALID_SOCKET;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    if (have_mhd()) {
        real.stop_daemon(daemon);
    }
}

/* Forwarded without extra arguments: the info types server_mhd.c asks for take none. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
    return have_mhd() ? real.get_daemon_info(daemon, info_type) : NULL;
}

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls)
{
    return have_mhd() ? real.get_connection_values(connection, kind, iterator, iterator_cls) : 0;
}

const char *MHD_lookup_connection_value(struct MHD_Connection *connection,
                                        enum MHD_ValueKind kind, const char *key)
{
    return have_mhd() ? real.lookup_connection_value(connection, kind, key) : NULL;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return have_mhd() ? real.queue_response(connection, status_code, response) : MHD_NO;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return have_mhd() ? real.create_response_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer_with_free_callback(
    size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc)
{
    return have_mhd() ? real.create_response_from_buffer_with_free_callback(size, buffer, crfc)
                      : NULL;
}

void MHD_destroy_response(struct MHD_Response *response)
{
    if (have_mhd()) {
        real.destroy_response(response);
    }
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return have_mhd() ? real.add_response_header(response, header, content) : MHD_NO;
}
