/* The listening socket both server backends serve on: Go's host:port forms, IPv4 and IPv6, every
 * interface of both families on one socket where the kernel allows it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server_int.h"

/* Splits "host:port", ":port" or "[v6]:port" (Go's net.SplitHostPort rules) into a host copied
 * into `host` (empty for all interfaces) and a port. */
static int split_host_port(const char *addr, char *host, size_t host_cap, uint16_t *port,
                           odin_err *err)
{
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing ']'",
                                addr);
        }
        if (end[1] != ':') {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing port",
                                addr);
        }
        h = addr + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": missing port",
                                addr);
        }
        hlen = (size_t)(colon - addr);
        if (memchr(addr, ':', hlen) != NULL) {
            return odin_err_set(err, ODIN_ERR_INVALID,
                                "listen address \"%.64s\": too many colons (use [v6]:port)", addr);
        }
    }
    if (hlen >= host_cap) {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen address \"%.64s\": host too long", addr);
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    uint64_t p = 0;
    if (odin_parse_u64(odin_str_c(colon + 1), &p) < 0 || p > 65535) {
        return odin_err_set(err, ODIN_ERR_INVALID,
                            "listen address \"%.64s\": port must be a number from 0 to 65535",
                            addr);
    }
    *port = (uint16_t)p;
    return 0;
}

/* Socket bound and listening on sa, or -errno. */
static int bind_listen(const struct sockaddr *sa, socklen_t salen, bool dual_stack)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    /* As Go does: a restarted server can bind while old connections sit in TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) {
        int v6only = dual_stack ? 0 : 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    if (bind(fd, sa, salen) < 0 || listen(fd, SOMAXCONN) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* Listening socket for "host:port"; an empty or unspecified host means every interface, IPv6 and
 * IPv4 on one socket where the kernel allows it. Returns the fd or a negative code with err
 * naming addr. */
int http_listen_open(const char *addr, odin_err *err)
{
    if (addr == NULL || addr[0] == '\0') {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen address is empty");
    }
    char host[256];
    uint16_t port = 0;
    int rc = split_host_port(addr, host, sizeof host, &port, err);
    if (rc < 0) {
        return rc;
    }
    /* Matches Go's net.Listen("tcp"), which Prometheus and node_exporter use: an empty host or
     * a literal unspecified address listens on every interface of both families. */
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                                   .sin6_addr = IN6ADDR_ANY_INIT};
        int fd = bind_listen((struct sockaddr *)&sa6, sizeof sa6, true);
        if (fd == -EAFNOSUPPORT) {
            /* IPv6 disabled in this kernel or namespace. */
            struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(port),
                                      .sin_addr.s_addr = htonl(INADDR_ANY)};
            fd = bind_listen((struct sockaddr *)&sa4, sizeof sa4, false);
        }
        if (fd < 0) {
            return odin_err_errno(err, -fd, "listen tcp %.64s", addr);
        }
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        return odin_err_set(err, ODIN_ERR_INVALID, "listen tcp %.64s: %s", addr,
                            gai == EAI_SYSTEM ? "lookup failed" : gai_strerror(gai));
    }
    int fd = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons(port);
        } else if (ai->ai_family == AF_INET6) {
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons(port);
        } else {
            continue;
        }
        fd = bind_listen(ai->ai_addr, ai->ai_addrlen, false);
    }
    freeaddrinfo(res);
    if (fd < 0) {
        return odin_err_errno(err, -fd, "listen tcp %.64s", addr);
    }
    return fd;
}

int http_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}
