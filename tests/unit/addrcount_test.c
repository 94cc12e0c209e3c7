/* Per-address connection counts (addrcount.c): keys of both families,
 * the cap, and the hash table against a plain array model through
 * random takes and puts (growth, collisions, backward-shift deletion). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "xconnect/addrcount.h"

static struct pvx_addr_key key4(const char *ip)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1)};
	struct pvx_addr_key k;

	assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
	assert_int_equal(
	    pvx_addr_key_of((struct sockaddr *)&in, sizeof(in), &k), 0);
	return k;
}

static void test_keys(void **state)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct pvx_addr_key a, b;
	char buf[64];

	(void)state;
	/* The port does not matter, the family's address does. */
	a = key4("127.0.0.1");
	in.sin_port = htons(999);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	assert_int_equal(
	    pvx_addr_key_of((struct sockaddr *)&in, sizeof(in), &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* IPv4 and its mapped IPv6 form are one client. */
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	assert_int_equal(
	    pvx_addr_key_of((struct sockaddr *)&in6, sizeof(in6), &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	b = key4("127.0.0.2");
	assert_memory_not_equal(&a, &b, sizeof(a));
	/* Unix peers, short lengths, NULL: not counted. */
	assert_int_equal(
	    pvx_addr_key_of((struct sockaddr *)&un, sizeof(un), &b),
	    -EAFNOSUPPORT);
	assert_int_equal(pvx_addr_key_of((struct sockaddr *)&in, 4, &b),
			 -EINVAL);
	assert_int_equal(pvx_addr_key_of((struct sockaddr *)&in6, 20, &b),
			 -EINVAL);
	assert_int_equal(pvx_addr_key_of(NULL, 0, &b), -EINVAL);
	/* Formatted as the family the client used. */
	pvx_addr_key_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1");
	inet_pton(AF_INET6, "fd00::2", &in6.sin6_addr);
	assert_int_equal(
	    pvx_addr_key_of((struct sockaddr *)&in6, sizeof(in6), &b), 0);
	pvx_addr_key_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::2");
}

static void test_cap(void **state)
{
	struct pvx_addrcount ac;
	struct pvx_addr_key a = key4("10.0.0.1"), b = key4("10.0.0.2");

	(void)state;
	pvx_addrcount_init(&ac, 42);
	assert_int_equal(pvx_addrcount_get(&ac, &a), 0);
	pvx_addrcount_put(&ac, &a); /* nothing counted: no effect */
	for (int i = 1; i <= 3; i++)
		assert_int_equal(pvx_addrcount_take(&ac, &a, 3), i);
	assert_int_equal(pvx_addrcount_take(&ac, &a, 3), -EUSERS);
	assert_int_equal(pvx_addrcount_get(&ac, &a), 3);
	/* Another address is not held back by the first. */
	assert_int_equal(pvx_addrcount_take(&ac, &b, 3), 1);
	pvx_addrcount_put(&ac, &a);
	assert_int_equal(pvx_addrcount_take(&ac, &a, 3), 3);
	/* Limit 0: no cap. */
	for (int i = 0; i < 1000; i++)
		assert_true(pvx_addrcount_take(&ac, &b, 0) > 0);
	assert_int_equal(pvx_addrcount_get(&ac, &b), 1001);
	for (int i = 0; i < 1001; i++)
		pvx_addrcount_put(&ac, &b);
	for (int i = 0; i < 3; i++)
		pvx_addrcount_put(&ac, &a);
	/* The last address gone, the memory is given back. */
	assert_int_equal(ac.n, 0);
	assert_null(ac.slots);
	pvx_addrcount_clear(&ac);
}

/* Random takes and puts over few addresses (many collisions in small
 * tables) and many (growth), checked against an array after each step. */
static void test_model(void **state)
{
	enum { NADDR = 700 };
	static unsigned model[NADDR];
	struct pvx_addrcount ac;
	struct pvx_addr_key k;
	unsigned seed = 7;

	(void)state;
	for (unsigned spread = 5; spread <= NADDR; spread *= 4) {
		memset(model, 0, sizeof(model));
		pvx_addrcount_init(&ac,
				   (uint64_t)spread * 0x9e3779b97f4a7c15ULL);
		for (int step = 0; step < 60000; step++) {
			unsigned a = (unsigned)rand_r(&seed) % spread;

			memset(&k, 0, sizeof(k));
			k.b[0] = 0xfd;
			memcpy(&k.b[12], &a, sizeof(a));
			if (rand_r(&seed) % 3 && model[a] > 0) {
				pvx_addrcount_put(&ac, &k);
				model[a]--;
			} else {
				int r = pvx_addrcount_take(&ac, &k, 4);

				if (model[a] >= 4) {
					assert_int_equal(r, -EUSERS);
				} else {
					model[a]++;
					assert_int_equal(r, (int)model[a]);
				}
			}
			if (step % 97 == 0) {
				size_t n = 0;

				for (unsigned i = 0; i < spread; i++) {
					memset(&k, 0, sizeof(k));
					k.b[0] = 0xfd;
					memcpy(&k.b[12], &i, sizeof(i));
					assert_int_equal(
					    pvx_addrcount_get(&ac, &k),
					    model[i]);
					n += model[i] > 0;
				}
				assert_int_equal(ac.n, n);
			}
		}
		pvx_addrcount_clear(&ac);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
