/* libyaml, loaded on first use: defines the yaml_* functions Odin calls and forwards them to
 * libyaml-0.so.2 opened with dlopen, so roles that read no YAML (the agent) never map it. */
#include <yaml.h>

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "base/base.h"
#include "base/dl.h"

#ifndef LIBYAML_SONAME /* overridable to test the path where the library is missing */
#define LIBYAML_SONAME "libyaml-0.so.2"
#endif

static struct {
    int (*parser_initialize)(yaml_parser_t *);
    void (*parser_delete)(yaml_parser_t *);
    void (*parser_set_input_string)(yaml_parser_t *, const unsigned char *, size_t);
    int (*parser_parse)(yaml_parser_t *, yaml_event_t *);
    int (*parser_load)(yaml_parser_t *, yaml_document_t *);
    void (*event_delete)(yaml_event_t *);
    void (*document_delete)(yaml_document_t *);
    yaml_node_t *(*document_get_node)(yaml_document_t *, int);
    yaml_node_t *(*document_get_root_node)(yaml_document_t *);
} real;

static const odin_dl_sym syms[] = {
    {"yaml_parser_initialize", (void **)&real.parser_initialize},
    {"yaml_parser_delete", (void **)&real.parser_delete},
    {"yaml_parser_set_input_string", (void **)&real.parser_set_input_string},
    {"yaml_parser_parse", (void **)&real.parser_parse},
    {"yaml_parser_load", (void **)&real.parser_load},
    {"yaml_event_delete", (void **)&real.event_delete},
    {"yaml_document_delete", (void **)&real.document_delete},
    {"yaml_document_get_node", (void **)&real.document_get_node},
    {"yaml_document_get_root_node", (void **)&real.document_get_root_node},
};

static odin_dl_lib lib = ODIN_DL_LIB(LIBYAML_SONAME, syms, NULL);

static bool have_yaml(void)
{
    return odin_dl_ensure(&lib);
}

/* Without the library, a parser initializes to an inert state and its first parse fails with
 * lib.error as the problem, so callers report it where they report a syntax error. */
static int nolib_fail(yaml_parser_t *parser)
{
    parser->error = YAML_READER_ERROR;
    parser->problem = lib.error;
    parser->context = NULL;
    return 0;
}

int yaml_parser_initialize(yaml_parser_t *parser)
{
    if (have_yaml()) {
        return real.parser_initialize(parser);
    }
    memset(parser, 0, sizeof *parser);
    return 1;
}

void yaml_parser_delete(yaml_parser_t *parser)
{
    if (have_yaml()) {
        real.parser_delete(parser);
    } else {
        memset(parser, 0, sizeof *parser);
    }
}

void yaml_parser_set_input_string(yaml_parser_t *parser, const unsigned char *input, size_t size)
{
    if (have_yaml()) {
        real.parser_set_input_string(parser, input, size);
    }
}

int yaml_parser_parse(yaml_parser_t *parser, yaml_event_t *event)
{
    if (have_yaml()) {
        return real.parser_parse(parser, event);
    }
    memset(event, 0, sizeof *event);
    return nolib_fail(parser);
}

int yaml_parser_load(yaml_parser_t *parser, yaml_document_t *document)
{
    if (have_yaml()) {
        return real.parser_load(parser, document);
    }
    memset(document, 0, sizeof *document);
    return nolib_fail(parser);
}

void yaml_event_delete(yaml_event_t *event)
{
    if (have_yaml()) {
        real.event_delete(event);
    } else {
        memset(event, 0, sizeof *event);
    }
}

void yaml_document_delete(yaml_document_t *document)
{
    if (have_yaml()) {
        real.document_delete(document);
    } else {
        memset(document, 0, sizeof *document);
    }
}

yaml_node_t *yaml_document_get_node(yaml_document_t *document, int index)
{
    return have_yaml() ? real.document_get_node(document, index) : NULL;
}

yaml_node_t *yaml_document_get_root_node(yaml_document_t *document)
{
    return have_yaml() ? real.document_get_root_node(document) : NULL;
}
