/* Request decisions of the control API, apart from evhttp's I/O so that
 * they can be unit-tested and fuzzed (see api_req.h). */
#include "ctrl/api_req.h"

#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/addr.h"

/* "/containers/<name>/logs": true, *name decoded (NULL: no memory). */
static bool logs_path(const char *path, char **name)
{
	const char *n = path + 12, *slash = strchr(n, '/');

	if (!slash || slash == n || strcmp(slash, "/logs") != 0 ||
	    memmem(n, (size_t)(slash - n), "%00", 3))
		return false;
	*name = evhttp_uridecode(n, 0, NULL);
	if (*name) /* decoded, the name part ends at the same '/' */
		*strrchr(*name, '/') = '\0';
	return true;
}

int pvc_api_route(const char *path, enum pvc_api_route *rt, char **name)
{
	*rt = PVC_ROUTE_NONE;
	*name = NULL;
	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/xconnect-graph") == 0) {
		*rt = PVC_ROUTE_GRAPH;
	} else if (strcmp(path, "/containers") == 0) {
		*rt = PVC_ROUTE_CONTAINERS;
	} else if (strncmp(path, "/containers/", 12) == 0 && path[12] &&
		   logs_path(path, name)) {
		if (!*name)
			return -ENOMEM;
		if (pvx_name_is_safe(*name)) {
			*rt = PVC_ROUTE_LOGS;
		} else {
			free(*name);
			*name = NULL;
		}
	} else if (strncmp(path, "/containers/", 12) == 0 && path[12]) {
		char *n = evhttp_uridecode(path + 12, 0, NULL);
		if (!n)
			return -ENOMEM;
		/* Container names are safe names (the state refuses any
		 * other): anything else ('/', %00, bytes that are not
		 * UTF-8 and cannot even be quoted in a JSON error) names
		 * no container. */
		if (strchr(path + 12, '/') || strstr(path + 12, "%00") ||
		    !pvx_name_is_safe(n)) {
			free(n);
			return 0;
		}
		*rt = PVC_ROUTE_CONTAINER;
		*name = n;
	} else if (strcmp(path, "/state") == 0) {
		*rt = PVC_ROUTE_STATE;
	} else if (strcmp(path, "/state/reload") == 0) {
		*rt = PVC_ROUTE_RELOAD;
	} else if (strcmp(path, "/state/load") == 0) {
		*rt = PVC_ROUTE_LOAD;
	} else if (strcmp(path, "/metrics") == 0) {
		*rt = PVC_ROUTE_METRICS;
	}
	return 0;
}

bool pvc_api_method_ok(enum pvc_api_route rt, enum evhttp_cmd_type m,
		       const char **allow)
{
	switch (rt) {
	case PVC_ROUTE_GRAPH:
	case PVC_ROUTE_CONTAINERS:
	case PVC_ROUTE_METRICS:
	case PVC_ROUTE_LOGS:
		*allow = "GET, HEAD";
		return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	case PVC_ROUTE_CONTAINER:
		*allow = "GET, HEAD, PUT";
		return m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD ||
		       m == EVHTTP_REQ_PUT;
	case PVC_ROUTE_STATE:
		*allow = "PUT";
		return m == EVHTTP_REQ_PUT;
	case PVC_ROUTE_RELOAD:
	case PVC_ROUTE_LOAD:
		*allow = "POST";
		return m == EVHTTP_REQ_POST;
	case PVC_ROUTE_NONE:
		break;
	}
	*allow = "";
	return false;
}

int pvc_api_query_wait(const char *query, char **wait)
{
	struct evkeyvalq q;
	const char *w;
	int r = 0;

	*wait = NULL;
	if (!query)
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) < 0) {
		evhttp_clear_headers(&q);
		return -EINVAL;
	}
	w = evhttp_find_header(&q, "wait");
	if (w && !(*wait = strdup(w)))
		r = -ENOMEM;
	evhttp_clear_headers(&q);
	return r;
}

int pvc_api_put_parse(const char *buf, size_t len, struct pvc_api_put *out,
		      char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *body, *jpid, *jaction;
	int r = -EINVAL;

	out->pid = 0;
	out->action = NULL;
	body = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		snprintf(err, errlen, "body: line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(body)) {
		snprintf(err, errlen, "body: expected an object");
		goto out;
	}
	jpid = json_object_get(body, "pid");
	jaction = json_object_get(body, "action");
	if ((jpid != NULL) == (jaction != NULL)) {
		snprintf(err, errlen,
			 "body: expected exactly one of \"pid\" or "
			 "\"action\"");
		goto out;
	}
	if (jpid) {
		json_int_t pid =
		    json_is_integer(jpid) ? json_integer_value(jpid) : -1;
		if (pid <= 0 || pid > INT_MAX) {
			snprintf(err, errlen,
				 "pid: expected a positive integer");
			goto out;
		}
		out->pid = (pid_t)pid;
	} else {
		if (!json_is_string(jaction)) {
			snprintf(err, errlen, "action: expected a string");
			goto out;
		}
		out->action = strdup(json_string_value(jaction));
		if (!out->action) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = 0;
out:
	json_decref(body);
	return r;
}

void pvc_api_put_clear(struct pvc_api_put *p)
{
	free(p->action);
	p->action = NULL;
	p->pid = 0;
}
