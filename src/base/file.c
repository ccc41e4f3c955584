/* Whole-file reads for configuration and small kernel files. */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int odin_read_file(const char *path, odin_strbuf *buf, size_t cap_bytes, odin_err *err)
{
    odin_strbuf_reset(buf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return odin_err_errno(err, errno, "open %s", path);
    }
    int rc = 0;
    for (;;) {
        char *w = odin_strbuf_reserve(buf, 64 * 1024);
        if (!w || buf->len > cap_bytes) {
            rc = odin_err_set(err, ODIN_ERR_LIMIT, "%s: larger than %zu bytes", path, cap_bytes);
            break;
        }
        ssize_t n = read(fd, w, 64 * 1024);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = odin_err_errno(err, errno, "read %s", path);
            break;
        }
        if (n == 0) {
            break;
        }
        odin_strbuf_advance(buf, (size_t)n);
    }
    close(fd);
    if (rc == 0 && buf->len > cap_bytes) {
        rc = odin_err_set(err, ODIN_ERR_LIMIT, "%s: larger than %zu bytes", path, cap_bytes);
    }
    return rc;
}
