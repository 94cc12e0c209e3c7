/* IPAM (SPEC §4): statics win, leases survive restarts and additions,
 * removal frees, exhaustion refuses only the one, reserved addresses are
 * never given; the lease file is strict on load and atomic on save. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrl/ipam.h"
#include "pvc_fake_state.h"

static const char *ip_of(const struct pvc_leases *l, const char *container,
			 const char *iface)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int k;
	const struct pvc_lease *x = pvc_leases_find_iface(l, container, iface);

	if (!x)
		return "none";
	k = (k + 1) % 4;
	inet_ntop(AF_INET, &x->ip, buf[k], sizeof(buf[k]));
	return buf[k];
}

static const char *ip0(const struct pvc_leases *l, const char *container)
{
	return ip_of(l, container, "eth0");
}

static void assign_ok(const struct pvc_state *st, const struct pvc_leases *prev,
		      struct pvc_leases *out)
{
	struct pvx_errlist el = {0};
	int r = pvc_ipam_assign(st, prev, out, &el);
	if (!pvx_errlist_empty(&el))
		fail_msg("unexpected ipam message: %s", el.msgs[0]);
	assert_int_equal(r, 0);
	pvx_errlist_clear(&el);
}

static void assert_same_leases(const struct pvc_leases *a,
			       const struct pvc_leases *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].container, b->v[i].container);
		assert_string_equal(a->v[i].iface, b->v[i].iface);
		assert_string_equal(a->v[i].pool, b->v[i].pool);
		assert_int_equal(a->v[i].ip.s_addr, b->v[i].ip.s_addr);
		assert_int_equal(a->v[i].prefix, b->v[i].prefix);
		assert_memory_equal(a->v[i].mac, b->v[i].mac, 6);
	}
}

/* The seed's scenario: the only container gets 10.0.4.2, MAC derived. */
static void test_seed(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l;
	char mac[18];

	(void)unused;
	fake_pool(st, "internal", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "example-nginx-ingress", "internal");
	assign_ok(st, NULL, &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(ip0(&l, "example-nginx-ingress"), "10.0.4.2");
	assert_int_equal(l.v[0].prefix, 24);
	assert_string_equal(l.v[0].pool, "internal");
	pvc_mac_format(l.v[0].mac, mac, sizeof(mac));
	assert_string_equal(mac, "02:00:0a:00:04:02");
	assert_ptr_equal(pvc_leases_find(&l, "example-nginx-ingress"), &l.v[0]);
	assert_null(pvc_leases_find(&l, "other"));
	pvc_leases_free(&l);
	fake_state_free(st);
}

/* Name order, not declaration order, decides who gets the lowest. */
static void test_name_order_and_modes(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l;

	(void)unused;
	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "zeta", "p");
	fake_container(st, "host-one", PVC_NET_HOST);
	fake_container(st, "none-one", PVC_NET_NONE);
	fake_pooled(st, "alpha", "p");
	fake_pooled(st, "mid", "p");
	assign_ok(st, NULL, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(ip0(&l, "alpha"), "10.0.4.2");
	assert_string_equal(ip0(&l, "mid"), "10.0.4.3");
	assert_string_equal(ip0(&l, "zeta"), "10.0.4.4");
	assert_string_equal(ip0(&l, "host-one"), "none");
	assert_string_equal(ip0(&l, "none-one"), "none");
	/* Output sorted by (container, iface). */
	assert_string_equal(l.v[0].container, "alpha");
	assert_string_equal(l.v[2].container, "zeta");
	pvc_leases_free(&l);
	fake_state_free(st);
}

/* A static address wins over a previous dynamic lease, which moves. */
static void test_statics_win(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l1, l2;
	struct pvc_container *c;

	(void)unused;
	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "a", "p");
	fake_pooled(st, "b", "p");
	assign_ok(st, NULL, &l1);
	assert_string_equal(ip0(&l1, "a"), "10.0.4.2");
	assert_string_equal(ip0(&l1, "b"), "10.0.4.3");

	/* New state: "c" claims a's address statically; a moves. */
	c = fake_container(st, "c", PVC_NET_POOL);
	fake_iface(c, "eth0", "p", "10.0.4.2", NULL);
	fake_sort(st);
	assign_ok(st, &l1, &l2);
	assert_string_equal(ip0(&l2, "c"), "10.0.4.2");
	assert_string_equal(ip0(&l2, "b"), "10.0.4.3"); /* untouched */
	assert_string_equal(ip0(&l2, "a"), "10.0.4.4"); /* moved */
	pvc_leases_free(&l1);
	pvc_leases_free(&l2);

	/* Static addresses are reserved even when the container holding it
	 * comes after a dynamic one in name order. */
	struct pvc_state *s2 = fake_state_new();
	fake_pool(s2, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(s2, "a", "p");
	c = fake_container(s2, "z", PVC_NET_POOL);
	fake_iface(c, "eth0", "p", "10.0.4.2", NULL);
	assign_ok(s2, NULL, &l1);
	assert_string_equal(ip0(&l1, "z"), "10.0.4.2");
	assert_string_equal(ip0(&l1, "a"), "10.0.4.3");
	pvc_leases_free(&l1);
	fake_state_free(s2);
	fake_state_free(st);
}

/* Restart: save, load, assign again -> the very same leases. */
static void test_restart_keeps_leases(void **unused)
{
	char dir[] = "/tmp/pvx-ipam-test-XXXXXX", path[256];
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l1, loaded, l2;
	struct pvx_errlist el = {0};
	struct pvc_container *c;

	(void)unused;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/leases.json", dir);
	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pool(st, "q", "10.0.5.0/28", "10.0.5.14");
	fake_pooled(st, "b", "p");
	c = fake_container(st, "c", PVC_NET_POOL);
	fake_iface(c, "eth0", "p", NULL, "aa:BB:cc:dd:ee:0f");
	fake_iface(c, "eth1", "q", NULL, NULL);
	c = fake_container(st, "d", PVC_NET_POOL);
	fake_iface(c, "eth0", "p", "10.0.4.100", NULL);
	assign_ok(st, NULL, &l1);
	assert_int_equal(l1.n, 4);
	assert_string_equal(ip_of(&l1, "c", "eth1"), "10.0.5.1");
	assert_int_equal(l1.v[1].mac[1], 0xbb);

	assert_int_equal(pvc_leases_save(path, &l1), 0);
	assert_int_equal(pvc_leases_load(path, &loaded, &el), 0);
	assert_true(pvx_errlist_empty(&el));
	assert_same_leases(&l1, &loaded);
	assign_ok(st, &loaded, &l2);
	assert_same_leases(&l1, &l2);

	pvc_leases_free(&l1);
	pvc_leases_free(&l2);
	pvc_leases_free(&loaded);
	unlink(path);
	rmdir(dir);
	fake_state_free(st);
}

/* Adding containers (even ones first in name order) never moves an
 * existing lease; they take the lowest addresses left. */
static void test_adding_never_moves(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l1, l2;

	(void)unused;
	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "m", "p");
	fake_pooled(st, "x", "p");
	assign_ok(st, NULL, &l1);
	assert_string_equal(ip0(&l1, "m"), "10.0.4.2");
	assert_string_equal(ip0(&l1, "x"), "10.0.4.3");
	fake_pooled(st, "a", "p");
	fake_pooled(st, "n", "p");
	fake_pooled(st, "zz", "p");
	fake_sort(st);
	assign_ok(st, &l1, &l2);
	assert_string_equal(ip0(&l2, "m"), "10.0.4.2");
	assert_string_equal(ip0(&l2, "x"), "10.0.4.3");
	assert_string_equal(ip0(&l2, "a"), "10.0.4.4");
	assert_string_equal(ip0(&l2, "n"), "10.0.4.5");
	assert_string_equal(ip0(&l2, "zz"), "10.0.4.6");
	pvc_leases_free(&l1);
	pvc_leases_free(&l2);
	fake_state_free(st);
}

