/* libFuzzer target for the web config file reader (src/http/webconfig.c) over the YAML tree: any
 * input is refused with a message or gives settings whose claims hold (bcrypt-shaped hashes,
 * known header values, a TLS priority string when TLS is on). The certificate files are not read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_web_settings s;
    odin_err err = {0};
    int rc = http_web_settings_parse((const char *)data, size, "fuzz.yml", false, &s, &err);
    if (rc < 0) {
        check(err.msg[0] != '\0');
        return 0;
    }
    for (size_t i = 0; i < s.nusers; i++) {
        check(strlen(s.users[i].hash) == 60 && s.users[i].hash[0] == '$');
    }
    for (size_t i = 0; i < HTTP_WEB_MAX_HEADERS; i++) {
        check(s.header_values[i] == NULL || strpbrk(s.header_values[i], "\r\n") == NULL);
    }
    check(!s.tls || (s.tls_priorities != NULL && strncmp(s.tls_priorities, "NORMAL:", 7) == 0));
    check(s.rate_burst >= 0);
    http_web_settings_fini(&s);
    return 0;
}
