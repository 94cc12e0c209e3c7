/* The nftables script of pool NAT and isolation (src/ctrl/nat.c): which
 * rules each combination of pools gives, the guard when pvx turned
 * forwarding on, and a script that only deletes the table when no pool
 * needs one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/nat.h"
#include "pvc_fake_state.h"

#define DEL "add table ip pvx\ndelete table ip pvx\n"
#define REJ "reject with icmp type admin-prohibited"

static void expect_script(const struct pvc_state *st, bool guard,
			  const char *want)
{
	char *got = pvc_nat_script(st, guard);

	assert_non_null(got);
	if (strcmp(got, want) != 0)
		fail_msg("script\n got:\n%s\nwant:\n%s", got, want);
	free(got);
}

static void test_no_pools(void **unused)
{
	struct pvc_state *st = fake_state_new();

	(void)unused;
	expect_script(st, false, DEL);
	expect_script(NULL, false, DEL);
	assert_false(pvc_nat_wants_forward(st));
	fake_state_free(st);
}

static void test_one_isolated_pool(void **unused)
{
	struct pvc_state *st = fake_state_new();

	(void)unused;
	fake_pool(st, "a", "10.0.4.0/24", "10.0.4.1");
	assert_false(pvc_nat_wants_forward(st));
	expect_script(st, false,
		      DEL "table ip pvx {\n"
			  "\tchain forward {\n\t\ttype filter hook forward "
			  "priority filter; policy accept;\n\t}\n"
			  "\tchain input {\n\t\ttype filter hook input "
			  "priority filter; policy accept;\n"
			  "\t\tiifname \"br-fake\" fib daddr type local ip "
			  "daddr != 10.0.4.1 " REJ "\n\t}\n}\n");
	fake_state_free(st);
}

static void test_nat_and_isolation(void **unused)
{
	struct pvc_state *st = fake_state_new();
	struct pvc_pool *a, *b;

	(void)unused;
	a = fake_pool(st, "a", "10.0.4.0/24", "10.0.4.1");
	b = fake_pool(st, "b", "10.0.5.0/24", "10.0.5.1");
	free(a->bridge);
	a->bridge = strdup("br-a");
	free(b->bridge);
	b->bridge = strdup("br-b");
	a->nat = true;
	assert_true(pvc_nat_wants_forward(st));
	expect_script(
	    st, true,
	    DEL "table ip pvx {\n"
		"\tchain forward {\n\t\ttype filter hook forward priority "
		"filter; policy accept;\n"
		"\t\tip saddr 10.0.4.0/24 ip daddr 10.0.5.0/24 " REJ "\n"
		"\t\tip saddr 10.0.5.0/24 ip daddr 10.0.4.0/24 " REJ "\n"
		"\t\tct state established,related accept\n"
		"\t\tip saddr 10.0.4.0/24 ip daddr 10.0.4.0/24 accept\n"
		"\t\tiifname \"br-a\" ip saddr 10.0.4.0/24 accept\n"
		"\t\tip saddr 10.0.5.0/24 ip daddr 10.0.5.0/24 accept\n"
		"\t\treject with icmp type host-unreachable\n\t}\n"
		"\tchain input {\n\t\ttype filter hook input priority "
		"filter; policy accept;\n"
		"\t\tiifname \"br-a\" fib daddr type local ip daddr != "
		"10.0.4.1 " REJ "\n"
		"\t\tiifname \"br-b\" fib daddr type local ip daddr != "
		"10.0.5.1 " REJ "\n\t}\n"
		"\tchain postrouting {\n\t\ttype nat hook postrouting "
		"priority srcnat; policy accept;\n"
		"\t\tip saddr 10.0.4.0/24 oifname != \"br-a\" masquerade\n"
		"\t}\n}\n");
	fake_state_free(st);
}

/* Rules present (+) or absent (-) per combination. */
struct combo_case {
	const char *what;
	bool nat_a, iso_a, iso_b, guard;
	bool want_fwd;
	const char *has[4];
	const char *hasnt[4];
};

static const struct combo_case combos[] = {
    {"both open: no isolation, forwarding between them",
     false,
     false,
     false,
     true,
     true,
     {"iifname \"br-a\" ip saddr 10.0.4.0/24 ip daddr 10.0.5.0/24 accept",
      "iifname \"br-b\" ip saddr 10.0.5.0/24 ip daddr 10.0.4.0/24 accept"},
     {REJ, "masquerade"}},
    {"one open, one isolated: still apart",
     false,
     false,
     true,
     false,
     false,
     {"ip saddr 10.0.4.0/24 ip daddr 10.0.5.0/24 " REJ,
      "ip saddr 10.0.5.0/24 ip daddr 10.0.4.0/24 " REJ,
      "iifname \"br-b\" fib daddr type local"},
     {"iifname \"br-a\" fib", "ct state", "masquerade"}},
    {"nat without guard (forwarding was on already)",
     true,
     true,
     true,
     false,
     true,
     {"masquerade"},
     {"ct state", "host-unreachable"}},
};

static void test_combinations(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		const struct combo_case *c = &combos[i];
		struct pvc_state *st = fake_state_new();
		struct pvc_pool *a =
		    fake_pool(st, "a", "10.0.4.0/24", "10.0.4.1");
		struct pvc_pool *b =
		    fake_pool(st, "b", "10.0.5.0/24", "10.0.5.1");
		char *s;

		free(a->bridge);
		a->bridge = strdup("br-a");
		free(b->bridge);
		b->bridge = strdup("br-b");
		a->nat = c->nat_a;
		a->isolate = c->iso_a;
		b->isolate = c->iso_b;
		if (pvc_nat_wants_forward(st) != c->want_fwd)
			fail_msg("%s: wants_forward", c->what);
		s = pvc_nat_script(st, c->guard);
		assert_non_null(s);
		for (size_t k = 0; k < 4 && c->has[k]; k++)
			if (!strstr(s, c->has[k]))
				fail_msg("%s: no '%s' in\n%s", c->what,
					 c->has[k], s);
		for (size_t k = 0; k < 4 && c->hasnt[k]; k++)
			if (strstr(s, c->hasnt[k]))
				fail_msg("%s: '%s' in\n%s", c->what,
					 c->hasnt[k], s);
		free(s);
		fake_state_free(st);
	}
}

/* runtime.json's record names what pvx changed, and nothing else. */
static void test_record(void **unused)
{
	struct pvc_nat n;
	json_t *j;
	char *d;

	(void)unused;
	pvc_nat_init(&n);
	assert_null(pvc_nat_record(&n));
	n.table = true;
	j = pvc_nat_record(&n);
	d = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(d, "{\"table\":\"pvx\"}");
	free(d);
	json_decref(j);
	n.fwd_saved = 0;
	j = pvc_nat_record(&n);
	d = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(d, "{\"ip_forward\":0,\"table\":\"pvx\"}");
	free(d);
	json_decref(j);
	/* Nothing recorded, or a record of something else: nothing done. */
	assert_int_equal(pvc_nat_cleanup(NULL, NULL, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_pools),
	    cmocka_unit_test(test_one_isolated_pool),
	    cmocka_unit_test(test_nat_and_isolation),
	    cmocka_unit_test(test_combinations),
	    cmocka_unit_test(test_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