/* Removing a container frees its lease; the next newcomer may get it. */
static void test_removal_frees(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_leases l1, l2, l3;

	(void)unused;
	fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "a", "p");
	fake_pooled(st, "b", "p");
	fake_pooled(st, "c", "p");
	assign_ok(st, NULL, &l1);
	fake_remove_container(st, 1); /* b */
	assign_ok(st, &l1, &l2);
	assert_int_equal(l2.n, 2);
	assert_null(pvc_leases_find(&l2, "b"));
	assert_string_equal(ip0(&l2, "a"), "10.0.4.2");
	assert_string_equal(ip0(&l2, "c"), "10.0.4.4");
	fake_pooled(st, "d", "p");
	assign_ok(st, &l2, &l3);
	assert_string_equal(ip0(&l3, "d"), "10.0.4.3");
	assert_string_equal(ip0(&l3, "c"), "10.0.4.4");
	pvc_leases_free(&l1);
	pvc_leases_free(&l2);
	pvc_leases_free(&l3);
	fake_state_free(st);
}

/* A /30 has one address to give (.1 is the gateway): the first container
 * is served, the others get one message each, another pool is served. */
static void test_exhaustion_refuses_only_the_one(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvx_errlist el = {0};
	struct pvc_leases l;
	struct pvc_container *c;

	(void)unused;
	fake_pool(st, "small", "10.0.9.0/30", "10.0.9.1");
	fake_pool(st, "big", "10.0.4.0/24", "10.0.4.1");
	fake_pooled(st, "a", "small");
	c = fake_container(st, "b", PVC_NET_POOL);
	fake_iface(c, "eth0", "small", NULL, NULL);
	fake_iface(c, "eth1", "small", NULL, NULL);
	fake_iface(c, "eth2", "big", NULL, NULL);
	fake_pooled(st, "c", "small");
	fake_pooled(st, "d", "big");
	assert_int_equal(pvc_ipam_assign(st, NULL, &l, &el), 0);
	assert_string_equal(ip0(&l, "a"), "10.0.9.2");
	assert_string_equal(ip0(&l, "b"), "none");
	assert_string_equal(ip_of(&l, "b", "eth1"), "none");
	assert_string_equal(ip_of(&l, "b", "eth2"), "10.0.4.2");
	assert_string_equal(ip0(&l, "c"), "none");
	assert_string_equal(ip0(&l, "d"), "10.0.4.3");
	assert_int_equal(el.n, 2);
	assert_string_equal(el.msgs[0],
			    "ipam: b: pool small exhausted (10.0.9.0/30)");
	assert_string_equal(el.msgs[1],
			    "ipam: c: pool small exhausted (10.0.9.0/30)");
	pvx_errlist_clear(&el);
	pvc_leases_free(&l);
	fake_state_free(st);
}

