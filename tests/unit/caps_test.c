/* pv-ctrld's privilege check (docs/runtime.md): which needed capabilities
 * an effective set lacks, named with what each is for. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <linux/capability.h>
#include <string.h>

#include "ctrl/caps.h"

#define BIT(c) (UINT64_C(1) << (c))
#define ALL                                                                    \
	(BIT(CAP_NET_ADMIN) | BIT(CAP_SYS_ADMIN) | BIT(CAP_SYS_PTRACE) |       \
	 BIT(CAP_KILL))

static void test_missing(void **state)
{
	static const struct {
		uint64_t eff;
		int n;
		const char *has;     /* in the text */
		const char *has_not; /* not in the text */
	} cases[] = {
	    {ALL, 0, "", "CAP_"},
	    {~UINT64_C(0), 0, "", "CAP_"},
	    {ALL & ~BIT(CAP_NET_ADMIN), 1, "CAP_NET_ADMIN (bridges",
	     "CAP_SYS_ADMIN"},
	    {ALL & ~BIT(CAP_SYS_ADMIN), 1, "CAP_SYS_ADMIN (new namespaces",
	     "CAP_NET_ADMIN"},
	    {ALL & ~BIT(CAP_SYS_PTRACE), 1, "CAP_SYS_PTRACE", "CAP_KILL"},
	    {0, 4,
	     "CAP_NET_ADMIN (bridges, veths, addresses, routes), "
	     "CAP_SYS_ADMIN",
	     "CAP_CHOWN"},
	    {BIT(CAP_CHOWN), 4, "CAP_KILL (stopping containers)", "CAP_CHOWN"},
	};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    pvc_caps_missing(cases[i].eff, buf, sizeof(buf)),
		    cases[i].n);
		assert_non_null(strstr(buf, cases[i].has));
		assert_null(strstr(buf, cases[i].has_not));
	}
	/* A short buffer cuts the text, never the count. */
	assert_int_equal(pvc_caps_missing(0, buf, 10), 4);
	assert_int_equal(strlen(buf), 9);
}

static void test_effective(void **state)
{
	uint64_t eff = 0;

	(void)state;
	assert_int_equal(pvc_caps_effective(&eff), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing),
	    cmocka_unit_test(test_effective),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
