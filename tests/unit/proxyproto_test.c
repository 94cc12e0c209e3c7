/* PROXY protocol headers (src/xconnect/proxyproto.c) byte for byte
 * against HAProxy's proxy-protocol.txt: v1 text lines (2.1), v2
 * signature, version/command byte, family byte, length and address block
 * (2.2), IPv4-mapped IPv6 written as IPv4, LOCAL / UNKNOWN for what is
 * not an IP connection, and the hold backoff of the relay. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "xconnect/proxyproto.h"
#include "xconnect/relay.h"

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	}
	return ss;
}

static int enc(enum pvx_pp_version v, const char *sip, uint16_t sp,
	       const char *dip, uint16_t dp, bool local, uint8_t *buf)
{
	struct sockaddr_storage s = sa(sip, sp), d = sa(dip, dp);

	return pvx_pp_encode(v, (struct sockaddr *)&s, (struct sockaddr *)&d,
			     local, buf, PVX_PP_MAX);
}

static void test_v1(void **state)
{
	static const struct {
		const char *sip, *dip;
		uint16_t sp, dp;
		const char *want;
	} c[] = {
	    {"192.168.0.1", "192.168.0.11", 56324, 443,
	     "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"},
	    {"127.0.0.2", "127.0.0.1", 1, 65535,
	     "PROXY TCP4 127.0.0.2 127.0.0.1 1 65535\r\n"},
	    {"::1", "::1", 40000, 80, "PROXY TCP6 ::1 ::1 40000 80\r\n"},
	    {"2001:db8::1", "fd00::2", 1234, 8080,
	     "PROXY TCP6 2001:db8::1 fd00::2 1234 8080\r\n"},
	    /* IPv4-mapped IPv6 is written as IPv4. */
	    {"::ffff:10.0.4.7", "::ffff:10.0.4.1", 5000, 80,
	     "PROXY TCP4 10.0.4.7 10.0.4.1 5000 80\r\n"},
	    /* The longest line: two full IPv6 addresses, 5-digit ports. */
	    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
	     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535, 65535,
	     "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe "
	     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd 65535 65535\r\n"},
	};
	uint8_t buf[PVX_PP_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int n = enc(PVX_PP_V1, c[i].sip, c[i].sp, c[i].dip, c[i].dp,
			    false, buf);
		assert_int_equal(n, (int)strlen(c[i].want));
		assert_memory_equal(buf, c[i].want, (size_t)n);
		assert_true(n <= 107); /* the specification's maximum */
	}
}