struct pool_case {
	const char *subnet;
	const char *gw;
	unsigned usable; /* addresses IPAM may hand out */
};

static const struct pool_case pool_cases[] = {
    {"10.0.4.0/24", "10.0.4.1", 253}, {"10.0.4.0/24", "10.0.4.254", 253},
    {"10.0.4.0/29", "10.0.4.3", 5},   {"10.0.4.16/28", "10.0.4.30", 13},
    {"10.0.4.0/30", "10.0.4.2", 1},   {"10.0.4.0/31", "10.0.4.1", 0},
    {"10.0.4.7/32", "10.0.4.7", 0},   {"10.1.0.0/23", "10.1.1.0", 509},
};

/* Fill every pool to exhaustion: never network, broadcast or gateway,
 * never twice, always inside the subnet. */
static void test_reserved_never_given(void **unused)
{
	(void)unused;
	for (size_t t = 0; t < sizeof(pool_cases) / sizeof(pool_cases[0]);
	     t++) {
		const struct pool_case *pc = &pool_cases[t];
		struct pvc_state *st = fake_state_new();
		struct pvx_errlist el = {0};
		struct pvc_leases l;
		struct pvc_pool *p;
		/* FAKE_MAX containers with FAKE_MAX interfaces each */
		unsigned want = pc->usable + 2, made = 0;
		uint32_t net, bc, gw;

		p = fake_pool(st, "p", pc->subnet, pc->gw);
		for (unsigned i = 0; made < want && i < FAKE_MAX; i++) {
			char name[16];
			struct pvc_container *c;
			snprintf(name, sizeof(name), "c%03u", i);
			c = fake_container(st, name, PVC_NET_POOL);
			for (unsigned k = 0; made < want && k < FAKE_MAX;
			     k++, made++) {
				char ifn[16];
				snprintf(ifn, sizeof(ifn), "eth%u", k);
				fake_iface(c, ifn, "p", NULL, NULL);
			}
		}
		assert_int_equal(pvc_ipam_assign(st, NULL, &l, &el), 0);
		assert_int_equal(l.n, pc->usable);
		assert_false(pvx_errlist_empty(&el));
		net = ntohl(p->subnet.addr.s_addr);
		bc = ntohl(pvx_cidr_broadcast(&p->subnet).s_addr);
		gw = ntohl(p->gateway.s_addr);
		for (size_t i = 0; i < l.n; i++) {
			uint32_t ip = ntohl(l.v[i].ip.s_addr);
			assert_true(pvx_cidr_contains(&p->subnet, l.v[i].ip));
			assert_int_not_equal(ip, net);
			assert_int_not_equal(ip, bc);
			assert_int_not_equal(ip, gw);
			for (size_t j = 0; j < i; j++)
				assert_int_not_equal(l.v[j].ip.s_addr,
						     l.v[i].ip.s_addr);
		}
		pvx_errlist_clear(&el);
		pvc_leases_free(&l);
		fake_state_free(st);
	}
}

