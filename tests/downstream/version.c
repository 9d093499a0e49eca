/* Downstream link test: the installed library's version and method table. */
#include <proxmox/proxmox.h>
#include <stdio.h>

int main(void) {
    const char *v;
    pmx_version(&v);
    printf("libproxmox %s, %zu methods\n", v, pmx_method_count());
    return pmx_method_count() == 646 ? 0 : 1;
}