static const uint8_t SIG[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static void test_v2_ipv4(void **state)
{
	static const uint8_t want[] = {
	    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
	    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, /* signature */
	    0x21,				/* version 2, command PROXY */
	    0x11,				/* AF_INET, STREAM */
	    0x00, 0x0C,				/* 12 bytes of addresses */
	    192,  168,	0,    1,		/* source */
	    192,  168,	0,    11,		/* destination */
	    0xDC, 0x04,				/* 56324 */
	    0x01, 0xBB,				/* 443 */
	};
	uint8_t buf[PVX_PP_MAX];
	int n;

	(void)state;
	n = enc(PVX_PP_V2, "192.168.0.1", 56324, "192.168.0.11", 443, false,
		buf);
	assert_int_equal(n, (int)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* Mapped addresses: the same bytes. */
	n = enc(PVX_PP_V2, "::ffff:192.168.0.1", 56324, "::ffff:192.168.0.11",
		443, false, buf);
	assert_int_equal(n, (int)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
}

static void test_v2_ipv6(void **state)
{
	uint8_t buf[PVX_PP_MAX], a[16], b[16];
	int n;

	(void)state;
	n = enc(PVX_PP_V2, "2001:db8::1", 1234, "fd00::2", 8080, false, buf);
	assert_int_equal(n, 16 + 36);
	assert_memory_equal(buf, SIG, 12);
	assert_int_equal(buf[12], 0x21);
	assert_int_equal(buf[13], 0x21); /* AF_INET6, STREAM */
	assert_int_equal(buf[14], 0);
	assert_int_equal(buf[15], 36);
	inet_pton(AF_INET6, "2001:db8::1", a);
	inet_pton(AF_INET6, "fd00::2", b);
	assert_memory_equal(buf + 16, a, 16);
	assert_memory_equal(buf + 32, b, 16);
	assert_int_equal(buf[48], 1234 >> 8);
	assert_int_equal(buf[49], 1234 & 0xff);
	assert_int_equal(buf[50], 8080 >> 8);
	assert_int_equal(buf[51], 8080 & 0xff);
}

/* A Unix backend (local set) or a Unix client: v2 LOCAL with AF_UNSPEC
 * and no address block, v1 "PROXY UNKNOWN". */
static void test_local(void **state)
{
	static const uint8_t want[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
				       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
				       0x20, 0x00, 0x00, 0x00};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct sockaddr_storage d = sa("127.0.0.1", 80);
	uint8_t buf[PVX_PP_MAX];
	int n;

	(void)state;
	n = enc(PVX_PP_V2, "127.0.0.1", 5000, "127.0.0.1", 80, true, buf);
	assert_int_equal(n, 16);
	assert_memory_equal(buf, want, 16);
	n = pvx_pp_encode(PVX_PP_V2, (struct sockaddr *)&un,
			  (struct sockaddr *)&d, false, buf, sizeof(buf));
	assert_int_equal(n, 16);
	assert_memory_equal(buf, want, 16);
	n = pvx_pp_encode(PVX_PP_V2, NULL, NULL, false, buf, sizeof(buf));
	assert_int_equal(n, 16);
	assert_memory_equal(buf, want, 16);
	/* Families differ: not expressible, LOCAL. */
	n = enc(PVX_PP_V2, "127.0.0.1", 5000, "::1", 80, false, buf);
	assert_int_equal(n, 16);
	assert_memory_equal(buf, want, 16);

	n = enc(PVX_PP_V1, "127.0.0.1", 5000, "127.0.0.1", 80, true, buf);
	assert_int_equal(n, 15);
	assert_memory_equal(buf, "PROXY UNKNOWN\r\n", 15);
	n = pvx_pp_encode(PVX_PP_V1, (struct sockaddr *)&un, NULL, false, buf,
			  sizeof(buf));
	assert_int_equal(n, 15);
	assert_memory_equal(buf, "PROXY UNKNOWN\r\n", 15);
}

static void test_bad(void **state)
{
	uint8_t buf[PVX_PP_MAX];
	struct sockaddr_storage s = sa("::1", 1), d = sa("::1", 2);
	enum pvx_pp_version v;

	(void)state;
	assert_int_equal(pvx_pp_encode(PVX_PP_OFF, (struct sockaddr *)&s,
				       (struct sockaddr *)&d, false, buf,
				       sizeof(buf)),
			 -EINVAL);
	/* Too small a buffer: nothing half written is returned. */
	assert_int_equal(pvx_pp_encode(PVX_PP_V2, (struct sockaddr *)&s,
				       (struct sockaddr *)&d, false, buf, 51),
			 -ENOSPC);
	assert_int_equal(pvx_pp_encode(PVX_PP_V1, (struct sockaddr *)&s,
				       (struct sockaddr *)&d, false, buf, 10),
			 -ENOSPC);
	assert_int_equal(pvx_pp_parse("v1", &v), 0);
	assert_int_equal(v, PVX_PP_V1);
	assert_int_equal(pvx_pp_parse("v2", &v), 0);
	assert_int_equal(v, PVX_PP_V2);
	assert_int_equal(pvx_pp_parse("v3", &v), -EINVAL);
	assert_int_equal(pvx_pp_parse("V1", &v), -EINVAL);
	assert_int_equal(pvx_pp_parse("", &v), -EINVAL);
	assert_int_equal(pvx_pp_parse(NULL, &v), -EINVAL);
	assert_string_equal(pvx_pp_name(PVX_PP_V2), "v2");
	assert_string_equal(pvx_pp_name(PVX_PP_OFF), "off");
}

/* The relay's hold: 25 ms doubling to 500 ms; which dial errors hold. */
static void test_hold_policy(void **state)
{
	static const unsigned want[] = {25, 50, 100, 200, 400, 500, 500, 500};

	(void)state;
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(pvx_hold_backoff_ms(i), want[i]);
	assert_int_equal(pvx_hold_backoff_ms(1000), 500);
	assert_true(pvx_backend_err_retryable(ECONNREFUSED));
	assert_true(pvx_backend_err_retryable(ENOENT));
	assert_true(pvx_backend_err_retryable(EDESTADDRREQ));
	assert_false(pvx_backend_err_retryable(ETIMEDOUT));
	assert_false(pvx_backend_err_retryable(EMFILE));
	assert_false(pvx_backend_err_retryable(EACCES));
	/* A provider restarting: its old pid is gone, the next graph
	 * brings the new one. */
	assert_true(pvx_backend_err_retryable(ESRCH));
	/* A path refused for leaving the provider's root does not get
	 * better by waiting: refused at once (docs/security.md). */
	assert_false(pvx_backend_err_retryable(ELOOP));
	assert_false(pvx_backend_err_retryable(EXDEV));
	assert_false(pvx_backend_err_retryable(EPERM));
	assert_false(pvx_backend_err_retryable(ENOTSOCK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1),	    cmocka_unit_test(test_v2_ipv4),
	    cmocka_unit_test(test_v2_ipv6), cmocka_unit_test(test_local),
	    cmocka_unit_test(test_bad),	    cmocka_unit_test(test_hold_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
