/* Unit tests for src/scrape/config_paths.c: relative file names in prometheus.yml resolve against
 * the config file's directory at load (Prometheus' SetDirectory); absolute ones stay. */
#include <cmocka.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int scrape_config_paths_tests(void);

static const char config_text[] =
    "scrape_configs:\n"
    "  - job_name: a\n"
    "    tls_config: {ca_file: ca.pem, cert_file: ./certs/c.pem, key_file: /abs/k.pem}\n"
    "    basic_auth: {username: u, password_file: secrets/pw}\n"
    "    file_sd_configs: [{files: ['sd/*.json', '/etc/sd/x.yml']}]\n"
    "  - job_name: b\n"
    "    bearer_token_file: token\n"
    "  - job_name: c\n"
    "    authorization: {credentials_file: ../creds}\n"
    "alerting:\n"
    "  alertmanagers:\n"
    "    - tls_config: {ca_file: am-ca.pem}\n"
    "      file_sd_configs: [{files: [am.json]}]\n"
    "remote_write:\n"
    "  - url: http://127.0.0.1:1/api/v1/write\n"
    "    tls_config: {cert_file: rw.pem, key_file: rw.key}\n"
    "rule_files: [rules/*.yml]\n";

/* Writes config_text to dir/prometheus.yml and loads it by `path`. */
static scrape_config *load_at(const char *dir, const char *path)
{
    odin_strbuf f;
    odin_strbuf_init(&f, 0);
    odin_strbuf_printf(&f, "%s/prometheus.yml", dir);
    FILE *fp = fopen(f.p, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(config_text, 1, sizeof config_text - 1, fp), sizeof config_text - 1);
    fclose(fp);
    odin_strbuf_fini(&f);
    odin_err err;
    odin_err_clear(&err);
    scrape_config *c = scrape_config_load(path, &err);
    if (c == NULL) {
        fail_msg("load %s: %s", path, err.msg);
    }
    return c;
}

typedef struct {
    const char *name;
    const char *(*get)(const scrape_config *c);
    const char *want;    /* "%D" stands for the config's directory */
    const char *written; /* as in the file, where it differs from want without "%D/" */
} path_case;

static const char *ca(const scrape_config *c)
{
    return c->jobs[0].http.tls.ca_file;
}
static const char *cert(const scrape_config *c)
{
    return c->jobs[0].http.tls.cert_file;
}
static const char *key(const scrape_config *c)
{
    return c->jobs[0].http.tls.key_file;
}
static const char *pw(const scrape_config *c)
{
    return c->jobs[0].http.basic_password_file;
}
static const char *sd0(const scrape_config *c)
{
    return c->jobs[0].sd.files[0].files[0];
}
static const char *sd1(const scrape_config *c)
{
    return c->jobs[0].sd.files[0].files[1];
}
static const char *bearer(const scrape_config *c)
{
    return c->jobs[1].http.auth_credentials_file;
}
static const char *creds(const scrape_config *c)
{
    return c->jobs[2].http.auth_credentials_file;
}
static const char *am_ca(const scrape_config *c)
{
    return c->alertmanagers[0].http.tls.ca_file;
}
static const char *am_sd(const scrape_config *c)
{
    return c->alertmanagers[0].sd.files[0].files[0];
}
static const char *rw_cert(const scrape_config *c)
{
    return c->remote_write[0].http.tls.cert_file;
}
static const char *rw_key(const scrape_config *c)
{
    return c->remote_write[0].http.tls.key_file;
}
static const char *rules(const scrape_config *c)
{
    return c->rule_files[0];
}

static const path_case cases[] = {
    {"tls ca_file", ca, "%D/ca.pem", NULL},
    {"tls cert_file with ./", cert, "%D/certs/c.pem", "./certs/c.pem"},
    {"absolute key_file", key, "/abs/k.pem", NULL},
    {"basic_auth password_file", pw, "%D/secrets/pw", NULL},
    {"file_sd glob", sd0, "%D/sd/*.json", NULL},
    {"absolute file_sd", sd1, "/etc/sd/x.yml", NULL},
    {"bearer_token_file", bearer, "%D/token", NULL},
    {"credentials_file with ..", creds, "%D/../creds", NULL},
    {"alertmanager ca_file", am_ca, "%D/am-ca.pem", NULL},
    {"alertmanager file_sd", am_sd, "%D/am.json", NULL},
    {"remote_write cert_file", rw_cert, "%D/rw.pem", NULL},
    {"remote_write key_file", rw_key, "%D/rw.key", NULL},
    {"rule_files stay as written", rules, "rules/*.yml", NULL},
};

static void check_cases(const scrape_config *c, const char *dir)
{
    for (size_t i = 0; i < ODIN_ARRAY_LEN(cases); i++) {
        odin_strbuf want;
        odin_strbuf_init(&want, 0);
        const char *w = cases[i].want;
        if (strncmp(w, "%D/", 3) == 0) {
            if (dir != NULL) {
                odin_strbuf_printf(&want, "%s/", dir);
                w += 3;
            } else {
                w = cases[i].written != NULL ? cases[i].written : w + 3;
            }
        }
        odin_strbuf_puts(&want, w);
        const char *got = cases[i].get(c);
        if (got == NULL || strcmp(got, want.p) != 0) {
            fail_msg("%s: got %s, want %s", cases[i].name, got ? got : "(null)", want.p);
        }
        odin_strbuf_fini(&want);
    }
}

static void test_absolute_dir(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-cfgpaths-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    odin_strbuf path;
    odin_strbuf_init(&path, 0);
    odin_strbuf_printf(&path, "%s/prometheus.yml", dir);
    scrape_config *c = load_at(dir, path.p);
    check_cases(c, dir);
    scrape_config_free(c);
    unlink(path.p);
    rmdir(dir);
    odin_strbuf_fini(&path);
}

/* A config in the working directory: relative names already mean the right files. */
static void test_working_dir(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/odin-cfgpaths-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(dir), 0);
    scrape_config *c = load_at(".", "prometheus.yml");
    check_cases(c, NULL);
    scrape_config_free(c);
    unlink("prometheus.yml");
    assert_int_equal(chdir(old), 0);
    rmdir(dir);
}

/* Parsing text (no file, e.g. `odin up`'s embedded config) keeps names as written. */
static void test_parse_keeps_paths(void **state)
{
    (void)state;
    odin_err err;
    odin_err_clear(&err);
    scrape_config *c = scrape_config_parse(config_text, sizeof config_text - 1, "/x/y.yml", &err);
    assert_non_null(c);
    check_cases(c, NULL);
    scrape_config_free(c);
}

int scrape_config_paths_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_dir),
        cmocka_unit_test(test_working_dir),
        cmocka_unit_test(test_parse_keeps_paths),
    };
    return cmocka_run_group_tests_name("scrape/config_paths", tests, NULL, NULL);
}
