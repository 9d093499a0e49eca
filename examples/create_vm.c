/* create_vm: create a VM with the typed bindings, its net0 and memory built from the generated
 * property-string structs, and wait for the creation task.
 * Usage: create_vm NODE VMID NAME   (connection from the PROXMOX_VE_* environment) */
#include <proxmox/proxmox.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pmx_client *connect_env(void) {
    const char *url = getenv("PROXMOX_VE_ENDPOINT"), *token = getenv("PROXMOX_VE_API_TOKEN"),
               *user = getenv("PROXMOX_VE_USERNAME"), *pw = getenv("PROXMOX_VE_PASSWORD"),
               *fp = getenv("PROXMOX_VE_FINGERPRINT");
    pmx_client *c = NULL;
    if (!url || pmx_client_new(&c, url) != PMX_OK)
        return NULL;
    int r = token && *token ? pmx_client_set_token(c, token)
            : user && pw    ? pmx_client_set_password(c, user, pw)
                            : PMX_EINVAL;
    if (r == PMX_OK && fp && *fp)
        r = pmx_client_set_fingerprint(c, fp);
    if (r != PMX_OK) {
        pmx_client_free(c);
        return NULL;
    }
    return c;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: create_vm NODE VMID NAME\n");
        return 2;
    }
    pmx_client *c = connect_env();
    if (!c) {
        fprintf(stderr, "set PROXMOX_VE_ENDPOINT and a token or user/password\n");
        return 2;
    }
    /* net0 and memory are property strings: build them from typed structs. */
    pve_fmt_qemu_net net = PMX_PARAMS_INIT(pve_fmt_qemu_net);
    net.model = "virtio";
    net.bridge = "vmbr0";
    net.firewall = PMX_SOME_BOOL(1);
    net.tag = PMX_SOME_I64(20);
    pve_fmt_qemu_memory mem = PMX_PARAMS_INIT(pve_fmt_qemu_memory);
    mem.current = PMX_SOME_I64(2048);
    char *net0 = NULL, *memory = NULL, *err = NULL;
    int r = pve_fmt_qemu_net_encode(&net, &net0, &err);
    if (r == PMX_OK)
        r = pve_fmt_qemu_memory_encode(&mem, &memory, &err);
    if (r != PMX_OK) {
        fprintf(stderr, "property string: %s\n", err ? err : pmx_strerror(r));
        pmx_free(err);
        pmx_client_free(c);
        return 1;
    }
    printf("net0       %s\n", net0);
    printf("memory     %s\n", memory);

    pve_nodes_qemu_post_params p = PMX_PARAMS_INIT(pve_nodes_qemu_post_params);
    p.vmid = atoll(argv[2]);
    p.name = argv[3];
    p.memory = memory;
    p.cores = PMX_SOME_I64(2);
    p.net[0] = net0;
    pmx_call *call = NULL;
    pmx_task *task = NULL;
    r = pve_nodes_qemu_post(c, argv[1], &p, NULL, NULL, &call);
    if (r == PMX_OK)
        r = pmx_call_wait(call);
    if (r == PMX_OK) {
        const pve_nodes_qemu_post_result *res = pve_nodes_qemu_post_result_of(call);
        printf("create     task %s\n", res && res->value ? res->value : "?");
        r = pmx_task_wait_call(c, call, NULL, NULL, NULL, &task);
    } else {
        fprintf(stderr, "create: %s\n", call ? pmx_call_error(call) : pmx_strerror(r));
    }
    if (task)
        r = pmx_task_wait_sync(task);
    if (task)
        printf("created    VM %s: %s\n", argv[2],
               r == PMX_OK ? pmx_task_exitstatus(task) : pmx_task_error(task));
    pmx_task_unref(task);
    pmx_call_unref(call);
    pmx_free(net0);
    pmx_free(memory);
    pmx_client_free(c);
    return r == PMX_OK ? 0 : 1;
}
