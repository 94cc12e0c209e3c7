/* Pool kinds and options (docs/formats.md): bridge and macvlan pools,
 * nat and isolate, and their refusals with file, path and reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/state.h"

/* ' -> " so that states read well in C strings. */
static struct pvc_state *load(const char *pools, struct pvx_errlist *el)
{
	char *text, *p;
	struct pvc_state *st;

	assert_true(asprintf(&text,
			     "{'#spec':'pantavisor-service-system@1',"
			     "'device.json':{'network':{'pools':{%s}}}}",
			     pools) > 0);
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	st = pvc_state_load_buf(text, strlen(text), "state.json", el);
	free(text);
	return st;
}

static void test_kinds(void **unused)
{
	struct pvx_errlist el = {0};
	struct pvc_state *st = load(
	    "'lan':{'type':'macvlan','parent':'eth0','subnet':'10.0.8.0/24',"
	    "'gateway':'10.0.8.1'},'lan2':{'type':'macvlan','parent':'eth0',"
	    "'subnet':'10.0.9.0/24'},'p':{'bridge':'br0','subnet':"
	    "'10.0.4.0/24','nat':true},'q':{'bridge':'br1','subnet':"
	    "'10.0.5.0/24','isolate':false}",
	    &el);
	const struct pvc_pool *p;

	(void)unused;
	if (!st)
		fail_msg("refused: %s", pvx_errlist_join(&el));
	p = pvc_state_find_pool(st, "lan");
	assert_true(pvc_pool_is_macvlan(p));
	assert_string_equal(p->type, "macvlan");
	assert_string_equal(p->parent, "eth0");
	assert_null(p->bridge);
	assert_true(p->isolate);
	p = pvc_state_find_pool(st, "p");
	assert_false(pvc_pool_is_macvlan(p));
	assert_string_equal(p->bridge, "br0");
	assert_null(p->parent);
	assert_true(p->nat);
	assert_true(p->isolate); /* the default */
	assert_false(pvc_state_find_pool(st, "q")->isolate);
	/* Known keys: no typo warning for parent or isolate. */
	assert_null(pvx_errlist_find(&st->warnings, "parent"));
	assert_null(pvx_errlist_find(&st->warnings, "isolate"));
	pvc_state_free(st);
}

static const struct {
	const char *pools, *want;
} bad[] = {
    {"'lan':{'type':'macvlan','subnet':'10.0.8.0/24'}",
     "device.json: network.pools.lan.parent: missing (required)"},
    {"'lan':{'type':'macvlan','parent':'eth0','subnet':'10.0.8.0/24',"
     "'nat':true}",
     "device.json: network.pools.lan.nat: nat applies to bridge pools only"},
    {"'lan':{'type':'macvlan','parent':'a/b','subnet':'10.0.8.0/24'}",
     "device.json: network.pools.lan.parent: parent 'a/b' is not a valid "
     "interface name"},
    {"'lan':{'type':'macvlan','parent':'averyveryverylongname',"
     "'subnet':'10.0.8.0/24'}",
     "device.json: network.pools.lan.parent: parent 'averyveryverylongname'"},
    {"'lan':{'type':'vlan','bridge':'br0','subnet':'10.0.8.0/24'}",
     "device.json: network.pools.lan.type: unsupported pool type 'vlan' "
     "(expected bridge or macvlan)"},
    {"'p':{'bridge':'br0','subnet':'10.0.4.0/24','isolate':'no'}",
     "device.json: network.pools.p.isolate: expected boolean"},
    {"'p':{'bridge':'br0','subnet':'10.0.4.0/24','nat':1}",
     "device.json: network.pools.p.nat: expected boolean"},
    {"'p':{'subnet':'10.0.4.0/24'}",
     "device.json: network.pools.p.bridge: missing (required)"},
    {"'lan':{'type':'macvlan','parent':'eth0','subnet':'10.0.8.0/24',"
     "'gateway':'10.0.9.1'}",
     "device.json: network.pools.lan.gateway: gateway 10.0.9.1 outside "
     "subnet 10.0.8.0/24"},
};

static void test_bad(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct pvx_errlist el = {0};
		struct pvc_state *st = load(bad[i].pools, &el);

		if (st || !pvx_errlist_find(&el, bad[i].want))
			fail_msg("case %zu: want '%s', got:\n%s", i,
				 bad[i].want, pvx_errlist_join(&el));
		pvx_errlist_clear(&el);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
