/* Address parsing: table-driven good and bad inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "common/addr.h"

struct hp_case {
	const char *in;
	int ok;
	const char *canon;  /* formatted back, when ok */
	const char *reason; /* substring of the error, when not ok */
};

static const struct hp_case hp_cases[] = {
    {"10.0.4.2:80", 1, "10.0.4.2:80", NULL},
    {"0.0.0.0:65535", 1, "0.0.0.0:65535", NULL},
    {"127.0.0.1:1", 1, "127.0.0.1:1", NULL},
    {"[::]:80", 1, "[::]:80", NULL},
    {"[fd00::1]:443", 1, "[fd00::1]:443", NULL},
    {"[::ffff:10.0.0.1]:8", 1, "[::ffff:10.0.0.1]:8", NULL},
    {"10.0.4.2:70000", 0, NULL, "out of range (1-65535)"},
    {"10.0.4.2:0", 0, NULL, "out of range"},
    {"10.0.4.2:", 0, NULL, "empty port"},
    {"10.0.4.2", 0, NULL, "expected IP:PORT"},
    {"10.0.4.2:80a", 0, NULL, "not a number"},
    {"10.0.4.2:-1", 0, NULL, "not a number"},
    {"10.0.4.2:+80", 0, NULL, "not a number"},
    {"10.0.4.2: 80", 0, NULL, "not a number"},
    {"10.0.4.2:0000000000080", 0, NULL, "out of range"},
    {"10.0.4.256:80", 0, NULL, "invalid IPv4"},
    {"10.0.4:80", 0, NULL, "invalid IPv4"},
    {"host:80", 0, NULL, "invalid IPv4"},
    {":80", 0, NULL, "invalid IPv4"},
    {"", 0, NULL, "empty address"},
    {"fd00::1:80", 0, NULL, "must be written [addr]:port"},
    {"[fd00::1:80", 0, NULL, "missing ']'"},
    {"[fd00::1]80", 0, NULL, "expected ':PORT'"},
    {"[fd00::g]:80", 0, NULL, "invalid IPv6"},
    {"[10.0.0.1]:80", 0, NULL, "invalid IPv6"},
    {"10.0.4.2:80/x", 0, NULL, "not a number"},
    {"[]:80", 0, NULL, "invalid IPv6"},
};

static void test_hostport_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hp_cases) / sizeof(hp_cases[0]); i++) {
		const struct hp_case *c = &hp_cases[i];
		struct pvx_hostport hp;
		char err[256] = "", out[PVX_ADDRSTRLEN];
		int r = pvx_hostport_parse(c->in, &hp, err, sizeof(err));
		if (c->ok) {
			assert_int_equal(r, 0);
			pvx_hostport_format(&hp, out, sizeof(out));
			assert_string_equal(out, c->canon);
		} else {
			assert_int_not_equal(r, 0);
			if (!strstr(err, c->reason))
				fail_msg("'%s': error '%s' lacks '%s'", c->in,
					 err, c->reason);
		}
	}
}

struct http_case {
	const char *in;
	int ok;
	const char *path;
};

static const struct http_case http_cases[] = {
    {"0.0.0.0:8080/api", 1, "/api"},   {"0.0.0.0:8080/api/", 1, "/api"},
    {"0.0.0.0:8080", 1, ""},	       {"0.0.0.0:8080/", 1, ""},
    {"[fd00::1]:443/api", 1, "/api"},  {"[::]:80/a/b", 1, "/a/b"},
    {"0.0.0.0:8080/a/../b", 0, NULL},  {"0.0.0.0:8080/a/..", 0, NULL},
    {"0.0.0.0:8080/a/.", 0, NULL},     {"0.0.0.0:8080/.", 0, NULL},
    {"0.0.0.0:8080/a/.b", 1, "/a/.b"}, {"0.0.0.0:8080//a", 0, NULL},
    {"0.0.0.0:8080/a b", 0, NULL},     {"0.0.0.0:8080/a?b", 0, NULL},
    {"0.0.0.0:99999/a", 0, NULL},      {"0.0.0.0/a", 0, NULL},
};

static void test_hostport_http_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(http_cases) / sizeof(http_cases[0]);
	     i++) {
		const struct http_case *c = &http_cases[i];
		struct pvx_hostport hp;
		char err[256] = "", path[128];
		int r = pvx_hostport_parse_http(c->in, &hp, path, sizeof(path),
						err, sizeof(err));
		if (c->ok) {
			if (r)
				fail_msg("'%s': unexpected error '%s'", c->in,
					 err);
			assert_string_equal(path, c->path);
		} else if (r == 0) {
			fail_msg("'%s' accepted", c->in);
		}
	}
}

