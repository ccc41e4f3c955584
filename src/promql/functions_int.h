/* Private to functions*.c: the families the instant-vector function dispatch hands off to. */
#ifndef ODIN_PROMQL_FUNCTIONS_INT_H
#define ODIN_PROMQL_FUNCTIONS_INT_H

#include "promql/engine_int.h"

size_t fn_step_index(const ev_ctx *c, int64_t t);
/* label_replace and label_join (functions_labels.c). */
int fn_label_call(ev_ctx *c, const ast_call *call, ev_value *out);
/* sort, sort_desc, sort_by_label(_desc), histogram_quantile (functions_vector.c); args are the
 * evaluated arguments. */
int fn_vector_call(ev_ctx *c, const ast_node *n, ev_value *args, ev_value *out);
/* Merges series whose label sets became equal; points at one step in two of them are the
 * duplicate-labelset error. Keeps first-appearance order. */
int fn_merge_same_labels(ev_ctx *c, ev_matrix *m);

#endif
