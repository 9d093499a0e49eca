/* Typed property strings: decode of values as PVE writes them in configs, canonical encode and
 * round trips, errors naming the key, the run-time tables and their use in validation. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* decode(text) must succeed and encode back to @p canon (NULL: to text itself); the re-decode
 * of that must encode the same again. */
#define ROUNDTRIP(fmt, text, canon)                                                            \
    do {                                                                                       \
        fmt *v_ = NULL;                                                                        \
        char *err_ = NULL, *out_ = NULL, *out2_ = NULL;                                        \
        ck_assert_msg(fmt##_decode((text), &v_, &err_) == PMX_OK, "decode '%s': %s", (text),  \
                      err_ ? err_ : "?");                                                      \
        ck_assert_int_eq(fmt##_encode(v_, &out_, &err_), PMX_OK);                              \
        ck_assert_str_eq(out_, (canon) ? (const char *)(canon) : (text));                      \
        fmt##_free(v_);                                                                        \
        v_ = NULL;                                                                             \
        ck_assert_int_eq(fmt##_decode(out_, &v_, &err_), PMX_OK);                              \
        ck_assert_int_eq(fmt##_encode(v_, &out2_, &err_), PMX_OK);                             \
        ck_assert_str_eq(out2_, out_);                                                         \
        fmt##_free(v_);                                                                        \
        pmx_free(out_);                                                                        \
        pmx_free(out2_);                                                                       \
    } while (0)

/* decode(text) must fail with PMX_EINVAL and a message starting with @p prefix. */
#define BAD(fmt, text, prefix)                                                                 \
    do {                                                                                       \
        fmt *v_ = (fmt *)1;                                                                    \
        char *err_ = NULL;                                                                     \
        ck_assert_int_eq(fmt##_decode((text), &v_, &err_), PMX_EINVAL);                        \
        ck_assert_ptr_null(v_);                                                                \
        ck_assert_ptr_nonnull(err_);                                                           \
        ck_assert_msg(strncmp(err_, (prefix), strlen(prefix)) == 0,                            \
                      "'%s': error '%s' does not start with '%s'", (text), err_, (prefix));    \
        pmx_free(err_);                                                                        \
    } while (0)

START_TEST(test_qemu_net_decode) {
    pve_fmt_qemu_net *n = NULL;
    char *err = NULL;
    ck_assert_int_eq(pve_fmt_qemu_net_decode("virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1",
                                             &n, &err),
                     PMX_OK);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(n->model, "virtio");
    ck_assert_str_eq(n->macaddr, "BC:24:11:2A:3B:4C");
    ck_assert_str_eq(n->bridge, "vmbr0");
    ck_assert_int_eq(n->firewall.set, 1);
    ck_assert_int_eq(n->firewall.v, 1);
    ck_assert_int_eq(n->tag.set, 0);
    ck_assert_ptr_null(n->trunks);
    pve_fmt_qemu_net_free(n);
    /* the model alone, booleans in every spelling PVE accepts, integers, numbers */
    ck_assert_int_eq(pve_fmt_qemu_net_decode("e1000,bridge=vmbr1,link_down=yes,firewall=OFF,"
                                             "tag=42,rate=12.5,queues=4",
                                             &n, NULL),
                     PMX_OK);
    ck_assert_str_eq(n->model, "e1000");
    ck_assert_ptr_null(n->macaddr);
    ck_assert(n->link_down.set && n->link_down.v == 1);
    ck_assert(n->firewall.set && n->firewall.v == 0);
    ck_assert(n->tag.set && n->tag.v == 42);
    ck_assert(n->queues.set && n->queues.v == 4);
    ck_assert(n->rate.set && n->rate.v == 12.5);
    char *out = NULL;
    ck_assert_int_eq(pve_fmt_qemu_net_encode(n, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "e1000,bridge=vmbr1,firewall=0,link_down=1,queues=4,rate=12.5,tag=42");
    pmx_free(out);
    pve_fmt_qemu_net_free(n);
    /* model=, macaddr= spelled out; empty and blank parts are skipped as PVE does */
    ck_assert_int_eq(pve_fmt_qemu_net_decode("bridge=vmbr0,,macaddr=BC:24:11:2A:3B:4C, ,"
                                             "model=virtio,",
                                             &n, NULL),
                     PMX_OK);
    ck_assert_int_eq(pve_fmt_qemu_net_encode(n, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0");
    pmx_free(out);
    pve_fmt_qemu_net_free(n);
    pve_fmt_qemu_net_free(NULL);
}
END_TEST

START_TEST(test_roundtrip_config_values) {
    ROUNDTRIP(pve_fmt_qemu_net, "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1", NULL);
    ROUNDTRIP(pve_fmt_qemu_net, "virtio,bridge=vmbr0", NULL);
    ROUNDTRIP(pve_fmt_qemu_net, "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,tag=10,trunks=20;30", NULL);
    ROUNDTRIP(pve_fmt_qemu_scsi, "local-lvm:vm-100-disk-0,iothread=1,size=32G", NULL);
    ROUNDTRIP(pve_fmt_qemu_scsi,
              "local-lvm:vm-100-disk-0,cache=writeback,discard=on,iothread=1,size=32G,ssd=1", NULL);
    ROUNDTRIP(pve_fmt_qemu_scsi, "none,media=cdrom", NULL);
    ROUNDTRIP(pve_fmt_qemu_ide, "local:iso/debian-12.iso,media=cdrom,size=628M", NULL);
    ROUNDTRIP(pve_fmt_qemu_virtio, "local-lvm:vm-100-disk-1,backup=0,size=1536M", NULL);
    ROUNDTRIP(pve_fmt_qemu_efidisk0,
              "local-lvm:vm-100-disk-2,efitype=4m,pre-enrolled-keys=1,size=4M", NULL);
    ROUNDTRIP(pve_fmt_qemu_ipconfig, "ip=dhcp,ip6=auto", NULL);
    ROUNDTRIP(pve_fmt_qemu_ipconfig, "ip=10.0.0.5/24,gw=10.0.0.1", "gw=10.0.0.1,ip=10.0.0.5/24");
    ROUNDTRIP(pve_fmt_qemu_ipconfig, "gw6=fd00::1,ip6=fd00::5/64", NULL);
    ROUNDTRIP(pve_fmt_qemu_agent, "1,fstrim_cloned_disks=1", NULL);
    ROUNDTRIP(pve_fmt_qemu_agent, "enabled=1,type=virtio", "1,type=virtio");
    ROUNDTRIP(pve_fmt_qemu_vga, "qxl,memory=32", NULL);
    ROUNDTRIP(pve_fmt_qemu_numa, "cpus=0-3,hostnodes=0,memory=2048,policy=bind", NULL);
    ROUNDTRIP(pve_fmt_lxc_net, "name=eth0,bridge=vmbr0,ip=dhcp,type=veth", NULL);
    ROUNDTRIP(pve_fmt_lxc_net,
              "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,hwaddr=BC:24:11:00:00:01,"
              "ip=192.168.1.50/24,ip6=auto,type=veth",
              NULL);
    ROUNDTRIP(pve_fmt_lxc_rootfs, "local-lvm:vm-101-disk-0,size=8G", NULL);
    ROUNDTRIP(pve_fmt_lxc_mp, "local-lvm:vm-101-disk-1,mp=/mnt/data,backup=1,size=10G", NULL);
    ROUNDTRIP(pve_fmt_lxc_mp, "mp=/mnt/data,volume=local:10,backup=1",
              "local:10,mp=/mnt/data,backup=1");
    ROUNDTRIP(pve_fmt_lxc_features, "keyctl=1,nesting=1", NULL);
    ROUNDTRIP(pve_fmt_cluster_migration, "secure,network=10.1.2.0/24", NULL);
    ROUNDTRIP(pve_fmt_cluster_bwlimit, "clone=1024.5,default=100", NULL);
}
END_TEST

START_TEST(test_scsi_fields_and_alias) {
    pve_fmt_qemu_scsi *d = NULL;
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode("local-lvm:vm-100-disk-0,iothread=1,size=32G", &d,
                                              NULL),
                     PMX_OK);
    ck_assert_str_eq(d->file, "local-lvm:vm-100-disk-0");
    ck_assert(d->iothread.set && d->iothread.v == 1);
    ck_assert_str_eq(d->size, "32G");
    pve_fmt_qemu_scsi_free(d);
    /* volume= is an alias of the default key file */
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode("volume=local:iso/x.iso,media=cdrom", &d, NULL),
                     PMX_OK);
    ck_assert_str_eq(d->file, "local:iso/x.iso");
    ck_assert_str_eq(d->media, "cdrom");
    char *out;
    ck_assert_int_eq(pve_fmt_qemu_scsi_encode(d, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "local:iso/x.iso,media=cdrom");
    pmx_free(out);
    pve_fmt_qemu_scsi_free(d);
    /* the alias and its target together are a duplicate */
    BAD(pve_fmt_qemu_scsi, "local:iso/x.iso,volume=local:iso/y.iso", "file: duplicate key");
    /* the length aliases of the throttling keys */
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode("a:b,bps_rd_length=5", &d, NULL), PMX_OK);
    ck_assert(d->bps_rd_max_length.set && d->bps_rd_max_length.v == 5);
    pve_fmt_qemu_scsi_free(d);
}
END_TEST

START_TEST(test_decode_errors_name_the_key) {
    BAD(pve_fmt_qemu_net, "virtio,bridge=vmbr0,firewall=maybe",
        "firewall: type check ('boolean') failed - got 'maybe'");
    BAD(pve_fmt_qemu_net, "foo,bridge=vmbr0", "model: value 'foo' does not have a value in the "
                                              "enumeration 'e1000, ");
    BAD(pve_fmt_qemu_net, "virtio,model=e1000", "model: duplicate key");
    BAD(pve_fmt_qemu_net, "virtio,tag=abc", "tag: type check ('integer') failed - got 'abc'");
    BAD(pve_fmt_qemu_net, "virtio,tag=5000", "tag: value must have a maximum value of 4094");
    BAD(pve_fmt_qemu_net, "virtio,tag=0", "tag: value must have a minimum value of 1");
    BAD(pve_fmt_qemu_net, "virtio,rate=fast", "rate: type check ('number') failed");
    BAD(pve_fmt_qemu_net, "virtio,foo=1", "foo: invalid key in comma-separated list property");
    BAD(pve_fmt_qemu_net, "bridge=vmbr0", "model: property is missing and it is not optional");
    BAD(pve_fmt_qemu_net, "virtio,bridge=a,bridge=b", "bridge: duplicate key");
    BAD(pve_fmt_qemu_net, "virtio=BC:24:11:2A:3B:4C,e1000=BC:24:11:2A:3B:4D",
        "model: key alias 'model' is already defined");
    BAD(pve_fmt_qemu_net, "virtio=BC:24:11:2A:3B:4C,macaddr=BC:24:11:2A:3B:4D",
        "macaddr: duplicate key");
    BAD(pve_fmt_qemu_net, "virtio=zz:24:11:2A:3B:4C",
        "macaddr: value does not look like a valid unicast MAC address");
    BAD(pve_fmt_qemu_net, "virtio,bridge=", "bridge: missing value");
    BAD(pve_fmt_qemu_net, "=x", "missing key in comma-separated list property");
    BAD(pve_fmt_qemu_scsi, "local:1,size=32X", "size: value does not look like a valid disk size");
    BAD(pve_fmt_qemu_scsi, "local:1,cache=fast", "cache: value 'fast' does not have a value");
    BAD(pve_fmt_qemu_scsi, "local:1,serial=a b", "serial: invalid urlencoded string");
    BAD(pve_fmt_qemu_net, "virtio,bridge=vm/br0", "bridge: invalid bridge ID");
    BAD(pve_fmt_qemu_ipconfig, "gw=10.0.0.1", "ip: missing property - 'gw' requires this");
    BAD(pve_fmt_qemu_ipconfig, "ip=10.0.0.5", "ip: value does not look like a valid ipv4 network");
    BAD(pve_fmt_qemu_ipconfig, "dhcp", "value without key, but schema does not define a "
                                       "default key");
    BAD(pve_fmt_lxc_net, "bridge=vmbr0,ip=dhcp", "name: property is missing");
    BAD(pve_fmt_lxc_mp, "local:10", "mp: property is missing");
    BAD(pve_fmt_qemu_machine, "q35,viommu=amd", "viommu: value 'amd' does not have a value");
}
END_TEST

START_TEST(test_encode_errors_and_quoting) {
    pve_fmt_qemu_net n;
    memset(&n, 0, sizeof n);
    n.struct_size = sizeof n;
    char *out = NULL, *err = NULL;
    /* required key missing */
    n.bridge = "vmbr0";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_str_eq(err, "model: property is missing and it is not optional");
    pmx_free(err);
    /* bad enum, out of range */
    n.model = "rtl9999";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "model: value 'rtl9999' does not have a value"));
    pmx_free(err);
    n.model = "virtio";
    n.mtu = PMX_SOME_I64(70000);
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_str_eq(err, "mtu: value must have a maximum value of 65520");
    pmx_free(err);
    n.mtu = PMX_SOME_I64(9000);
    n.firewall = (pmx_opt_bool){1, 7};
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "firewall: type check ('boolean') failed"));
    pmx_free(err);
    n.firewall = PMX_SOME_BOOL(1);
    /* PVE has no quoting in property strings: a ',' cannot be written */
    n.trunks = "10,20";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_str_eq(err, "trunks: illegal value with commas (property strings have no quoting)");
    pmx_free(err);
    n.trunks = "";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "trunks: an empty value"));
    pmx_free(err);
    n.trunks = "10;20";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, &err), PMX_OK);
    ck_assert_ptr_null(err);
    ck_assert_str_eq(out, "virtio,bridge=vmbr0,firewall=1,mtu=9000,trunks=10;20");
    pmx_free(out);
    /* the model combines with the MAC */
    n.macaddr = "BC:24:11:2A:3B:4C";
    ck_assert_int_eq(pve_fmt_qemu_net_encode(&n, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1,mtu=9000,trunks=10;20");
    pmx_free(out);

    /* '=' inside a value is fine after "key=", and a bare default value holding '=' is written
     * with its key so PVE does not read it as a key; '"' is an ordinary character. */
    pve_fmt_qemu_scsi s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.file = "/dev/disk/by-id/a=b";
    ck_assert_int_eq(pve_fmt_qemu_scsi_encode(&s, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "file=/dev/disk/by-id/a=b");
    pve_fmt_qemu_scsi *d = NULL;
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode(out, &d, NULL), PMX_OK);
    ck_assert_str_eq(d->file, "/dev/disk/by-id/a=b");
    pve_fmt_qemu_scsi_free(d);
    pmx_free(out);
    pve_fmt_cluster_mapping_pci pci;
    memset(&pci, 0, sizeof pci);
    pci.struct_size = sizeof pci;
    pci.id = "1234:5678";
    pci.node = "pve1";
    pci.path = "0000:01:00.0";
    pci.description = "GPU \"big\" a=b";
    ck_assert_int_eq(pve_fmt_cluster_mapping_pci_encode(&pci, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "id=1234:5678,node=pve1,path=0000:01:00.0,description=GPU \"big\" a=b");
    pve_fmt_cluster_mapping_pci *pd = NULL;
    ck_assert_int_eq(pve_fmt_cluster_mapping_pci_decode(out, &pd, NULL), PMX_OK);
    ck_assert_str_eq(pd->description, "GPU \"big\" a=b");
    pve_fmt_cluster_mapping_pci_free(pd);
    pmx_free(out);
    /* bad disk size on encode */
    s.file = "local:1";
    s.size = "1.5X";
    ck_assert_int_eq(pve_fmt_qemu_scsi_encode(&s, &out, &err), PMX_EINVAL);
    ck_assert_str_eq(err, "size: value does not look like a valid disk size: 1.5X");
    pmx_free(err);
    s.size = "1.5T";
    ck_assert_int_eq(pve_fmt_qemu_scsi_encode(&s, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "local:1,size=1.5T");
    pmx_free(out);
    /* arguments */
    ck_assert_int_eq(pve_fmt_qemu_scsi_encode(NULL, &out, NULL), PMX_EINVAL);
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode(NULL, &d, NULL), PMX_EINVAL);
    ck_assert_int_eq(pve_fmt_qemu_scsi_decode("x", NULL, NULL), PMX_EINVAL);
    /* an empty struct of a format without required keys encodes to "" */
    pve_fmt_qemu_ipconfig ic;
    memset(&ic, 0, sizeof ic);
    ic.struct_size = sizeof ic;
    ck_assert_int_eq(pve_fmt_qemu_ipconfig_encode(&ic, &out, NULL), PMX_OK);
    ck_assert_str_eq(out, "");
    pmx_free(out);
}
END_TEST

static pmx_propstr_info SI(const pmx_propstr_desc *d) {
    pmx_propstr_info i = PMX_OPTS_INIT(pmx_propstr_info);
    ck_assert_int_eq(pmx_propstr_describe(d, &i), PMX_OK);
    return i;
}

static pmx_propkey_info KI(const pmx_propkey_desc *k) {
    pmx_propkey_info i = PMX_OPTS_INIT(pmx_propkey_info);
    ck_assert_int_eq(pmx_propkey_describe(k, &i), PMX_OK);
    return i;
}

#define PI test_param_info

START_TEST(test_tables) {
    ck_assert_uint_eq(pmx_propstr_count(), PMX_GEN_PROPSTR_COUNT);
    ck_assert_uint_ge(pmx_propstr_count(), 45);
    for (size_t i = 0; i < pmx_propstr_count(); i++) {
        const pmx_propstr_desc *d = pmx_propstr_at(i);
        ck_assert_ptr_nonnull(d);
        pmx_propstr_info si = SI(d);
        ck_assert_ptr_eq(pmx_propstr_find(si.name), d);
        ck_assert(strncmp(si.name, "pve_fmt_", 8) == 0);
        if (i)
            ck_assert_int_lt(strcmp(SI(pmx_propstr_at(i - 1)).name, si.name), 0);
        for (size_t k = 1; k < si.n_keys; k++)
            ck_assert_int_lt(strcmp(KI(pmx_propstr_key_at(d, k - 1)).name,
                                    KI(pmx_propstr_key_at(d, k)).name), 0);
        ck_assert_ptr_null(pmx_propstr_key_at(d, si.n_keys));
    }
    ck_assert_ptr_null(pmx_propstr_at(pmx_propstr_count()));
    ck_assert_ptr_null(pmx_propstr_find("pve_fmt_nope"));
    ck_assert_ptr_null(pmx_propstr_find(NULL));
    const pmx_propstr_desc *net = pmx_propstr_find("pve_fmt_qemu_net");
    ck_assert_ptr_nonnull(net);
    ck_assert_str_eq(SI(net).default_key, "model");
    ck_assert_uint_eq(SI(net).struct_size, sizeof(pve_fmt_qemu_net));
    /* one struct for every use: POST create, POST and PUT config */
    const char *const users[] = {"pve_nodes_qemu_post", "pve_nodes_qemu_config_post",
                                 "pve_nodes_qemu_config_put"};
    for (size_t i = 0; i < 3; i++) {
        const pmx_param_desc *p = pmx_method_param(pmx_method_by_name(users[i]), "net7");
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_eq(PI(p).propstr, net);
        ck_assert(PI(p).flags & PMX_PARAM_PROPERTY_STRING);
    }
    const pmx_param_desc *lx = pmx_method_param(pmx_method_by_name("pve_nodes_lxc_config_put"),
                                                "net0");
    ck_assert_ptr_eq(PI(lx).propstr, pmx_propstr_find("pve_fmt_lxc_net"));
    const pmx_param_desc *ic = pmx_method_param(pmx_method_by_name("pve_nodes_qemu_config_put"),
                                                "ipconfig0");
    ck_assert_ptr_eq(PI(ic).propstr, pmx_propstr_find("pve_fmt_qemu_ipconfig"));
    /* renamed by the overrides where the derived names clash */
    ck_assert_ptr_nonnull(pmx_propstr_find("pve_fmt_cluster_mapping_pci"));
    ck_assert_ptr_nonnull(pmx_propstr_find("pve_fmt_cluster_mapping_usb"));
    /* config results link their property-string members to the same formats */
    pmx_method_info mi = PMX_OPTS_INIT(pmx_method_info);
    ck_assert_int_eq(pmx_method_describe(pmx_method_by_name("pve_nodes_qemu_config_get"), &mi),
                     PMX_OK);
    const pmx_type_desc *rt = mi.result;
    ck_assert_ptr_nonnull(rt);
    pmx_type_info ti = PMX_OPTS_INIT(pmx_type_info);
    ck_assert_int_eq(pmx_type_describe(rt, &ti), PMX_OK);
    int linked = 0;
    for (size_t i = 0; i < ti.n_fields; i++) {
        pmx_field_info f = PMX_OPTS_INIT(pmx_field_info);
        ck_assert_int_eq(pmx_field_describe(pmx_type_field_at(rt, i), &f), PMX_OK);
        if (!strcmp(f.name, "net")) {
            ck_assert_ptr_eq(f.propstr, net);
            linked++;
        } else if (!strcmp(f.name, "scsi")) { /* config's scsi lacks import-from: a subset */
            ck_assert_ptr_eq(f.propstr, pmx_propstr_find("pve_fmt_qemu_scsi"));
            linked++;
        } else if (!strcmp(f.name, "meta")) { /* only in results */
            ck_assert_ptr_eq(f.propstr, pmx_propstr_find("pve_fmt_qemu_meta"));
            linked++;
        } else if (!strcmp(f.name, "name")) {
            ck_assert_ptr_null(f.propstr);
        }
    }
    ck_assert_int_eq(linked, 3);
    /* the generic entry points */
    void *v = NULL;
    ck_assert_int_eq(pmx_propstr_decode(net, "virtio,bridge=vmbr0", &v, NULL), PMX_OK);
    ck_assert_str_eq(((pve_fmt_qemu_net *)v)->bridge, "vmbr0");
    pmx_propstr_free(net, v);
    char buf[256];
    ck_assert_ptr_null(pmx_propstr_check(net, "virtio,bridge=vmbr0", buf, sizeof buf));
    ck_assert_str_eq(pmx_propstr_check(net, "virtio,tag=x", buf, sizeof buf),
                     "tag: type check ('integer') failed - got 'x'");
}
END_TEST

/* Validation of generic parameters (pve-mock, the pmx CLI) goes through the same runtime. */
START_TEST(test_validation_uses_propstr) {
    const pmx_method_desc *m = pmx_method_by_name("pve_nodes_qemu_config_put");
    pmx_params *p = pmx_params_new();
    pmx_params_set_str(p, "net0", "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1");
    pmx_params_set_str(p, "scsi0", "local-lvm:vm-100-disk-0,iothread=1,size=32G");
    pmx_params_set_str(p, "ipconfig0", "ip=10.0.0.5/24,gw=10.0.0.1");
    char *msg = NULL;
    ck_assert_int_eq(pmx_method_validate(m, p, 0, &msg), 0);
    ck_assert_ptr_null(msg);
    pmx_params_set_str(p, "net1", "virtio,bridge=vmbr0,firewall=maybe");
    pmx_params_set_str(p, "scsi1", "local-lvm:vm-100-disk-1,foo=1");
    ck_assert_int_eq(pmx_method_validate(m, p, 0, &msg), 2);
    ck_assert_ptr_nonnull(strstr(msg, "net1: firewall: type check ('boolean') failed - got "
                                      "'maybe'"));
    ck_assert_ptr_nonnull(strstr(msg, "scsi1: foo: invalid key"));
    pmx_free(msg);
    pmx_params_free(p);
    /* and so does the typed call path: pmx_param_check on the parameter */
    char buf[256];
    const pmx_param_desc *pd = pmx_method_param(m, "net3");
    ck_assert_str_eq(pmx_param_check(pd, "bridge=vmbr0", buf, sizeof buf),
                     "model: property is missing and it is not optional");
    ck_assert_ptr_null(pmx_param_check(pd, "virtio,bridge=vmbr0", buf, sizeof buf));
}
END_TEST

/* Every format decodes what it encodes: fill each struct with one valid value per key where
 * the schema gives a default (a value PVE accepts), and check decode(encode(x)) == x. */
START_TEST(test_all_formats_defaults_roundtrip) {
    size_t tried = 0;
    for (size_t i = 0; i < pmx_propstr_count(); i++) {
        const pmx_propstr_desc *d = pmx_propstr_at(i);
        pmx_propstr_info si = SI(d);
        char *v = calloc(1, si.struct_size);
        uint32_t size = (uint32_t)si.struct_size;
        memcpy(v, &size, sizeof size);
        int ok = 1;
        for (size_t k = 0; k < si.n_keys && ok; k++) {
            pmx_propkey_info ki = KI(pmx_propstr_key_at(d, k));
            const pmx_propkey_info *key = &ki;
            if (key->flags & PMX_PROPKEY_ALIAS)
                continue;
            const char *dv = key->default_value;
            if (!dv && key->n_enum)
                dv = pmx_propkey_enum_at(pmx_propstr_key_at(d, k), 0);
            if (!dv) {
                if (key->flags & PMX_PROPKEY_REQUIRED)
                    ok = 0;
                continue;
            }
            char *at = v + key->offset;
            switch (key->type) {
            case PMX_PARAM_STRING: *(const char **)(void *)at = dv; break;
            case PMX_PARAM_INTEGER: *(pmx_opt_i64 *)(void *)at = PMX_SOME_I64(atoll(dv)); break;
            case PMX_PARAM_BOOLEAN: *(pmx_opt_bool *)(void *)at = PMX_SOME_BOOL(atoi(dv)); break;
            case PMX_PARAM_NUMBER: *(pmx_opt_f64 *)(void *)at = PMX_SOME_F64(atof(dv)); break;
            }
        }
        char *out = NULL, *err = NULL;
        if (ok && pmx_propstr_encode(d, v, &out, &err) == PMX_OK) {
            void *back = NULL;
            ck_assert_msg(pmx_propstr_decode(d, out, &back, &err) == PMX_OK, "%s: '%s': %s",
                          si.name, out, err ? err : "?");
            char *out2 = NULL;
            ck_assert_int_eq(pmx_propstr_encode(d, back, &out2, NULL), PMX_OK);
            ck_assert_str_eq(out2, out);
            pmx_free(out2);
            pmx_propstr_free(d, back);
            tried++;
        }
        pmx_free(out);
        pmx_free(err);
        free(v);
    }
    ck_assert_uint_ge(tried, 25);
}
END_TEST


/* ---- allocation failures: every allocation of decode / encode fails in turn ------------------ */

static long a_count, a_fail_at, a_live;

static void *a_malloc(size_t n) {
    if (++a_count == a_fail_at)
        return NULL;
    void *p = malloc(n);
    if (p)
        a_live++;
    return p;
}

static void *a_realloc(void *p, size_t n) {
    if (++a_count == a_fail_at)
        return NULL;
    void *q = realloc(p, n);
    if (!p && q)
        a_live++;
    return q;
}

static void a_free(void *p) {
    if (p)
        a_live--;
    free(p);
}

START_TEST(test_alloc_failures) {
    ck_assert_int_eq(pmx_set_allocator(a_malloc, a_realloc, a_free), PMX_OK);
    int saw_ok = 0, saw_nomem = 0;
    for (a_fail_at = 1; a_fail_at < 200; a_fail_at++) {
        a_count = a_live = 0;
        pve_fmt_qemu_net *n = NULL;
        char *err = NULL, *out = NULL;
        int rc = pve_fmt_qemu_net_decode("virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1,tag=5",
                                         &n, &err);
        ck_assert_msg(rc == PMX_OK || rc == PMX_ENOMEM, "rc %d at %ld", rc, a_fail_at);
        ck_assert_ptr_null(err);
        if (rc == PMX_OK) {
            rc = pve_fmt_qemu_net_encode(n, &out, &err);
            ck_assert(rc == PMX_OK || rc == PMX_ENOMEM);
            if (rc == PMX_OK)
                ck_assert_str_eq(out, "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1,tag=5");
            pmx_free(out);
            pve_fmt_qemu_net_free(n);
        }
        /* an error message needs memory too */
        rc = pve_fmt_qemu_net_decode("virtio,bridge=vmbr0,firewall=maybe", &n, &err);
        ck_assert(rc == PMX_EINVAL || rc == PMX_ENOMEM);
        pmx_free(err);
        err = NULL;
        if (rc == PMX_OK)
            saw_ok = 1;
        saw_ok |= out != NULL;
        saw_nomem |= rc == PMX_ENOMEM;
        ck_assert_msg(a_live == 0, "%ld blocks leaked (fail_at %ld)", a_live, a_fail_at);
    }
    ck_assert(saw_ok && saw_nomem);
    ck_assert_int_eq(pmx_set_allocator(malloc, realloc, free), PMX_OK);
}
END_TEST

static Suite *propstr_suite(void) {
    Suite *s = suite_create("propstr");
    TCase *t = tcase_create("propstr");
    tcase_add_test(t, test_qemu_net_decode);
    tcase_add_test(t, test_roundtrip_config_values);
    tcase_add_test(t, test_scsi_fields_and_alias);
    tcase_add_test(t, test_decode_errors_name_the_key);
    tcase_add_test(t, test_encode_errors_and_quoting);
    tcase_add_test(t, test_tables);
    tcase_add_test(t, test_validation_uses_propstr);
    tcase_add_test(t, test_all_formats_defaults_roundtrip);
    tcase_add_test(t, test_alloc_failures);
    suite_add_tcase(s, t);
    return s;
}
PMX_TEST_SUITE(propstr_suite)
