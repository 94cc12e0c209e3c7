/* Lease file generations (docs/graph.md): any single damaged write is
 * survived through PATH.prev, a damaged file is moved aside and never
 * overwritten, the choice of the generation is pure and table-tested. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl/ipam.h"
#include "ctrl/netdev.h"
#include "ctrl/observe.h"
#include "pvc_fake_state.h"

#define M PVC_LEASE_GEN_MISSING
#define V PVC_LEASE_GEN_VALID
#define D PVC_LEASE_GEN_DAMAGED
#define U PVC_LEASE_GEN_UNREADABLE

static void test_pick_table(void **unused)
{
	static const struct {
		enum pvc_lease_gen g[PVC_LEASE_GENS];
		int want;
	} t[] = {
	    {{V, V}, 0},  {{V, D}, 0},	{{V, M}, 0},  {{V, U}, 0},
	    {{D, V}, 1},  {{M, V}, 1},	{{U, V}, 1},  {{D, D}, -1},
	    {{M, M}, -1}, {{D, M}, -1}, {{M, D}, -1}, {{U, U}, -1},
	};
	(void)unused;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (pvc_leases_pick(t[i].g, PVC_LEASE_GENS) != t[i].want)
			fail_msg("case %zu: picked %d, want %d", i,
				 pvc_leases_pick(t[i].g, PVC_LEASE_GENS),
				 t[i].want);
	assert_int_equal(pvc_leases_pick(NULL, 0), -1);
}

static void test_gen_of_table(void **unused)
{
	static const struct {
		int r;
		enum pvc_lease_gen want;
	} t[] = {
	    {0, V},	  {-ENOENT, M}, {-EINVAL, D}, {-EFBIG, D},  {-EIO, U},
	    {-EACCES, U}, {-ENOMEM, U}, {-EPERM, U},  {-EISDIR, U},
	};
	(void)unused;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (pvc_lease_gen_of(t[i].r) != t[i].want)
			fail_msg("case %zu: %d", i, t[i].r);
}

static char tdir[48], lpath[128], ppath[160];

static int dir_setup(void **unused)
{
	(void)unused;
	snprintf(tdir, sizeof(tdir), "/tmp/pvx-lgen-test-XXXXXX");
	if (!mkdtemp(tdir))
		return -1;
	snprintf(lpath, sizeof(lpath), "%s/leases.json", tdir);
	snprintf(ppath, sizeof(ppath), "%s/leases.json.prev", tdir);
	return 0;
}

static int dir_teardown(void **unused)
{
	DIR *d = opendir(tdir);
	struct dirent *e;
	char p[512];

	(void)unused;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", tdir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	return rmdir(tdir);
}

/* One lease: container c, eth0, pool p, 10.0.4.<host>. */
static struct pvc_leases one(struct pvc_lease *l, const char *c, int host)
{
	char ip[32];

	memset(l, 0, sizeof(*l));
	l->container = (char *)c;
	l->iface = "eth0";
	l->pool = "p";
	l->prefix = 24;
	snprintf(ip, sizeof(ip), "10.0.4.%d", host);
	inet_pton(AF_INET, ip, &l->ip);
	return (struct pvc_leases){l, 1};
}

