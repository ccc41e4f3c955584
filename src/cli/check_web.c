/* `odin check web-config FILE...`: promtool's check of exporter-toolkit web config files, with
 * the checks the HTTP server applies when it starts (http_web_config_check). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "http/http.h"

int cli_check_web_config_main(int argc, char **argv)
{
    int status = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: odin check web-config FILE...\n"
                   "Validates web configuration files (--web.config.file).\n");
            return 0;
        }
        files++;
        odin_err err = {0};
        if (http_web_config_check(argv[i], NULL, &err) < 0) {
            fprintf(stderr, "%s FAILED: %s\n", argv[i], err.msg);
            status = 1;
        } else {
            printf("%s SUCCESS\n", argv[i]);
        }
    }
    if (files == 0) {
        fprintf(stderr, "usage: odin check web-config FILE...\n");
        return 1;
    }
    return status;
}
