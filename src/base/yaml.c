/* A small YAML document tree over libyaml's event parser: scalars, sequences and mappings with
 * the line and column of every node, so a configuration loader can name where a bad value sits.
 * Anchors and aliases are resolved by sharing nodes; nesting and expanded size are capped. */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* A collection being filled: children gather in a heap vector, copied to the arena on close. */
typedef struct {
    odin_yaml_node *node;
    odin_yaml_node **kids;
    size_t n, cap;
    char *anchor; /* arena copy, registered when the collection closes */
} yaml_frame;

typedef struct {
    const char *name;
    odin_yaml_node *node;
} yaml_anchor;

typedef struct {
    odin_yaml_doc *doc;
    const char *name;
    odin_err *err;
    yaml_frame stack[ODIN_YAML_MAX_DEPTH];
    size_t depth;
    yaml_anchor *anchors;
    size_t nanchors, anchors_cap;
    odin_yaml_node *root;
} yaml_builder;

static odin_yaml_node *node_new(yaml_builder *b, odin_yaml_kind kind, yaml_mark_t mark)
{
    odin_yaml_node *n = odin_arena_zalloc(&b->doc->arena, sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    n->kind = kind;
    n->line = mark.line + 1;
    n->col = mark.column + 1;
    n->weight = 1;
    return n;
}

static int add_anchor(yaml_builder *b, const char *name, odin_yaml_node *n)
{
    if (name == NULL) {
        return 0;
    }
    if (b->nanchors == b->anchors_cap) {
        b->anchors_cap = b->anchors_cap ? b->anchors_cap * 2 : 8;
        b->anchors = odin_realloc(b->anchors, b->anchors_cap * sizeof(*b->anchors));
    }
    /* A later anchor of the same name shadows the earlier one, as YAML says. */
    b->anchors[b->nanchors++] = (yaml_anchor){name, n};
    return 0;
}

static odin_yaml_node *find_anchor(const yaml_builder *b, const char *name)
{
    for (size_t i = b->nanchors; i > 0; i--) {
        if (strcmp(b->anchors[i - 1].name, name) == 0) {
            return b->anchors[i - 1].node;
        }
    }
    return NULL;
}

/* Hangs a finished node under the open collection, or makes it the root. */
static int attach(yaml_builder *b, odin_yaml_node *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    yaml_frame *f = &b->stack[b->depth - 1];
    if (n->weight > ODIN_YAML_MAX_NODES - f->node->weight) {
        return odin_err_set(b->err, ODIN_ERR_LIMIT,
                            "%s:%zu:%zu: yaml: document expands to more "
                            "than %d nodes",
                            b->name, n->line, n->col, ODIN_YAML_MAX_NODES);
    }
    f->node->weight += n->weight;
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->kids = odin_realloc(f->kids, f->cap * sizeof(*f->kids));
    }
    f->kids[f->n++] = n;
    return 0;
}

static int oom(yaml_builder *b)
{
    return odin_err_set(b->err, ODIN_ERR_LIMIT, "%s: yaml: document too large", b->name);
}

static char *arena_name(yaml_builder *b, const yaml_char_t *s)
{
    return s ? odin_arena_strdup(&b->doc->arena, (const char *)s) : NULL;
}

static int on_scalar(yaml_builder *b, const yaml_event_t *ev)
{
    odin_yaml_node *n = node_new(b, ODIN_YAML_SCALAR, ev->start_mark);
    if (n == NULL) {
        return oom(b);
    }
    n->len = ev->data.scalar.length;
    n->s = odin_arena_strndup(&b->doc->arena, (const char *)ev->data.scalar.value, n->len);
    if (n->s == NULL) {
        return oom(b);
    }
    const char *tag = (const char *)ev->data.scalar.tag;
    n->quoted =
        ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (tag && strcmp(tag, YAML_NULL_TAG) == 0) {
        n->kind = ODIN_YAML_NULL;
    }
    const yaml_char_t *anchor = ev->data.scalar.anchor;
    if (anchor && add_anchor(b, arena_name(b, anchor), n) < 0) {
        return -ODIN_ERR_LIMIT;
    }
    return attach(b, n);
}

static int on_start(yaml_builder *b, const yaml_event_t *ev, odin_yaml_kind kind)
{
    if (b->depth == ODIN_YAML_MAX_DEPTH) {
        return odin_err_set(b->err, ODIN_ERR_LIMIT, "%s:%zu:%zu: yaml: nesting deeper than %d",
                            b->name, (size_t)ev->start_mark.line + 1,
                            (size_t)ev->start_mark.column + 1, ODIN_YAML_MAX_DEPTH);
    }
    odin_yaml_node *n = node_new(b, kind, ev->start_mark);
    if (n == NULL) {
        return oom(b);
    }
    const yaml_char_t *anchor =
        kind == ODIN_YAML_SEQ ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
    yaml_frame *f = &b->stack[b->depth++];
    *f = (yaml_frame){.node = n, .anchor = arena_name(b, anchor)};
    return 0;
}

