/* The access log formatter of pv-xconnect and the Prometheus text writer:
 * table-driven records (quoting, escaping, missing fields, truncation). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/prom.h"
#include "xconnect/access.h"

static const struct timespec t0 = {1764622067, 123456789}; /* 20:47:47.123 */

struct fmt_case {
	struct pvx_access_rec r;
	enum pvx_access_fmt fmt;
	const char *want;
};

static const struct fmt_case fmt_cases[] = {
    {{"tcp", "web", "127.0.0.1:4000", "10.0.4.2:80", 10, 2000, 7, 0, NULL, NULL,
      "done"},
     PVX_ACCESS_KV,
     "time=2025-12-01T20:47:47.123Z type=tcp link=web client=127.0.0.1:4000 "
     "backend=10.0.4.2:80 bytes_in=10 bytes_out=2000 ms=7 reason=done\n"},
    {{"tcp", "web", "127.0.0.1:4000", "10.0.4.2:80", 10, 2000, 7, 0, NULL, NULL,
      "done"},
     PVX_ACCESS_JSON,
     "{\"time\":\"2025-12-01T20:47:47.123Z\",\"type\":\"tcp\",\"link\":\"web\","
     "\"client\":\"127.0.0.1:4000\",\"backend\":\"10.0.4.2:80\","
     "\"bytes_in\":10,\"bytes_out\":2000,\"ms\":7,\"reason\":\"done\"}\n"},
    /* Spaces, quotes, '=' and control bytes are quoted and escaped. */
    {{"http", "api", "[::1]:5", "pid 42:/run/a b.sock", 1, 2, 3, 502, "GET",
      "/a\"b=c\n", "backend connect: Connection refused"},
     PVX_ACCESS_KV,
     "time=2025-12-01T20:47:47.123Z type=http link=api client=[::1]:5 "
     "backend=\"pid 42:/run/a b.sock\" bytes_in=1 bytes_out=2 ms=3 "
     "status=502 method=GET path=\"/a\\\"b=c\\u000a\" "
     "reason=\"backend connect: Connection refused\"\n"},
    {{"http", "api", "[::1]:5", NULL, 0, 0, 0, 404, "GET", "/x\\y", "no route"},
     PVX_ACCESS_JSON,
     "{\"time\":\"2025-12-01T20:47:47.123Z\",\"type\":\"http\",\"link\":"
     "\"api\",\"client\":\"[::1]:5\",\"bytes_in\":0,\"bytes_out\":0,"
     "\"ms\":0,\"status\":404,\"method\":\"GET\",\"path\":\"/x\\\\y\","
     "\"reason\":\"no route\"}\n"},
    /* Missing strings: "-" in kv, left out in JSON. */
    {{NULL, NULL, "", NULL, 0, 0, 0, 400, NULL, NULL, NULL},
     PVX_ACCESS_KV,
     "time=2025-12-01T20:47:47.123Z type=- link=- client=- backend=- "
     "bytes_in=0 bytes_out=0 ms=0 status=400 reason=-\n"},
    {{NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL},
     PVX_ACCESS_JSON,
     "{\"time\":\"2025-12-01T20:47:47.123Z\",\"bytes_in\":0,\"bytes_out\":0,"
     "\"ms\":0}\n"},
};

static void test_format(void **state)
{
	char buf[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		size_t n = pvx_access_format(&fmt_cases[i].r, fmt_cases[i].fmt,
					     &t0, buf, sizeof(buf));
		if (strcmp(buf, fmt_cases[i].want) != 0 ||
		    n != strlen(fmt_cases[i].want))
			fail_msg("case %zu:\n got  %s\n want %s", i, buf,
				 fmt_cases[i].want);
	}
}

/* A line too long for the buffer is cut, still ends with a newline and
 * the full length is returned. */
static void test_truncate(void **state)
{
	struct pvx_access_rec r = {.link = "l", .reason = "done"};
	char small[40], big[256];
	size_t full, n;

	(void)state;
	full = pvx_access_format(&r, PVX_ACCESS_KV, &t0, big, sizeof(big));
	assert_true(full < sizeof(big));
	n = pvx_access_format(&r, PVX_ACCESS_KV, &t0, small, sizeof(small));
	assert_int_equal(n, full);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(small[sizeof(small) - 2], '\n');
	assert_memory_equal(small, big, sizeof(small) - 2);
}

static void test_fmt_parse(void **state)
{
	static const char *bad[] = {"", "KV", "j", "json ", "text", "kvjson"};
	enum pvx_access_fmt f;

	(void)state;
	assert_int_equal(pvx_access_fmt_parse("kv", &f), 0);
	assert_int_equal(f, PVX_ACCESS_KV);
	assert_int_equal(pvx_access_fmt_parse("json", &f), 0);
	assert_int_equal(f, PVX_ACCESS_JSON);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pvx_access_fmt_parse(bad[i], &f), -EINVAL);
}

/* Writing through the log: a file gets the lines appended. */
static void test_write(void **state)
{
	char path[] = "/tmp/pvx-access-XXXXXX";
	struct pvx_access_rec r = {.type = "tcp", .link = "w", .reason = "x"};
	char buf[512] = {0};
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_false(pvx_access_enabled());
	pvx_access_log(&r); /* off: nothing */
	assert_int_equal(pvx_access_open(path, PVX_ACCESS_JSON), 0);
	assert_true(pvx_access_enabled());
	pvx_access_log(&r);
	r.link = "second";
	pvx_access_log(&r);
	assert_int_equal(pvx_access_reopen(), 0);
	pvx_access_log(&r);
	pvx_access_close();
	assert_false(pvx_access_enabled());
	assert_int_equal(pvx_access_open("/nonexistent/dir/x", PVX_ACCESS_KV),
			 -ENOENT);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	unlink(path);
	assert_non_null(strstr(buf, "\"link\":\"w\""));
	assert_non_null(strstr(buf, "\"link\":\"second\""));
	{
		int lines = 0;
		for (char *p = buf; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 3);
	}
}

struct prom_case {
	const char *labels[8];
	uint64_t v;
	const char *want;
};

static const struct prom_case prom_cases[] = {
    {{NULL}, 0, "m 0\n"},
    {{"a", "x", NULL},
     18446744073709551615ULL,
     "m{a=\"x\"} 18446744073709551615\n"},
    {{"a", "q\"b\\c\nd", "b", NULL, NULL},
     5,
     "m{a=\"q\\\"b\\\\c\\nd\",b=\"\"} 5\n"},
};

static void test_prom(void **state)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(prom_cases) / sizeof(prom_cases[0]);
	     i++) {
		f = open_memstream(&text, &n);
		assert_non_null(f);
		pvx_prom_sample(f, "m",
				prom_cases[i].labels[0] ? prom_cases[i].labels
							: NULL,
				prom_cases[i].v);
		fclose(f);
		if (strcmp(text, prom_cases[i].want) != 0)
			fail_msg("case %zu: got %s want %s", i, text,
				 prom_cases[i].want);
		free(text);
		text = NULL;
	}
	f = open_memstream(&text, &n);
	assert_non_null(f);
	pvx_prom_family(f, "m_total", "counter", "a \\ b\nc");
	fclose(f);
	assert_string_equal(text, "# HELP m_total a \\\\ b\\nc\n"
				  "# TYPE m_total counter\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),    cmocka_unit_test(test_truncate),
	    cmocka_unit_test(test_fmt_parse), cmocka_unit_test(test_write),
	    cmocka_unit_test(test_prom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
