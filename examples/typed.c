/* typed: the generated bindings — list a node's VMs, start one, wait for its task, read its
 * status — without writing a path or parsing JSON. Reads the PROXMOX_VE_* environment.
 * Usage: typed [node] [vmid] */
#include <proxmox/proxmox.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *node = argc > 1 ? argv[1] : "pve1";
    int64_t vmid = argc > 2 ? atoll(argv[2]) : 100;
    const char *url = getenv("PROXMOX_VE_ENDPOINT"), *token = getenv("PROXMOX_VE_API_TOKEN");
    const char *fp = getenv("PROXMOX_VE_FINGERPRINT");
    pmx_client *c = NULL;
    if (!url || !token || pmx_client_new(&c, url) || pmx_client_set_token(c, token) ||
        (fp && pmx_client_set_fingerprint(c, fp))) {
        fprintf(stderr, "set PROXMOX_VE_ENDPOINT, PROXMOX_VE_API_TOKEN (and PROXMOX_VE_FINGERPRINT)\n");
        pmx_client_free(c);
        return 2;
    }

    /* GET /nodes/{node}/qemu: an array of typed items. */
    pmx_call *call = NULL;
    int r = pve_nodes_qemu_get(c, node, NULL, NULL, NULL, &call);
    if (r == PMX_OK)
        r = pmx_call_wait(call);
    const pve_nodes_qemu_get_result *vms = pve_nodes_qemu_get_result_of(call);
    if (!vms) {
        fprintf(stderr, "list VMs: %s\n", pmx_call_error(call));
        goto fail;
    }
    for (size_t i = 0; i < vms->n; i++)
        printf("vm %-6" PRId64 " %-12s %-8s mem %" PRId64 "\n", vms->items[i]->vmid,
               vms->items[i]->name ? vms->items[i]->name : "-", vms->items[i]->status,
               vms->items[i]->maxmem.set ? vms->items[i]->maxmem.v : 0);
    pmx_call_unref(call);

    /* POST …/status/start answers with a task; wait for it with backoff. */
    r = pve_nodes_qemu_status_start_post(c, node, vmid, NULL, NULL, NULL, &call);
    if (r == PMX_OK)
        r = pmx_call_wait(call);
    pmx_task *task = NULL;
    if (r == PMX_OK)
        r = pmx_task_wait_call(c, call, NULL, NULL, NULL, &task);
    if (r == PMX_OK)
        r = pmx_task_wait_sync(task);
    printf("start %" PRId64 ": %s%s%s\n", vmid, pmx_strerror(r), task ? ", task " : "",
           task ? pmx_task_exitstatus(task) : "");
    pmx_task_unref(task);
    pmx_call_unref(call);

    /* GET …/status/current: a typed struct; optional values carry a set flag. */
    pve_nodes_qemu_status_current_get(c, node, vmid, NULL, NULL, NULL, &call);
    pmx_call_wait(call);
    const pve_nodes_qemu_status_current_get_result *st = pve_nodes_qemu_status_current_get_result_of(call);
    if (!st) {
        fprintf(stderr, "status: %s\n", pmx_call_error(call));
        goto fail;
    }
    printf("vm %" PRId64 " is %s", st->vmid, st->status);
    if (st->uptime.set)
        printf(", up %" PRId64 " s", st->uptime.v);
    printf("\n");
    pmx_call_unref(call);
    pmx_client_free(c);
    return 0;
fail:
    pmx_call_unref(call);
    pmx_client_free(c);
    return 1;
}
