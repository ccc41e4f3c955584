/* Unit tests for src/agent/node/os.c: the kept os-release text follows the file when it is
 * rewritten, replaced by rename or removed, through a real agent with only the os collector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above first */
#include <cmocka.h>

#include "agent/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* The scrape's text, in heap memory the caller frees. */
static char *scrape(agent *ag)
{
    odin_strbuf out;
    odin_strbuf_init(&out, 1 << 20);
    agent_scrape_text(ag, &out);
    char *s = strdup(out.p ? out.p : "");
    odin_strbuf_fini(&out);
    return s;
}

static void expect(agent *ag, const char *want, const char *step)
{
    char *body = scrape(ag);
    if (!strstr(body, want)) {
        fail_msg("%s: no %s in:\n%s", step, want, body);
    }
    free(body);
}

static void test_release_file_followed(void **state)
{
    (void)state;
    char root[] = "/tmp/odin-os-XXXXXX";
    assert_non_null(mkdtemp(root));
    char etc[64], path[96], tmp[96], flag[96];
    snprintf(etc, sizeof etc, "%s/etc", root);
    assert_int_equal(mkdir(etc, 0700), 0);
    snprintf(path, sizeof path, "%s/os-release", etc);
    snprintf(tmp, sizeof tmp, "%s/os-release.new", etc);
    snprintf(flag, sizeof flag, "--path.rootfs=%s", root);
    write_file(path, "NAME=\"One\"\nID=one\nVERSION_ID=1\n");
    char *argv[] = {"agent", "--collector.disable-defaults", "--collector.os", flag};
    odin_err err = {0};
    agent *ag = agent_new(4, argv, &err);
    assert_non_null(ag);
    expect(ag, "name=\"One\"", "first read");
    expect(ag, "name=\"One\"", "kept");
    /* rewritten in place; another size, as a same-size rewrite within one tick of the kernel's
     * file-time clock keeps its mtime (node_exporter, which compares mtime alone, misses it too) */
    write_file(path, "NAME=\"Twenty\"\nID=two\nVERSION_ID=2\n");
    expect(ag, "name=\"Twenty\"", "rewritten");
    write_file(tmp, "NAME=\"Three\"\nID=three\nVERSION_ID=3\n");
    assert_int_equal(rename(tmp, path), 0);
    expect(ag, "name=\"Three\"", "replaced by rename");
    unlink(path);
    expect(ag, "node_scrape_collector_success{collector=\"os\"} 0", "removed");
    agent_free(ag);
    rmdir(etc);
    rmdir(root);
}

int agent_os_tests(void); /* called from main.c */

int agent_os_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_file_followed),
    };
    return cmocka_run_group_tests_name("agent_os", tests, NULL, NULL);
}