struct prev_case {
	const char *what;
	const char *prev_ip;
	const char *prev_pool;
	const char *prev_iface;
	const char *want; /* a's address after assignment */
};

/* Which previous leases survive: only valid, free ones of the same
 * container, interface and pool. b holds 10.0.4.2 in every case. */
static const struct prev_case prev_cases[] = {
    {"kept", "10.0.4.77", "p", "eth0", "10.0.4.77"},
    {"outside subnet", "10.0.5.7", "p", "eth0", "10.0.4.3"},
    {"gateway", "10.0.4.1", "p", "eth0", "10.0.4.3"},
    {"network", "10.0.4.0", "p", "eth0", "10.0.4.3"},
    {"broadcast", "10.0.4.255", "p", "eth0", "10.0.4.3"},
    {"other pool", "10.0.4.77", "old", "eth0", "10.0.4.3"},
    {"other iface", "10.0.4.77", "p", "eth9", "10.0.4.3"},
    {"taken by b (name order)", "10.0.4.2", "p", "eth0", "10.0.4.2"},
};

static void test_prev_validity(void **unused)
{
	(void)unused;
	for (size_t t = 0; t < sizeof(prev_cases) / sizeof(prev_cases[0]);
	     t++) {
		const struct prev_case *pc = &prev_cases[t];
		struct pvc_state *st = fake_state_new();
		struct pvc_lease pv[2] = {0};
		struct pvc_leases prev = {pv, 2}, l;

		fake_pool(st, "p", "10.0.4.0/24", "10.0.4.1");
		fake_pooled(st, "a", "p");
		fake_pooled(st, "b", "p");
		pv[0] = (struct pvc_lease){.container = "a",
					   .iface = (char *)pc->prev_iface,
					   .pool = (char *)pc->prev_pool};
		inet_pton(AF_INET, pc->prev_ip, &pv[0].ip);
		pv[1] = (struct pvc_lease){
		    .container = "b", .iface = "eth0", .pool = "p"};
		inet_pton(AF_INET, "10.0.4.2", &pv[1].ip);
		assign_ok(st, &prev, &l);
		if (strcmp(ip0(&l, "a"), pc->want) != 0)
			fail_msg("case '%s': a got %s, want %s", pc->what,
				 ip0(&l, "a"), pc->want);
		/* Conflicting previous leases: the first in name order keeps
		 * it, the other one moves. */
		if (t == sizeof(prev_cases) / sizeof(prev_cases[0]) - 1)
			assert_string_equal(ip0(&l, "b"), "10.0.4.3");
		else
			assert_string_equal(ip0(&l, "b"), "10.0.4.2");
		pvc_leases_free(&l);
		fake_state_free(st);
	}
}