static void write_bytes(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Names of the files in tdir starting with "leases.json.damaged-". */
static int count_damaged(char names[][512], int max)
{
	DIR *d = opendir(tdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "leases.json.damaged-", 20)) {
			if (n < max)
				snprintf(names[n], 512, "%s/%s", tdir,
					 e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static int has_msg(const struct pvx_errlist *el, const char *needle)
{
	return pvx_errlist_find(el, needle) != NULL;
}

static const char *ip_str(const struct pvc_leases *l, size_t i)
{
	static char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &l->v[i].ip, buf, sizeof(buf));
	return buf;
}

/* Every single damaged write of the newest generation: the previous one
 * is used, the damaged bytes are kept aside, untouched. */
static void test_damaged_newest_uses_prev(void **unused)
{
	static const struct {
		const char *name, *bytes;
		size_t len; /* 0: strlen */
	} dmg[] = {
	    {"empty", "", 0},
	    {"truncated", "{\"version\":1,\"leases\":[{\"container\":\"c\",",
	     0},
	    {"invalid json", "not json at all\n", 0},
	    {"nul bytes", "\0\0\0\0\0\0\0\0", 8},
	    {"wrong version", "{\"version\":7,\"leases\":[]}", 0},
	    {"bad lease", "{\"version\":1,\"leases\":[{\"container\":\"c\"}]}",
	     0},
	    {"top-level array", "[]", 0},
	};
	(void)unused;
	for (size_t k = 0; k < sizeof(dmg) / sizeof(dmg[0]); k++) {
		struct pvc_lease a, b;
		struct pvc_leases la = one(&a, "c", 7), lb = one(&b, "c", 9);
		struct pvc_leases out = {0};
		struct pvx_errlist w = {0};
		char names[4][512];
		size_t len = dmg[k].len ? dmg[k].len : strlen(dmg[k].bytes);
		int used = 42;
		char *kept;

		assert_int_equal(dir_teardown(NULL), 0);
		assert_int_equal(dir_setup(NULL), 0);
		assert_int_equal(pvc_leases_save(lpath, &la), 0);
		assert_int_equal(pvc_leases_save(lpath, &lb), 0);
		/* The damaged write of the newest generation. */
		write_bytes(lpath, dmg[k].bytes, len);

		assert_int_equal(
		    pvc_leases_recover(lpath, 1700000000, &out, &used, &w), 0);
		if (used != 1 || out.n != 1)
			fail_msg("%s: used %d, %zu leases", dmg[k].name, used,
				 out.n);
		assert_string_equal(ip_str(&out, 0), "10.0.4.7");
		assert_true(has_msg(&w, "LEASE FILE DAMAGED"));
		assert_true(has_msg(&w, "moved aside"));
		assert_true(has_msg(&w, "previous generation"));
		/* Moved aside with its bytes, the file itself is gone. */
		assert_int_equal(count_damaged(names, 4), 1);
		assert_non_null(strstr(names[0], "20231114T221320Z"));
		kept = read_all(names[0]);
		assert_non_null(kept);
		assert_memory_equal(kept, dmg[k].bytes, len);
		assert_int_equal(access(lpath, F_OK), -1);
		pvc_leases_free(&out);
		pvx_errlist_clear(&w);

		/* The next save does not make the damage the fallback:
		 * .prev still holds the good generation. */
		assert_int_equal(pvc_leases_save(lpath, &lb), 0);
		assert_int_equal(
		    pvc_leases_recover(lpath, 1700000001, &out, &used, &w), 0);
		assert_int_equal(used, 0);
		assert_string_equal(ip_str(&out, 0), "10.0.4.9");
		assert_true(pvx_errlist_empty(&w));
		pvc_leases_free(&out);
		assert_int_equal(pvc_leases_load(ppath, &out, &w), 0);
		assert_string_equal(ip_str(&out, 0), "10.0.4.7");
		pvc_leases_free(&out);
	}
}

static void test_both_damaged(void **unused)
{
	struct pvc_leases out = {0};
	struct pvx_errlist w = {0};
	char names[4][512];
	int used = 42;

	(void)unused;
	write_bytes(lpath, "{", 1);
	write_bytes(ppath, "", 0);
	assert_int_equal(pvc_leases_recover(lpath, 1700000000, &out, &used, &w),
			 0);
	assert_int_equal(used, -1);
	assert_int_equal(out.n, 0);
	assert_true(has_msg(&w, "LEASES LOST"));
	/* Same second: the second one gets its own name. */
	assert_int_equal(count_damaged(names, 4), 2);
	assert_int_equal(access(lpath, F_OK), -1);
	assert_int_equal(access(ppath, F_OK), -1);
	pvx_errlist_clear(&w);
}

static void test_missing_and_prev_only(void **unused)
{
	struct pvc_lease a;
	struct pvc_leases la = one(&a, "x", 5), out = {0};
	struct pvx_errlist w = {0};
	char names[1][512];
	int used = 42;

	(void)unused;
	/* First start: nothing, and nothing to say. */
	assert_int_equal(pvc_leases_recover(lpath, 1, &out, &used, &w), 0);
	assert_int_equal(used, -1);
	assert_int_equal(out.n, 0);
	assert_true(pvx_errlist_empty(&w));

	/* Only the previous generation (the newest was deleted). */
	assert_int_equal(pvc_leases_save(ppath, &la), 0);
	assert_int_equal(pvc_leases_recover(lpath, 1, &out, &used, &w), 0);
	assert_int_equal(used, 1);
	assert_string_equal(out.v[0].container, "x");
	assert_true(has_msg(&w, "previous generation"));
	assert_int_equal(count_damaged(names, 1), 0);
	pvc_leases_free(&out);
	pvx_errlist_clear(&w);
}

static void test_damaged_prev_moved_newest_used(void **unused)
{
	struct pvc_lease a;
	struct pvc_leases la = one(&a, "c", 3), out = {0};
	struct pvx_errlist w = {0};
	char names[2][512];
	int used = 42;

	(void)unused;
	assert_int_equal(pvc_leases_save(lpath, &la), 0);
	write_bytes(ppath, "garbage", 7);
	assert_int_equal(pvc_leases_recover(lpath, 1, &out, &used, &w), 0);
	assert_int_equal(used, 0);
	assert_string_equal(ip_str(&out, 0), "10.0.4.3");
	assert_true(has_msg(&w, "leases.json.prev"));
	assert_true(has_msg(&w, "moved aside"));
	assert_int_equal(count_damaged(names, 2), 1);
	assert_int_equal(access(ppath, F_OK), -1);
	pvc_leases_free(&out);
	pvx_errlist_clear(&w);
}

/* A damaged file is never overwritten: an earlier one moved aside in the
 * same second keeps its bytes. */
static void test_move_aside_never_overwrites(void **unused)
{
	struct pvc_leases out = {0};
	struct pvx_errlist w = {0};
	char names[4][512];
	int used;

	(void)unused;
	for (int i = 0; i < 3; i++) {
		char bytes[16];
		snprintf(bytes, sizeof(bytes), "bad %d", i);
		write_bytes(lpath, bytes, strlen(bytes));
		assert_int_equal(
		    pvc_leases_recover(lpath, 1700000000, &out, &used, &w), 0);
		assert_int_equal(used, -1);
		pvx_errlist_clear(&w);
	}
	assert_int_equal(count_damaged(names, 4), 3);
	for (int i = 0; i < 3; i++) {
		char want[16];
		int found = 0;
		snprintf(want, sizeof(want), "bad %d", i);
		for (int k = 0; k < 3; k++)
			found += !strcmp(read_all(names[k]), want);
		assert_int_equal(found, 1);
	}
}

/* An unreadable generation is left as it is (the file may be fine). */
static void test_unreadable_left_alone(void **unused)
{
	struct pvc_lease a;
	struct pvc_leases la = one(&a, "c", 4), out = {0};
	struct pvx_errlist w = {0};
	char names[1][512];
	int used;

	(void)unused;
	assert_int_equal(pvc_leases_save(ppath, &la), 0);
	/* A FIFO is "not a regular file": damaged. A directory cannot be
	 * opened for reading as a file: pvx_file_read says EISDIR or
	 * EINVAL; either way the previous generation is used. */
	assert_int_equal(mkdir(lpath, 0700), 0);
	assert_int_equal(pvc_leases_recover(lpath, 5, &out, &used, &w), 0);
	assert_int_equal(used, 1);
	assert_string_equal(ip_str(&out, 0), "10.0.4.4");
	(void)count_damaged(names, 1);
	pvc_leases_free(&out);
	pvx_errlist_clear(&w);
}

/* Addresses seen on the peers of host veths become the previous leases of
 * the interfaces those veths are named after; the rest is ignored, and
 * IPAM keeps them (with no lease file, a fresh assignment would swap). */
static void test_from_seen(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_container *c;
	struct pvc_seen v[4];
	struct pvc_seen_set seen = {v, 4};
	struct pvc_leases prev = {0}, out = {0};
	struct pvx_errlist el = {0};

	(void)unused;
	memset(v, 0, sizeof(v));
	fake_pool(st, "internal", "10.0.4.0/24", "10.0.4.1");
	fake_pool(st, "other", "10.0.9.0/24", "10.0.9.1");
	fake_pooled(st, "alpha", "internal");
	fake_pooled(st, "zeta", "internal");
	c = fake_container(st, "multi", PVC_NET_POOL);
	fake_iface(c, "eth0", "internal", NULL, NULL);
	fake_iface(c, "eth1", "other", NULL, NULL);
	fake_container(st, "hostc", PVC_NET_HOST);

	pvc_netdev_veth_name("alpha", "eth0", v[0].veth);
	inet_pton(AF_INET, "10.0.4.3", &v[0].ip);
	pvc_netdev_veth_name("zeta", "eth0", v[1].veth);
	inet_pton(AF_INET, "10.0.4.2", &v[1].ip);
	pvc_netdev_veth_name("multi", "eth1", v[2].veth);
	inet_pton(AF_INET, "10.0.9.7", &v[2].ip);
	/* A veth of a container that is not in the state. */
	pvc_netdev_veth_name("gone", "eth0", v[3].veth);
	inet_pton(AF_INET, "10.0.4.4", &v[3].ip);
	for (int i = 0; i < 4; i++) {
		v[i].prefix = 24;
		snprintf(v[i].iface, sizeof(v[i].iface), "eth0");
	}

	assert_int_equal(pvc_leases_from_seen(st, &seen, &prev), 0);
	assert_int_equal(prev.n, 3);
	assert_string_equal(prev.v[0].container, "alpha");
	assert_string_equal(prev.v[0].pool, "internal");
	assert_string_equal(prev.v[1].container, "multi");
	assert_string_equal(prev.v[1].iface, "eth1");
	assert_string_equal(prev.v[1].pool, "other");
	assert_string_equal(prev.v[2].container, "zeta");

	assert_int_equal(pvc_ipam_assign(st, &prev, &out, &el), 0);
	assert_true(pvx_errlist_empty(&el));
	assert_string_equal(out.v[0].container, "alpha");
	assert_string_equal(ip_str(&out, 0), "10.0.4.3");
	assert_string_equal(out.v[3].container, "zeta");
	assert_string_equal(ip_str(&out, 3), "10.0.4.2");
	/* multi eth0 was not seen: the lowest free address. */
	assert_string_equal(out.v[1].iface, "eth0");
	assert_string_equal(ip_str(&out, 1), "10.0.4.4");
	assert_string_equal(ip_str(&out, 2), "10.0.9.7");

	/* Nothing seen: nothing kept. */
	seen.n = 0;
	pvc_leases_free(&prev);
	assert_int_equal(pvc_leases_from_seen(st, &seen, &prev), 0);
	assert_int_equal(prev.n, 0);
	pvc_leases_free(&prev);
	pvc_leases_free(&out);
	fake_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick_table),
	    cmocka_unit_test(test_gen_of_table),
	    cmocka_unit_test(test_from_seen),
	    cmocka_unit_test_setup_teardown(test_damaged_newest_uses_prev,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_both_damaged, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_and_prev_only,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_prev_moved_newest_used,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_move_aside_never_overwrites,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_left_alone,
					    dir_setup, dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
