/* Per-process GPU memory and utilisation from NVML's process lists, and the Kubernetes pod
 * attribution of GPU series (pod-resources or process cgroups). Sampler thread only. */
#include "agent/gpu/sampler_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Processes and Kubernetes attribution -------------------------------------------------- */

static agent_gpu_proc *proc_for(agent_gpu_snapshot *snap, size_t from, unsigned pid, bool add)
{
    for (size_t i = from; i < snap->nprocs; i++) {
        if (snap->procs[i].pid == pid) {
            return &snap->procs[i];
        }
    }
    if (!add || snap->nprocs == AGENT_GPU_MAX_PROCS) {
        return NULL; /* bounded: a node with more GPU processes loses the excess series */
    }
    if (snap->nprocs == snap->procs_cap) {
        snap->procs_cap = snap->procs_cap ? snap->procs_cap * 2 : 16;
        snap->procs = odin_realloc(snap->procs, snap->procs_cap * sizeof(*snap->procs));
    }
    agent_gpu_proc *p = &snap->procs[snap->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

/* Per-process utilisation (whole GPUs only: NVML has none under MIG). A process with no sample
 * since the last tick ran no kernel in that window: 0. */
static void read_proc_util(agent_gpu_sampler *s, gpu_dev *d, size_t from)
{
    if (!s->lib.device_get_process_utilization || s->back.nprocs == from) {
        return;
    }
    unsigned n = AGENT_GPU_MAX_UNIT_PROCS;
    nvml_return rc = s->lib.device_get_process_utilization(d->h, s->ubuf, &n, d->util_last_ts);
    if (rc != NVML_SUCCESS && rc != NVML_ERROR_NOT_FOUND) {
        return; /* NOT_SUPPORTED (MIG, old GPUs), INSUFFICIENT_SIZE: no utilisation series */
    }
    unsigned long long newest = d->util_last_ts;
    unsigned long long *best = odin_calloc(s->back.nprocs - from, sizeof(*best));
    for (unsigned i = 0; rc == NVML_SUCCESS && i < n && i < AGENT_GPU_MAX_UNIT_PROCS; i++) {
        const nvml_process_utilization_sample *u = &s->ubuf[i];
        agent_gpu_proc *p = proc_for(&s->back, from, u->pid, false);
        newest = u->time_stamp > newest ? u->time_stamp : newest;
        if (p && u->time_stamp >= best[p - s->back.procs - from]) {
            best[p - s->back.procs - from] = u->time_stamp;
            p->sm_util = u->sm_util <= 100 ? u->sm_util : 100;
            p->have_sm = true;
        }
    }
    free(best);
    d->util_last_ts = newest;
    for (size_t i = from; i < s->back.nprocs; i++) {
        s->back.procs[i].have_sm = true; /* those without a sample keep sm_util 0 */
    }
}

/* Compute and graphics processes of one unit (a GPU, or a MIG device), merged by pid. */
static void read_unit_procs(agent_gpu_sampler *s, nvml_device h, size_t entity)
{
    nvml_return (*const calls[2])(nvml_device, unsigned *, nvml_process_info *) = {
        s->lib.device_get_compute_running_processes_v3,
        s->lib.device_get_graphics_running_processes_v3,
    };
    size_t from = s->back.nprocs;
    for (int k = 0; k < 2; k++) {
        unsigned n = AGENT_GPU_MAX_UNIT_PROCS;
        if (!calls[k] || calls[k](h, &n, s->pbuf) != NVML_SUCCESS) {
            continue; /* INSUFFICIENT_SIZE past 256 processes: none rather than some */
        }
        for (unsigned i = 0; i < n && i < AGENT_GPU_MAX_UNIT_PROCS; i++) {
            agent_gpu_proc *p = proc_for(&s->back, from, s->pbuf[i].pid, true);
            if (!p) {
                break;
            }
            p->entity = entity;
            if (!p->have_mem && s->pbuf[i].used_gpu_memory != NVML_VALUE_NOT_AVAILABLE) {
                p->mem_bytes = (double)s->pbuf[i].used_gpu_memory;
                p->have_mem = true;
            }
        }
    }
    if (!s->opts.pods.enabled) {
        return;
    }
    for (size_t i = from; i < s->back.nprocs; i++) {
        agent_gpu_proc *p = &s->back.procs[i];
        int st = agent_gpu_pods_pid(s->pods, p->pid, &p->cg);
        p->in_pod = st == 1;
        p->cgroup_known = st >= 0;
    }
}

void agent_gpu_read_dev_procs(agent_gpu_sampler *s, gpu_dev *d)
{
    if (d->lost || (!s->opts.processes && !agent_gpu_pods_use_process(s->pods))) {
        return;
    }
    if (!d->nmig) {
        size_t from = s->back.nprocs;
        read_unit_procs(s, d->h, d->first_entity);
        read_proc_util(s, d, from);
        return;
    }
    for (size_t k = 0; k < d->nmig; k++) {
        read_unit_procs(s, d->mig[k].h, d->first_entity + 1 + k);
    }
}

static void set_pod(agent_gpu_entity *e, const agent_gpu_podres_entry *p)
{
    agent_gpu_copy_str(e->pod, sizeof(e->pod), p->pod);
    agent_gpu_copy_str(e->ns, sizeof(e->ns), p->ns);
    agent_gpu_copy_str(e->container, sizeof(e->container), p->container);
}

/* The process source names a GPU's container only when all its pod processes share one. */
static void attribute_by_process(agent_gpu_snapshot *snap)
{
    for (size_t i = 0; i < snap->nprocs; i++) {
        const agent_gpu_proc *p = &snap->procs[i];
        agent_gpu_entity *e = &snap->entities[p->entity];
        if (!p->in_pod || e->container_id[0] == '-') {
            continue;
        }
        if (!e->pod_uid[0]) {
            agent_gpu_copy_str(e->pod_uid, sizeof(e->pod_uid), p->cg.pod_uid);
            agent_gpu_copy_str(e->container_id, sizeof(e->container_id), p->cg.container_id);
        } else if (strcmp(e->pod_uid, p->cg.pod_uid) != 0 ||
                   strcmp(e->container_id, p->cg.container_id) != 0) {
            e->container_id[0] = '-'; /* several containers: marked, cleared below */
        }
    }
    for (size_t i = 0; i < snap->nentities; i++) {
        if (snap->entities[i].container_id[0] == '-') {
            snap->entities[i].pod_uid[0] = snap->entities[i].container_id[0] = '\0';
        }
    }
}

void agent_gpu_attribute(agent_gpu_sampler *s)
{
    if (!s->opts.pods.enabled) {
        return;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        const gpu_dev *d = &s->devs[i];
        if (d->lost) {
            continue;
        }
        const agent_gpu_podres_entry *p;
        if (!d->nmig) {
            p = agent_gpu_pods_device(s->pods, d->id[AGENT_GPU_ID_UUID], d->index, NULL, false, 0);
            if (p) {
                set_pod(&s->back.entities[d->first_entity], p);
            }
            continue;
        }
        for (size_t k = 0; k < d->nmig; k++) {
            p = agent_gpu_pods_device(s->pods, d->id[AGENT_GPU_ID_UUID], d->index, d->mig[k].uuid,
                                      true, d->mig[k].gi_id);
            if (p) {
                set_pod(&s->back.entities[d->first_entity + 1 + k], p);
            }
        }
    }
    if (agent_gpu_pods_use_process(s->pods)) {
        attribute_by_process(&s->back);
    }
}