static void test_collides(void **state)
{
	struct pvx_hostport a, b, c, d, e;

	(void)state;
	assert_int_equal(pvx_hostport_parse("0.0.0.0:80", &a, NULL, 0), 0);
	assert_int_equal(pvx_hostport_parse("10.0.0.1:80", &b, NULL, 0), 0);
	assert_int_equal(pvx_hostport_parse("10.0.0.2:80", &c, NULL, 0), 0);
	assert_int_equal(pvx_hostport_parse("[::]:80", &d, NULL, 0), 0);
	assert_int_equal(pvx_hostport_parse("10.0.0.1:81", &e, NULL, 0), 0);
	assert_true(pvx_hostport_collides(&a, &b));
	assert_true(pvx_hostport_collides(&b, &a));
	assert_true(pvx_hostport_collides(&b, &b));
	assert_false(pvx_hostport_collides(&b, &c));
	assert_false(pvx_hostport_collides(&a, &d));
	assert_false(pvx_hostport_collides(&b, &e));
}

static void test_cidr(void **state)
{
	struct pvx_cidr c, o;
	struct in_addr ip;
	char err[128];
	int prefix;

	(void)state;
	assert_int_equal(pvx_cidr_parse("10.0.4.0/24", &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.prefix, 24);
	inet_pton(AF_INET, "10.0.4.200", &ip);
	assert_true(pvx_cidr_contains(&c, ip));
	inet_pton(AF_INET, "10.0.5.1", &ip);
	assert_false(pvx_cidr_contains(&c, ip));
	ip = pvx_cidr_broadcast(&c);
	assert_int_equal(ntohl(ip.s_addr), 0x0a0004ff);
	assert_int_equal(pvx_cidr_parse("10.0.0.0/16", &o, err, sizeof(err)),
			 0);
	assert_true(pvx_cidr_overlaps(&c, &o));
	assert_int_not_equal(pvx_cidr_parse("10.0.4.1/24", &c, err, 128), 0);
	assert_non_null(strstr(err, "host bits"));
	assert_int_not_equal(pvx_cidr_parse("10.0.4.0", &c, err, 128), 0);
	assert_int_not_equal(pvx_cidr_parse("10.0.4.0/33", &c, err, 128), 0);
	assert_int_not_equal(pvx_cidr_parse("10.0.4.0/", &c, err, 128), 0);
	assert_int_not_equal(pvx_cidr_parse("10.0.4.0/2x", &c, err, 128), 0);
	assert_int_not_equal(pvx_cidr_parse("10.0.4.0/024", &c, err, 128), 0);
	assert_int_not_equal(pvx_cidr_parse("banana/24", &c, err, 128), 0);
	assert_int_equal(
	    pvx_ipv4_cidr_or_bare_parse("10.0.4.9", &ip, &prefix, err, 128), 0);
	assert_int_equal(prefix, -1);
	assert_int_equal(
	    pvx_ipv4_cidr_or_bare_parse("10.0.4.9/24", &ip, &prefix, err, 128),
	    0);
	assert_int_equal(prefix, 24);
}

static void test_paths_and_names(void **state)
{
	char err[128];
	static const char *good[] = {"/run/a.sock", "/a/..b/c", "/a/b..",
				     "/..x"};
	static const char *bad[] = {"",	       "run/a.sock", "/a/../b",
				    "/..",     "/a/..",	     "./a",
				    "/a/\x01", "//a",	     "/a//b"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_int_equal(pvx_path_check(good[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (pvx_path_check(bad[i], err, sizeof(err)) == 0)
			fail_msg("path '%s' accepted", bad[i]);
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[199] = '\0';
	assert_int_not_equal(pvx_path_check(longp, err, sizeof(err)), 0);

	assert_true(pvx_name_is_safe("example-nginx-ingress"));
	assert_true(pvx_name_is_safe("a_b.c"));
	assert_false(pvx_name_is_safe(""));
	assert_false(pvx_name_is_safe("../x"));
	assert_false(pvx_name_is_safe("a/b"));
	assert_false(pvx_name_is_safe(".hidden"));
	assert_false(pvx_name_is_safe("-x"));
	assert_false(pvx_name_is_safe("a b"));
	assert_false(pvx_name_is_safe("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hostport_table),
	    cmocka_unit_test(test_hostport_http_table),
	    cmocka_unit_test(test_collides),
	    cmocka_unit_test(test_cidr),
	    cmocka_unit_test(test_paths_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