static void test_mac(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvx_errlist el = {0};
	struct pvc_leases l;
	struct pvc_container *c;
	char mac[18];

	(void)unused;
	fake_pool(st, "p", "192.168.7.0/24", "192.168.7.1");
	c = fake_container(st, "a", PVC_NET_POOL);
	fake_iface(c, "eth0", "p", NULL, "AA:bb:0c:dd:ee:ff");
	fake_iface(c, "eth1", "p", NULL, "aa:bb:cc:dd:ee"); /* bad */
	fake_iface(c, "eth2", "p", "192.168.7.200", NULL);
	assert_int_equal(pvc_ipam_assign(st, NULL, &l, &el), 0);
	assert_int_equal(l.n, 3);
	pvc_mac_format(pvc_leases_find_iface(&l, "a", "eth0")->mac, mac,
		       sizeof(mac));
	assert_string_equal(mac, "aa:bb:0c:dd:ee:ff");
	pvc_mac_format(pvc_leases_find_iface(&l, "a", "eth1")->mac, mac,
		       sizeof(mac));
	assert_string_equal(mac, "02:00:c0:a8:07:03");
	pvc_mac_format(pvc_leases_find_iface(&l, "a", "eth2")->mac, mac,
		       sizeof(mac));
	assert_string_equal(mac, "02:00:c0:a8:07:c8");
	assert_int_equal(el.n, 1);
	assert_non_null(
	    pvx_errlist_find(&el, "ipam: a: eth1: bad mac_address"));
	pvx_errlist_clear(&el);
	pvc_leases_free(&l);
	fake_state_free(st);
}

static void test_mac_parse_table(void **unused)
{
	static const struct {
		const char *in;
		int ok;
	} cases[] = {
	    {"00:11:22:33:44:55", 1},
	    {"AA:BB:CC:DD:EE:FF", 1},
	    {"aa:bb:cc:dd:ee:f", 0},
	    {"aa:bb:cc:dd:ee:ff:", 0},
	    {"aa-bb-cc-dd-ee-ff", 0},
	    {"gg:bb:cc:dd:ee:ff", 0},
	    {"", 0},
	    {"aabbccddeeff", 0},
	    {"aa:bb:cc:dd:ee:ff0", 0},
	    {" a:bb:cc:dd:ee:ff", 0},
	};
	(void)unused;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t m[6];
		int r = pvc_mac_parse(cases[i].in, m);
		if ((r == 0) != cases[i].ok)
			fail_msg("mac '%s': got %d", cases[i].in, r);
	}
}

/* ---- lease file ---- */

static char tdir[64];

static int dir_setup(void **unused)
{
	(void)unused;
	snprintf(tdir, sizeof(tdir), "/tmp/pvx-leases-test-XXXXXX");
	return mkdtemp(tdir) ? 0 : -1;
}