static int on_end(yaml_builder *b)
{
    ODIN_ASSERT(b->depth > 0); /* libyaml pairs every end event with a start */
    yaml_frame *f = &b->stack[--b->depth];
    odin_yaml_node *n = f->node;
    n->n = n->kind == ODIN_YAML_MAP ? f->n / 2 : f->n;
    if (f->n) {
        n->v = odin_arena_alloc(&b->doc->arena, f->n * sizeof(*n->v));
        if (n->v == NULL) {
            free(f->kids);
            return oom(b);
        }
        memcpy(n->v, f->kids, f->n * sizeof(*n->v));
    }
    free(f->kids);
    f->kids = NULL;
    if (f->anchor && add_anchor(b, f->anchor, n) < 0) {
        return -ODIN_ERR_LIMIT;
    }
    return attach(b, n);
}

static int on_alias(yaml_builder *b, const yaml_event_t *ev)
{
    odin_yaml_node *n = find_anchor(b, (const char *)ev->data.alias.anchor);
    if (n == NULL) {
        return odin_err_set(b->err, ODIN_ERR_PARSE, "%s:%zu:%zu: yaml: unknown anchor %.64s",
                            b->name, (size_t)ev->start_mark.line + 1,
                            (size_t)ev->start_mark.column + 1, (const char *)ev->data.alias.anchor);
    }
    return attach(b, n);
}

/* Returns 1 when the first document is complete, 0 to go on, or a negative code. */
static int on_event(yaml_builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, ODIN_YAML_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, ODIN_YAML_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    case YAML_ALIAS_EVENT:
        return on_alias(b, ev);
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
        /* matches Go's yaml.Unmarshal: only the first document is read */
        return 1;
    default:
        return 0;
    }
}

static int parse_error(yaml_builder *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed document";
    if (p->context) {
        return odin_err_set(b->err, ODIN_ERR_PARSE, "%s:%zu:%zu: yaml: %s %s", b->name,
                            (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1,
                            p->context, problem);
    }
    return odin_err_set(b->err, ODIN_ERR_PARSE, "%s:%zu:%zu: yaml: %s", b->name,
                        (size_t)p->problem_mark.line + 1, (size_t)p->problem_mark.column + 1,
                        problem);
}

int odin_yaml_parse(odin_yaml_doc *doc, const char *text, size_t len, const char *name,
                    odin_err *err)
{
    /* nodes cost ~80 bytes; the cap keeps a hostile file from eating memory */
    odin_arena_init(&doc->arena, 256u * 1024 * 1024);
    doc->root = NULL;
    yaml_builder b = {.doc = doc, .name = name, .err = err};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        return odin_err_set(err, ODIN_ERR_INTERNAL, "%s: yaml: parser init failed", name);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    while (rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parse_error(&b, &p);
            break;
        }
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    while (b.depth > 0) {
        free(b.stack[--b.depth].kids);
    }
    free(b.anchors);
    yaml_parser_delete(&p);
    if (rc < 0) {
        return rc;
    }
    doc->root = b.root;
    return 0;
}

void odin_yaml_doc_fini(odin_yaml_doc *doc)
{
    odin_arena_fini(&doc->arena);
    doc->root = NULL;
}

bool odin_yaml_is_null(const odin_yaml_node *n)
{
    if (n == NULL || n->kind == ODIN_YAML_NULL) {
        return true;
    }
    if (n->kind != ODIN_YAML_SCALAR || n->quoted) {
        return false;
    }
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < ODIN_ARRAY_LEN(nulls); i++) {
        if (n->len == strlen(nulls[i]) && memcmp(n->s, nulls[i], n->len) == 0) {
            return true;
        }
    }
    return false;
}

const odin_yaml_node *odin_yaml_get(const odin_yaml_node *n, const char *key)
{
    if (n == NULL || n->kind != ODIN_YAML_MAP) {
        return NULL;
    }
    size_t klen = strlen(key);
    for (size_t i = 0; i < n->n; i++) {
        const odin_yaml_node *k = n->v[2 * i];
        if (k->kind == ODIN_YAML_SCALAR && k->len == klen && memcmp(k->s, key, klen) == 0) {
            return n->v[2 * i + 1];
        }
    }
    return NULL;
}
