/* demo: log in with a password, list nodes and VMs, start a VM, poll its task until it stops.
 * Reads PROXMOX_VE_ENDPOINT, PROXMOX_VE_USERNAME, PROXMOX_VE_PASSWORD, PROXMOX_VE_FINGERPRINT
 * (or PROXMOX_VE_INSECURE=1), like Terraform's PVE provider. Optional argument: the VM id. */
#include <proxmox/proxmox.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* Run a GET and parse its data; NULL (with a message printed) on failure. */
static cJSON *get_json(pmx_client *c, const char *path) {
    pmx_call *call = NULL;
    int r = pmx_call_start(c, PMX_GET, path, NULL, NULL, NULL, &call);
    if (r == PMX_OK)
        r = pmx_call_wait(call);
    cJSON *j = NULL;
    if (r == PMX_OK) {
        size_t len;
        const char *d = pmx_call_data(call, &len);
        j = d ? cJSON_ParseWithLength(d, len) : NULL;
    } else {
        fprintf(stderr, "GET %s: %s (%s)\n", path, pmx_strerror(r),
                call && pmx_call_error(call) ? pmx_call_error(call) : "-");
    }
    pmx_call_unref(call);
    return j;
}

static const char *str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int main(int argc, char **argv) {
    const char *url = env("PROXMOX_VE_ENDPOINT"), *user = env("PROXMOX_VE_USERNAME"),
               *pw = env("PROXMOX_VE_PASSWORD"), *fp = env("PROXMOX_VE_FINGERPRINT");
    int vmid = argc > 1 ? atoi(argv[1]) : 101;
    if (!url || !user || !pw) {
        fprintf(stderr, "set PROXMOX_VE_ENDPOINT, PROXMOX_VE_USERNAME and PROXMOX_VE_PASSWORD\n");
        return 2;
    }
    pmx_client *c = NULL;
    int r = pmx_client_new(&c, url);
    if (r) {
        fprintf(stderr, "bad endpoint %s: %s\n", url, pmx_strerror(r));
        return 2;
    }
    if (fp)
        r = pmx_client_set_fingerprint(c, fp);
    else if (env("PROXMOX_VE_INSECURE"))
        r = pmx_client_set_insecure(c, 1);
    if (!r)
        r = pmx_client_set_password(c, user, pw);
    if (r) {
        fprintf(stderr, "configuration: %s\n", pmx_strerror(r));
        pmx_client_free(c);
        return 2;
    }
    printf("endpoint   %s (user %s)\n", pmx_client_url(c), user);

    int status = 1;
    cJSON *version = get_json(c, "/version"); /* the first call logs in */
    cJSON *nodes = version ? get_json(c, "/nodes") : NULL;
    if (!nodes)
        goto out;
    printf("logged in  PVE %s\n", str(version, "version"));
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes) {
        char path[128];
        snprintf(path, sizeof path, "/nodes/%s/qemu", str(n, "node"));
        cJSON *vms = get_json(c, path);
        printf("node       %-8s %s\n", str(n, "node"), str(n, "status"));
        const cJSON *vm;
        cJSON_ArrayForEach(vm, vms) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(vm, "vmid");
            printf("  vm       %-6d %-12s %s\n", cJSON_IsNumber(id) ? id->valueint : atoi(id && id->valuestring ? id->valuestring : "0"),
                   str(vm, "name"), str(vm, "status"));
        }
        cJSON_Delete(vms);
    }

    /* Start the VM: the answer is the UPID of the start task. */
    char path[160];
    snprintf(path, sizeof path, "/nodes/pve1/qemu/%d/status/start", vmid);
    pmx_call *call = NULL;
    r = pmx_call_start(c, PMX_POST, path, NULL, NULL, NULL, &call);
    if (!r)
        r = pmx_call_wait(call);
    if (r) {
        fprintf(stderr, "start VM %d: %s\n", vmid, call ? pmx_call_error(call) : pmx_strerror(r));
        pmx_call_unref(call);
        goto out;
    }
    size_t len;
    const char *d = pmx_call_data(call, &len);
    cJSON *upid = cJSON_ParseWithLength(d, len);
    pmx_call_unref(call);
    if (!cJSON_IsString(upid)) {
        cJSON_Delete(upid);
        goto out;
    }
    printf("started    VM %d, task %s\n", vmid, upid->valuestring);

    /* Poll the task until it stops (1 s apart, like the GUI). */
    char *esc = pmx_escape(upid->valuestring);
    snprintf(path, sizeof path, "/nodes/pve1/tasks/%s/status", esc ? esc : "");
    pmx_free(esc);
    cJSON_Delete(upid);
    for (int polls = 1; polls <= 120; polls++) {
        cJSON *st = get_json(c, path);
        if (!st)
            goto out;
        int stopped = strcmp(str(st, "status"), "stopped") == 0;
        printf("task       poll %d: %s %s\n", polls, str(st, "status"), str(st, "exitstatus"));
        if (stopped) {
            status = strcmp(str(st, "exitstatus"), "OK") == 0 ? 0 : 1;
            cJSON_Delete(st);
            break;
        }
        cJSON_Delete(st);
        usleep(500 * 1000);
    }
    snprintf(path, sizeof path, "/nodes/pve1/qemu/%d/status/current", vmid);
    cJSON *cur = get_json(c, path);
    printf("vm %d     now %s\n", vmid, cur ? str(cur, "status") : "?");
    cJSON_Delete(cur);
out:
    cJSON_Delete(version);
    cJSON_Delete(nodes);
    pmx_client_free(c);
    printf("demo       %s\n", status == 0 ? "done" : "FAILED");
    return status;
}