static int dir_teardown(void **unused)
{
	DIR *d = opendir(tdir);
	struct dirent *e;
	char p[512];

	(void)unused;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", tdir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	return rmdir(tdir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_missing_is_empty(void **unused)
{
	struct pvx_errlist el = {0};
	struct pvc_leases l;
	char path[128];

	(void)unused;
	snprintf(path, sizeof(path), "%s/nothing.json", tdir);
	assert_int_equal(pvc_leases_load(path, &l, &el), 0);
	assert_int_equal(l.n, 0);
	assert_true(pvx_errlist_empty(&el));
	pvc_leases_free(&l);
}

#define L1 "{\"container\":\"a\",\"interface\":\"eth0\",\"pool\":\"p\","
#define OKIPMAC "\"ip\":\"10.0.4.2\",\"mac\":\"02:00:0a:00:04:02\"}"
#define DOC(leases) "{\"version\":1,\"leases\":[" leases "]}"

struct bad_file {
	const char *text;
	const char *reason; /* after "<path>: " */
};

static const struct bad_file bad_files[] = {
    {"not json", ":1:3: '[' or '{' expected"},
    {"{\"version\":1,", ":1:13: string or '}' expected"},
    {"[]", ": expected a JSON object at top level"},
    {"{\"version\":2,\"leases\":[]}", ": version: expected 1"},
    {"{\"version\":\"1\",\"leases\":[]}", ": version: expected 1"},
    {"{\"leases\":[]}", ": version: missing"},
    {"{\"version\":1}", ": leases: missing"},
    {"{\"version\":1,\"leases\":{}}", ": leases: expected an array"},
    {"{\"version\":1,\"version\":1,\"leases\":[]}", "duplicate object key"},
    {DOC("1"), ": leases[0]: expected an object"},
    {DOC("{\"interface\":\"eth0\",\"pool\":\"p\"," OKIPMAC),
     ": leases[0].container: missing"},
    {DOC("{\"container\":5,\"interface\":\"eth0\",\"pool\":\"p\"," OKIPMAC),
     ": leases[0].container: expected a non-empty string"},
    {DOC("{\"container\":\"\",\"interface\":\"eth0\",\"pool\":\"p\"," OKIPMAC),
     ": leases[0].container: expected a non-empty string"},
    {DOC("{\"container\":\"a\",\"interface\":null,\"pool\":\"p\"," OKIPMAC),
     ": leases[0].interface: expected a non-empty string"},
    {DOC("{\"container\":\"a\",\"interface\":\"eth0\"," OKIPMAC),
     ": leases[0].pool: missing"},
    {DOC(L1 "\"ip\":\"10.0.4\",\"mac\":\"02:00:0a:00:04:02\"}"),
     ": leases[0].ip: '10.0.4' is not an IPv4 address"},
    {DOC(L1 "\"ip\":\"10.0.4.2/24\",\"mac\":\"02:00:0a:00:04:02\"}"),
     ": leases[0].ip: '10.0.4.2/24' is not an IPv4 address"},
    {DOC(L1 "\"ip\":167773186,\"mac\":\"02:00:0a:00:04:02\"}"),
     ": leases[0].ip: expected a non-empty string"},
    {DOC(L1 "\"ip\":\"10.0.4.2\",\"mac\":\"02:00:0a:00:04\"}"),
     ": leases[0].mac: '02:00:0a:00:04' is not a MAC address"},
    {DOC(L1 "\"ip\":\"10.0.4.2\"}"), ": leases[0].mac: missing"},
    {DOC(L1 "\"prefix\":33," OKIPMAC),
     ": leases[0].prefix: expected an integer 0-32"},
    {DOC(L1 "\"prefix\":\"24\"," OKIPMAC),
     ": leases[0].prefix: expected an integer 0-32"},
    {DOC(L1 OKIPMAC "," L1 OKIPMAC),
     ": leases[1]: second lease for container a interface eth0"},
};

static void test_load_corrupt_table(void **unused)
{
	char path[128], want[512];

	(void)unused;
	snprintf(path, sizeof(path), "%s/leases.json", tdir);
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_leases l;
		int r;

		write_file(path, bad_files[i].text);
		r = pvc_leases_load(path, &l, &el);
		snprintf(want, sizeof(want), "%s%s", path, bad_files[i].reason);
		if (r != -EINVAL || l.n != 0 || l.v != NULL)
			fail_msg("case %zu: r=%d n=%zu", i, r, l.n);
		if (!pvx_errlist_find(&el, want) &&
		    !(bad_files[i].reason[0] != ':' &&
		      pvx_errlist_find(&el, bad_files[i].reason) &&
		      strncmp(el.msgs[0], path, strlen(path)) == 0))
			fail_msg("case %zu: want '%s', got '%s'", i, want,
				 el.n ? el.msgs[0] : "(nothing)");
		pvx_errlist_clear(&el);
	}
}

