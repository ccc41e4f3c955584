/* The Kubernetes provider's object cache: the latest version of every object each watch has
 * delivered, by kind and "namespace/name", plus resource names and API paths. No locking here;
 * the provider holds its mutex around every call. */
#include <stdlib.h>
#include <string.h>

#include "discovery/kubernetes.h"

typedef struct {
    const char *name;
    const char *group_prefix; /* "/api/v1" or "/apis/<group>/<version>" */
    bool namespaced;
} resource_info;

static const resource_info resources[K8S_RES_COUNT] = {
    [K8S_RES_NODES] = {"nodes", "/api/v1", false},
    [K8S_RES_PODS] = {"pods", "/api/v1", true},
    [K8S_RES_SERVICES] = {"services", "/api/v1", true},
    [K8S_RES_ENDPOINTS] = {"endpoints", "/api/v1", true},
    [K8S_RES_ENDPOINTSLICES] = {"endpointslices", "/apis/discovery.k8s.io/v1", true},
    [K8S_RES_INGRESSES] = {"ingresses", "/apis/networking.k8s.io/v1", true},
    [K8S_RES_NAMESPACES] = {"namespaces", "/api/v1", false},
};

const char *k8s_resource_name(k8s_resource r)
{
    return resources[r].name;
}

char *k8s_resource_path(k8s_resource r, const char *ns)
{
    const resource_info *ri = &resources[r];
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    odin_strbuf_puts(&b, ri->group_prefix);
    if (ri->namespaced && ns != NULL && ns[0] != '\0') {
        odin_strbuf_puts(&b, "/namespaces/");
        /* namespace names are DNS labels; anything else is escaped rather than trusted */
        for (const char *p = ns; *p != '\0'; p++) {
            char ch = *p;
            bool plain = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                         ch == '.' || (ch >= 'A' && ch <= 'Z') || ch == '_';
            if (plain) {
                odin_strbuf_putc(&b, ch);
            } else {
                odin_strbuf_printf(&b, "%%%02X", (unsigned)(unsigned char)ch);
            }
        }
    }
    odin_strbuf_putc(&b, '/');
    odin_strbuf_puts(&b, ri->name);
    return odin_strbuf_take(&b, NULL);
}

void k8s_cache_init(k8s_cache *c)
{
    for (int r = 0; r < K8S_RES_COUNT; r++) {
        odin_map_init(&c->objs[r]);
    }
}

static void object_free(k8s_object *o)
{
    if (o != NULL) {
        free(o->key);
        free(o->obj);
        free(o);
    }
}

void k8s_cache_fini(k8s_cache *c)
{
    for (int r = 0; r < K8S_RES_COUNT; r++) {
        size_t pos = 0;
        const void *k;
        size_t kl;
        void *v;
        while (odin_map_next(&c->objs[r], &pos, &k, &kl, &v)) {
            object_free(v);
        }
        odin_map_fini(&c->objs[r]);
    }
}

/* "ns/name" (or "name" for cluster-scoped kinds) into a heap string; NULL without a name. */
static char *object_key(k8s_resource r, const k8s_json *obj, size_t *klen)
{
    const k8s_json *meta = k8s_json_get(obj, "metadata");
    odin_str name = k8s_json_str(k8s_json_get(meta, "name"));
    if (name.len == 0) {
        return NULL;
    }
    odin_strbuf b;
    odin_strbuf_init(&b, 0);
    if (resources[r].namespaced) {
        odin_strbuf_putstr(&b, k8s_json_str(k8s_json_get(meta, "namespace")));
        odin_strbuf_putc(&b, '/');
    }
    odin_strbuf_putstr(&b, name);
    return odin_strbuf_take(&b, klen);
}

bool k8s_cache_put(k8s_cache *c, k8s_resource r, int owner, const k8s_json *obj)
{
    static const char *const skip[] = {"managedFields", NULL};
    size_t klen;
    char *key = object_key(r, obj, &klen);
    if (key == NULL) {
        return false;
    }
    k8s_object *o = odin_calloc(1, sizeof *o);
    o->key = key;
    o->klen = klen;
    o->owner = owner;
    o->obj = k8s_json_clone(obj, skip);
    object_free(odin_map_put(&c->objs[r], o->key, o->klen, o));
    return true;
}

bool k8s_cache_del(k8s_cache *c, k8s_resource r, const k8s_json *obj)
{
    size_t klen;
    char *key = object_key(r, obj, &klen);
    if (key == NULL) {
        return false;
    }
    k8s_object *o = odin_map_del(&c->objs[r], key, klen);
    free(key);
    object_free(o);
    return o != NULL;
}

void k8s_cache_drop_owner(k8s_cache *c, k8s_resource r, int owner)
{
    /* collect first: the map must not change while it is iterated */
    size_t n = 0, cap = 0;
    k8s_object **victims = NULL;
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&c->objs[r], &pos, &k, &kl, &v)) {
        k8s_object *o = v;
        if (o->owner != owner) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            victims = odin_realloc(victims, cap * sizeof *victims);
        }
        victims[n++] = o;
    }
    for (size_t i = 0; i < n; i++) {
        odin_map_del(&c->objs[r], victims[i]->key, victims[i]->klen);
        object_free(victims[i]);
    }
    free(victims);
}

void k8s_cache_replace_owner(k8s_cache *c, k8s_resource r, int owner, k8s_cache *fresh)
{
    k8s_cache_drop_owner(c, r, owner);
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (odin_map_next(&fresh->objs[r], &pos, &k, &kl, &v)) {
        k8s_object *o = v;
        o->owner = owner;
        /* a duplicate key means two watches overlap (a namespace listed twice): last one wins */
        object_free(odin_map_put(&c->objs[r], o->key, o->klen, o));
    }
    odin_map_clear(&fresh->objs[r]);
}

const k8s_json *k8s_cache_find(const k8s_cache *c, k8s_resource r, odin_str ns, odin_str name)
{
    char stackbuf[512];
    size_t need = ns.len + 1 + name.len;
    char *key = need <= sizeof stackbuf ? stackbuf : odin_malloc(need);
    size_t klen = 0;
    if (resources[r].namespaced) {
        if (ns.len > 0) {
            memcpy(key, ns.p, ns.len);
        }
        key[ns.len] = '/';
        klen = ns.len + 1;
    }
    if (name.len > 0) {
        memcpy(key + klen, name.p, name.len);
    }
    klen += name.len;
    k8s_object *o = odin_map_get(&c->objs[r], key, klen);
    if (key != stackbuf) {
        free(key);
    }
    return o != NULL ? o->obj : NULL;
}
