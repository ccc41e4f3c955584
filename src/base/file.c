/* Whole-file reads for configuration and small kernel files. */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

/* Depth-first over a directory tree; depth is bounded by the path length (PATH_MAX). */
static int walk(const char *path, bool remove, uint64_t *size)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return -errno;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (S_ISREG(st.st_mode)) {
            *size += (uint64_t)st.st_size;
        }
        return remove && unlink(path) != 0 ? -errno : 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        return -errno;
    }
    int rc = 0;
    struct dirent *de;
    char child[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        int n = snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(child)) {
            rc = -ENAMETOOLONG;
            continue;
        }
        int r = walk(child, remove, size);
        if (r < 0 && rc == 0) {
            rc = r;
        }
    }
    closedir(d);
    if (remove && rmdir(path) != 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

int odin_remove_tree(const char *path)
{
    uint64_t size = 0;
    return walk(path, true, &size);
}

uint64_t odin_tree_size(const char *path)
{
    uint64_t size = 0;
    walk(path, false, &size);
    return size;
}

int odin_write_file_atomic(const char *path, const void *data, size_t len, odin_err *err)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return odin_err_set(err, ODIN_ERR_INVALID, "%s: path too long", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        return odin_err_errno(err, errno, "create %s", tmp);
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return odin_err_errno(err, e, "write %s", tmp);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return odin_err_errno(err, e, "sync %s", tmp);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return odin_err_errno(err, e, "rename %s", tmp);
    }
    return 0;
}