/* Every problem of a file is reported, not only the first. */
static void test_load_reports_all(void **unused)
{
	struct pvx_errlist el = {0};
	struct pvc_leases l;
	char path[128];

	(void)unused;
	snprintf(path, sizeof(path), "%s/leases.json", tdir);
	write_file(path, "{\"version\":7,\"leases\":[" L1
			 "\"ip\":\"x\",\"mac\":\"02:00:0a:00:04:02\"}, 3, " L1
			 "\"ip\":\"10.0.4.2\",\"mac\":\"y\"}]}");
	assert_int_equal(pvc_leases_load(path, &l, &el), -EINVAL);
	assert_int_equal(el.n, 4);
	assert_non_null(pvx_errlist_find(&el, "version: expected 1"));
	assert_non_null(pvx_errlist_find(&el, "leases[0].ip"));
	assert_non_null(pvx_errlist_find(&el, "leases[1]: expected an object"));
	assert_non_null(pvx_errlist_find(&el, "leases[2].mac"));
	pvx_errlist_clear(&el);
}

static void test_load_unreadable(void **unused)
{
	struct pvx_errlist el = {0};
	struct pvc_leases l;

	(void)unused;
	/* A directory where the file should be. */
	assert_true(pvc_leases_load(tdir, &l, &el) < 0);
	assert_int_equal(el.n, 1);
	assert_int_equal(strncmp(el.msgs[0], tdir, strlen(tdir)), 0);
	pvx_errlist_clear(&el);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_save_atomic(void **unused)
{
	struct pvc_lease v[2] = {
	    {.container = "b",
	     .iface = "eth0",
	     .pool = "p",
	     .prefix = 24,
	     .mac = {2, 0, 10, 0, 4, 3}},
	    {.container = "a",
	     .iface = "eth1",
	     .pool = "q",
	     .prefix = 16,
	     .mac = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}},
	};
	struct pvc_leases in = {v, 2}, out, empty = {NULL, 0};
	struct pvx_errlist el = {0};
	char path[128], bad[160];
	struct stat sb;

	(void)unused;
	inet_pton(AF_INET, "10.0.4.3", &v[0].ip);
	inet_pton(AF_INET, "10.1.0.9", &v[1].ip);
	snprintf(path, sizeof(path), "%s/leases.json", tdir);
	write_file(path, "old contents");
	assert_int_equal(pvc_leases_save(path, &in), 0);
	/* The target and the damaged file it replaced, moved aside (not
	 * made the previous generation): no temp file left behind. */
	assert_int_equal(count_entries(tdir), 2);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(pvc_leases_load(path, &out, &el), 0);
	assert_int_equal(out.n, 2);
	/* Loaded leases come back sorted. */
	assert_string_equal(out.v[0].container, "a");
	assert_int_equal(out.v[0].prefix, 16);
	assert_int_equal(out.v[0].ip.s_addr, v[1].ip.s_addr);
	assert_memory_equal(out.v[0].mac, v[1].mac, 6);
	assert_string_equal(out.v[1].pool, "p");
	pvc_leases_free(&out);

	/* An empty set is a valid file too. */
	assert_int_equal(pvc_leases_save(path, &empty), 0);
	assert_int_equal(pvc_leases_load(path, &out, &el), 0);
	assert_int_equal(out.n, 0);
	pvc_leases_free(&out);
	/* The valid file it replaced is now leases.json.prev. */
	assert_int_equal(count_entries(tdir), 3);

	/* A directory that does not exist: an error, nothing left over. */
	snprintf(bad, sizeof(bad), "%s/nodir/leases.json", tdir);
	assert_int_equal(pvc_leases_save(bad, &in), -ENOENT);
	assert_int_equal(count_entries(tdir), 3);
	assert_true(pvx_errlist_empty(&el));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed),
	    cmocka_unit_test(test_name_order_and_modes),
	    cmocka_unit_test(test_statics_win),
	    cmocka_unit_test(test_restart_keeps_leases),
	    cmocka_unit_test(test_adding_never_moves),
	    cmocka_unit_test(test_removal_frees),
	    cmocka_unit_test(test_exhaustion_refuses_only_the_one),
	    cmocka_unit_test(test_reserved_never_given),
	    cmocka_unit_test(test_prev_validity),
	    cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_mac_parse_table),
	    cmocka_unit_test_setup_teardown(test_load_missing_is_empty,
					    dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(test_load_corrupt_table, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_load_reports_all, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_load_unreadable, dir_setup,
					    dir_teardown),
	    cmocka_unit_test_setup_teardown(test_save_atomic, dir_setup,
					    dir_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
