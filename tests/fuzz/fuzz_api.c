/* Fuzz target: the control API's request decisions (ctrl/api_req): the
 * route of a path, the methods it allows, ?wait= of the query, and the
 * body of PUT /containers/<name>. Input: one method byte, then
 * "PATH[?QUERY]", a newline, and the body. */
#include "fuzz.h"

#include <string.h>

#include "common/addr.h"
#include "ctrl/api_req.h"

static const enum evhttp_cmd_type methods[] = {
    EVHTTP_REQ_GET,   EVHTTP_REQ_POST,	  EVHTTP_REQ_HEAD,
    EVHTTP_REQ_PUT,   EVHTTP_REQ_DELETE,  EVHTTP_REQ_OPTIONS,
    EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum evhttp_cmd_type m;
	enum pvc_api_route rt;
	struct pvc_api_put put;
	const char *allow, *nl, *body;
	char *line, *q, *name = NULL, *wait = NULL, err[256];
	size_t llen, blen;
	int r;

	if (size < 1)
		return 0;
	m = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	nl = memchr(data + 1, '\n', size - 1);
	llen = nl ? (size_t)(nl - (const char *)data - 1) : size - 1;
	body = nl ? nl + 1 : "";
	blen = nl ? size - 1 - llen - 1 : 0;
	line = strndup((const char *)data + 1, llen);
	FUZZ_CHECK(line);
	q = strchr(line, '?');
	if (q)
		*q++ = '\0';

	r = pvc_api_route(line, &rt, &name);
	FUZZ_CHECK(r == 0);
	if (rt == PVC_ROUTE_CONTAINER || rt == PVC_ROUTE_LOGS)
		FUZZ_CHECK(name && pvx_name_is_safe(name));
	else
		FUZZ_CHECK(name == NULL);
	if (pvc_api_method_ok(rt, m, &allow))
		FUZZ_CHECK(rt != PVC_ROUTE_NONE && allow[0]);
	else
		FUZZ_CHECK(rt == PVC_ROUTE_NONE ? !allow[0] : allow[0] != 0);

	r = pvc_api_query_wait(q, &wait);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0 || !q)
		FUZZ_CHECK(wait == NULL);

	err[0] = '\0';
	r = pvc_api_put_parse(body, blen, &put, err, sizeof(err));
	if (r == 0)
		FUZZ_CHECK((put.pid > 0) != (put.action != NULL));
	else
		FUZZ_CHECK(r == -EINVAL && err[0] && !put.action);
	pvc_api_put_clear(&put);

	free(wait);
	free(name);
	free(line);
	return 0;
}
