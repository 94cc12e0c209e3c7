/* A pool container's /etc/hosts and /etc/resolv.conf texts
 * (src/ctrl/etcfiles.c): its own name at its lease, localhost; the
 * device's reachable resolvers only with NAT, never loopback ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/etcfiles.h"

#define HEAD "# written by pv-ctrld for this container\n"

static void test_hosts(void **unused)
{
	struct in_addr a;
	char *s;

	(void)unused;
	inet_pton(AF_INET, "10.0.4.7", &a);
	s = pvc_etc_hosts("web", &a);
	assert_string_equal(s, HEAD "127.0.0.1\tlocalhost\n"
				    "::1\tlocalhost ip6-localhost "
				    "ip6-loopback\n"
				    "10.0.4.7\tweb\n");
	free(s);
	/* No lease (pool exhausted): still resolvable, locally. */
	s = pvc_etc_hosts("web", NULL);
	assert_non_null(strstr(s, "\n127.0.1.1\tweb\n"));
	free(s);
}

static const struct {
	const char *device;
	bool nat;
	const char *want;
} resolv_cases[] = {
    {"nameserver 10.255.255.53\n", true, HEAD "nameserver 10.255.255.53\n"},
    {"# comment\nsearch lan\nnameserver 127.0.0.53\noptions edns0 "
     "trust-ad\n  nameserver\t192.168.1.1  \nnameserver ::1\n"
     "nameserver fd00::53\ndomain x\nsortlist 1.2.3.4\n",
     true,
     HEAD "search lan\noptions edns0 trust-ad\nnameserver 192.168.1.1\n"
	  "nameserver fd00::53\ndomain x\n"},
    {"nameserver 127.0.0.53\n", true,
     HEAD "# the device has no resolver reachable from a pool\n"},
    {NULL, true, HEAD "# the device has no resolver reachable from a pool\n"},
    {"nameserver notanaddress\nnameservers 1.1.1.1\n", true,
     HEAD "# the device has no resolver reachable from a pool\n"},
    {"nameserver 10.255.255.53\n", false,
     HEAD "# pool p has no NAT: no resolver\n"},
};

static void test_resolv(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(resolv_cases) / sizeof(resolv_cases[0]);
	     i++) {
		char *s = pvc_etc_resolv(resolv_cases[i].device,
					 resolv_cases[i].nat, "p");
		assert_non_null(s);
		if (strcmp(s, resolv_cases[i].want) != 0)
			fail_msg("case %zu\n got: %s\nwant: %s", i, s,
				 resolv_cases[i].want);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_resolv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
