/* Fuzz target: address parsing (common/addr). The first byte picks the
 * parser, the rest is the string. Accepted addresses format back to a
 * string that parses to the same address; every refusal has a reason. */
#include "fuzz.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/addr.h"

static void hostport_round_trip(const struct pvx_hostport *hp)
{
	char buf[PVX_ADDRSTRLEN], err[128] = "";
	struct pvx_hostport back;
	struct sockaddr_storage ss;

	pvx_hostport_format(hp, buf, sizeof(buf));
	FUZZ_CHECK(pvx_hostport_parse(buf, &back, err, sizeof(err)) == 0);
	FUZZ_CHECK(pvx_hostport_equal(hp, &back));
	FUZZ_CHECK(pvx_hostport_collides(hp, &back));
	FUZZ_CHECK(pvx_hostport_to_sockaddr(hp, &ss) > 0);
	FUZZ_CHECK(hp->port >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, err[128], path[PVX_PATH_MAX];
	struct pvx_hostport hp;
	struct pvx_cidr c;
	struct in_addr ip;
	uint16_t port;
	int prefix, r;

	if (size < 1 || size > 4096)
		return 0;
	s = malloc(size);
	FUZZ_CHECK(s);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	err[0] = '\0';
	switch (data[0] % 8) {
	case 0:
		r = pvx_hostport_parse(s, &hp, err, sizeof(err));
		if (r == 0)
			hostport_round_trip(&hp);
		break;
	case 1:
		r = pvx_hostport_parse_http(s, &hp, path, sizeof(path), err,
					    sizeof(err));
		if (r == 0) {
			hostport_round_trip(&hp);
			size_t n = strlen(path);
			FUZZ_CHECK(path[0] == '\0' || path[0] == '/');
			/* Normalized: no "." or ".." component ("..y" is a
			 * name), no empty one, no trailing '/'. */
			FUZZ_CHECK(!strstr(path, "/../") &&
				   !strstr(path, "/./") && !strstr(path, "//"));
			FUZZ_CHECK(!(n >= 3 && !strcmp(path + n - 3, "/..")));
			FUZZ_CHECK(!(n >= 2 && !strcmp(path + n - 2, "/.")));
			FUZZ_CHECK(n == 0 || path[n - 1] != '/');
		}
		break;
	case 2:
		r = pvx_port_parse(s, &port, err, sizeof(err));
		if (r == 0)
			FUZZ_CHECK(port >= 1);
		break;
	case 3:
		r = pvx_ipv4_parse(s, &ip, err, sizeof(err));
		if (r == 0) {
			char buf[INET_ADDRSTRLEN];
			struct in_addr back;
			inet_ntop(AF_INET, &ip, buf, sizeof(buf));
			FUZZ_CHECK(
			    pvx_ipv4_parse(buf, &back, err, sizeof(err)) == 0);
			FUZZ_CHECK(back.s_addr == ip.s_addr);
		}
		break;
	case 4:
		r = pvx_cidr_parse(s, &c, err, sizeof(err));
		if (r == 0) {
			struct in_addr bc = pvx_cidr_broadcast(&c);
			FUZZ_CHECK(c.prefix <= 32);
			FUZZ_CHECK(pvx_cidr_contains(&c, c.addr));
			FUZZ_CHECK(pvx_cidr_contains(&c, bc));
			FUZZ_CHECK(pvx_cidr_overlaps(&c, &c));
		}
		break;
	case 5:
		r = pvx_ipv4_cidr_or_bare_parse(s, &ip, &prefix, err,
						sizeof(err));
		if (r == 0)
			FUZZ_CHECK(prefix >= -1 && prefix <= 32);
		break;
	case 6:
		r = pvx_path_check(s, err, sizeof(err));
		if (r == 0) {
			FUZZ_CHECK(s[0] == '/');
			FUZZ_CHECK(strlen(s) < PVX_PATH_MAX);
		}
		break;
	default:
		r = pvx_name_is_safe(s) ? 0 : -1;
		if (r == 0)
			FUZZ_CHECK(strchr(s, '/') == NULL && s[0] != '.');
		r = 0; /* a bool: no reason to give */
		break;
	}
	if (r < 0)
		FUZZ_CHECK(err[0] != '\0');
	free(s);
	return 0;
}
