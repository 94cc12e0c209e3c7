/* pvcontrol: command-line client of pv-ctrld's control API and of
 * pv-xconnect's status socket. Tables for people, the raw JSON with --json.
 * The commands, their usage and their tables are data (one row each), so
 * that --help, the man page and docs/api.md list the same commands. Exit
 * codes: 0 ok, 1 the API refused (its error and error list are printed),
 * 2 usage, 3 cannot connect. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/defaults.h"
#include "common/file.h"
#include "common/httpc.h"
#include "common/ns.h"
#include "common/words.h"

#define DEFAULT_CTRL "/run/pantavisor/pv/pv-ctrl"
#define TIMEOUT_MS 60000
#define EXIT_API 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define MAX_STATE_FILE (16 * 1024 * 1024)

/* A daemon's socket and how to tell the user to reach it. */
struct endpoint {
	const char *sock;
	const char *daemon; /* "pv-ctrld" */
	const char *what;   /* "control socket" */
	const char *option; /* "--ctrl" */
	const char *env;    /* "PVX_CTRL" */
	const char *start;  /* how to start the daemon */
	const char *other;  /* the other daemon's socket, for a 404 hint */
};

struct cli {
	struct endpoint ctrl;
	struct endpoint status; /* pv-xconnect's status socket */
	bool json;
	bool follow; /* -f, --follow: container logs only */
	char **rest; /* the words after "--", or NULL */
	int nrest;
};

/* ------------------------------------------------------------ tables */

struct table {
	size_t ncols;
	size_t nrows;
	char **cells; /* nrows * ncols, row-major */
};

static void table_add(struct table *t, const char *const *row)
{
	char **c = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*c));

	if (!c) {
		fprintf(stderr, "pvcontrol: out of memory\n");
		exit(EXIT_API);
	}
	t->cells = c;
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = row[i] && *row[i] ? row[i] : "-";
		c[t->nrows * t->ncols + i] = strdup(s);
	}
	t->nrows++;
}

static void table_print(struct table *t)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				printf("%s\n", s ? s : "");
			else
				printf("%-*s  ", (int)w[c], s ? s : "");
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static char *jint(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "-");
	return buf;
}

/* -------------------------------------------------------------- calls */

/* Why a connection to ep failed, and what to do about it. */
static void connect_hint(const struct endpoint *ep, int r, const char *err)
{
	switch (r) {
	case -ENOENT:
		fprintf(stderr,
			"pvcontrol: no %s at %s: is %s running? Start it (%s) "
			"or pass %s SOCK (or $%s)\n",
			ep->what, ep->sock, ep->daemon, ep->start, ep->option,
			ep->env);
		break;
	case -ECONNREFUSED:
		fprintf(stderr,
			"pvcontrol: nothing answers on %s (a stale socket: "
			"%s stopped?). Start it (%s) or pass %s SOCK (or "
			"$%s)\n",
			ep->sock, ep->daemon, ep->start, ep->option, ep->env);
		break;
	case -EACCES:
	case -EPERM:
		fprintf(stderr,
			"pvcontrol: %s: permission denied (the %s is for "
			"root only: run pvcontrol as root)\n",
			ep->sock, ep->what);
		break;
	case -ENOTSOCK:
		fprintf(stderr,
			"pvcontrol: %s is not a socket: pass %s's %s with %s "
			"SOCK\n",
			ep->sock, ep->daemon, ep->what, ep->option);
		break;
	default:
		fprintf(stderr, "pvcontrol: %s: %s\n", ep->sock, err);
	}
}

/* Makes one API call; on success returns the parsed JSON body (or
 * json_null() for an empty one). On failure prints why and sets *rc.
 * on404: what a 404 answer means. */
/* What a 404 means to a call. */
enum on404 {
	ON404_ERROR,	    /* an API error (e.g. no such container) */
	ON404_WRONG_SOCKET, /* a path the daemon always serves: wrong socket */
	ON404_QUIET,	    /* the caller tries something else: *rc = -1 */
};

static json_t *call(const struct cli *cli, const struct endpoint *ep,
		    const char *method, const char *path, const char *body,
		    size_t body_len, enum on404 on404, int *rc)
{
	struct pvx_http_response resp;
	json_error_t jerr;
	json_t *j = NULL;
	char err[256] = "";
	int r;

	r = pvx_httpc_request(ep->sock, method, path, body, body_len,
			      TIMEOUT_MS, &resp, err, sizeof(err));
	if (r < 0) {
		if (resp.connected)
			fprintf(stderr, "pvcontrol: %s: %s\n", ep->sock, err);
		else
			connect_hint(ep, r, err);
		*rc = resp.connected ? EXIT_API : EXIT_CONNECT;
		return NULL;
	}
	if (resp.body_len)
		j = json_loadb(resp.body, resp.body_len, 0, &jerr);
	if (resp.status >= 200 && resp.status < 300) {
		if (!j && resp.body_len) {
			fprintf(stderr,
				"pvcontrol: answer is not JSON: %s (line %d)\n",
				jerr.text, jerr.line);
			*rc = EXIT_API;
		} else if (!j) {
			j = json_null();
		}
		pvx_http_response_free(&resp);
		return j;
	}
	if (resp.status == 404 && on404 == ON404_QUIET) {
		json_decref(j);
		pvx_http_response_free(&resp);
		*rc = -1;
		return NULL;
	}
	if (resp.status == 404 && on404 == ON404_WRONG_SOCKET) {
		fprintf(stderr,
			"pvcontrol: %s answers 404 for %s: it is not %s's %s "
			"(%s?). Pass %s's socket with %s SOCK\n",
			ep->sock, path, ep->daemon, ep->what, ep->other,
			ep->daemon, ep->option);
		json_decref(j);
		pvx_http_response_free(&resp);
		*rc = EXIT_CONNECT;
		return NULL;
	}
	/* An error: {"error": "...", "errors": [...]} or whatever the
	 * server sent (evhttp's own 400/413 pages are HTML). */
	if (cli->json && j) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s)
			printf("%s\n", s);
		free(s);
	}
	if (json_is_object(j) && json_is_string(json_object_get(j, "error"))) {
		json_t *errs = json_object_get(j, "errors"), *e;
		size_t i;

		fprintf(stderr, "pvcontrol: %s (HTTP %d)\n", jstr(j, "error"),
			resp.status);
		json_array_foreach(errs, i, e)
		{
			if (json_is_string(e))
				fprintf(stderr, "  %s\n", json_string_value(e));
		}
	} else {
		fprintf(stderr, "pvcontrol: HTTP %d\n", resp.status);
	}
	json_decref(j);
	pvx_http_response_free(&resp);
	*rc = EXIT_API;
	return NULL;
}

static void print_json(json_t *j)
{
	char *s =
	    json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* A table column: its header and how a cell is made of a row's JSON. */
struct column {
	const char *head;
	void (*cell)(json_t *row, char *buf, size_t len);
};

static void table_from(const struct column *cols, size_t ncols, json_t *rows)
{
	struct table t = {.ncols = ncols};
	const char *cells[32];
	char bufs[32][320];
	json_t *r;
	size_t i;

	if (ncols > 32)
		abort(); /* a table of ours is never that wide */
	for (size_t c = 0; c < ncols; c++)
		cells[c] = cols[c].head;
	table_add(&t, cells);
	json_array_foreach(rows, i, r)
	{
		for (size_t c = 0; c < ncols; c++) {
			bufs[c][0] = '\0';
			cols[c].cell(r, bufs[c], sizeof(bufs[c]));
			cells[c] = bufs[c];
		}
		table_add(&t, cells);
	}
	table_print(&t);
}

#define STR_CELL(fn, key)                                                      \
	static void fn(json_t *r, char *buf, size_t len)                       \
	{                                                                      \
		snprintf(buf, len, "%s", jstr(r, key));                        \
	}
#define INT_CELL(fn, key)                                                      \
	static void fn(json_t *r, char *buf, size_t len)                       \
	{                                                                      \
		jint(r, key, buf, len);                                        \
	}

STR_CELL(c_type, "type")
STR_CELL(c_name, "name")
STR_CELL(c_consumer, "consumer")
STR_CELL(c_provider, "provider")
STR_CELL(c_target, "target")
STR_CELL(c_socket, "socket")
STR_CELL(c_mode, "mode")
STR_CELL(c_status, "status")
STR_CELL(c_error, "error")
INT_CELL(c_consumer_pid, "consumer_pid")
INT_CELL(c_provider_pid, "provider_pid")
INT_CELL(c_pid, "pid")
INT_CELL(c_accepted, "accepted")
INT_CELL(c_active, "active")
INT_CELL(c_failed, "failed")

static const struct column graph_cols[] = {
    {"TYPE", c_type},	      {"NAME", c_name},
    {"CONSUMER", c_consumer}, {"CONSUMER_PID", c_consumer_pid},
    {"PROVIDER", c_provider}, {"PROVIDER_PID", c_provider_pid},
    {"TARGET", c_target},     {"SOCKET", c_socket},
};

static int cmd_graph_ls(const struct cli *cli)
{
	int rc = 0;
	json_t *g = call(cli, &cli->ctrl, "GET", "/xconnect-graph", NULL, 0,
			 ON404_WRONG_SOCKET, &rc);

	if (!g)
		return rc;
	if (cli->json)
		print_json(g);
	else
		table_from(graph_cols,
			   sizeof(graph_cols) / sizeof(graph_cols[0]), g);
	json_decref(g);
	return 0;
}

/* links ls: a row per link of pv-xconnect's GET /links. */

/* The ingress rule's name where there is one, else the service name. */
static void c_link(json_t *r, char *buf, size_t len)
{
	const char *ing = jstr(r, "ingress");

	snprintf(buf, len, "%s", *ing ? ing : jstr(r, "name"));
}

/* Where clients connect: an ingress listens on the device, a mesh link in
 * its consumer. */
static void c_listener(json_t *r, char *buf, size_t len)
{
	if (strcmp(jstr(r, "consumer"), "EXTERNAL") == 0)
		snprintf(buf, len, "%s", jstr(r, "target"));
	else
		snprintf(buf, len, "%s:%s", jstr(r, "consumer"),
			 jstr(r, "target"));
}

static void c_provider_and_pid(json_t *r, char *buf, size_t len)
{
	char pid[24];

	snprintf(buf, len, "%s/%s", jstr(r, "provider"),
		 jint(r, "provider_pid", pid, sizeof(pid)));
}

/* The reason in words; the bare state from an older pv-xconnect. */
static void c_state(json_t *r, char *buf, size_t len)
{
	const char *reason = jstr(r, "reason");

	snprintf(buf, len, "%s", *reason ? reason : jstr(r, "state"));
}

static void c_bytes(json_t *r, char *buf, size_t len)
{
	char bi[24], bo[24];

	snprintf(buf, len, "%s/%s", jint(r, "bytes_in", bi, sizeof(bi)),
		 jint(r, "bytes_out", bo, sizeof(bo)));
}

/* Refused at accept / closed by the first-byte or header deadline
 * (docs/xconnect.md, "Slow and idle clients"); --json has them apart. */
static void c_guards(json_t *r, char *buf, size_t len)
{
	snprintf(
	    buf, len, "%lld/%lld",
	    json_integer_value(json_object_get(r, "refused_max_conns")) +
		json_integer_value(json_object_get(r, "refused_per_client")),
	    json_integer_value(json_object_get(r, "timeout_first_byte")) +
		json_integer_value(json_object_get(r, "timeout_header")));
}

/* A link's backend health for the table: "up 0.4ms" (last connect
 * latency), "down since 21:04:05 (connection refused)", "unknown". */
static void health_text(json_t *l, char *buf, size_t len)
{
	const char *h = jstr(l, "health");
	json_t *since = json_object_get(l, "down_since");
	json_t *ms = json_object_get(l, "connect_ms_last");
	char when[32] = "?";
	struct tm tm;
	time_t t;

	if (strcmp(h, "down") == 0) {
		if (json_is_integer(since)) {
			t = (time_t)json_integer_value(since);
			if (localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%H:%M:%S", &tm);
		}
		snprintf(buf, len, "down since %s (%s)", when,
			 jstr(l, "last_error"));
	} else if (strcmp(h, "up") == 0 && json_is_number(ms)) {
		snprintf(buf, len, "up %.1fms", json_number_value(ms));
	} else {
		snprintf(buf, len, "%s", *h ? h : "-");
	}
}

static void c_health(json_t *r, char *buf, size_t len)
{
	health_text(r, buf, len);
}

INT_CELL(c_held, "held")
INT_CELL(c_denied, "denied")

/* http links: requests / new backend connections / requests sent on a
 * kept-alive one (docs/xconnect.md, "Backend keep-alive"); "-" for the
 * stream plugins. */
static void c_requests(json_t *r, char *buf, size_t len)
{
	char q[24], n[24], u[24];

	if (strcmp(jstr(r, "type"), "http") != 0) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%s/%s/%s", jint(r, "requests", q, sizeof(q)),
		 jint(r, "backend_connects", n, sizeof(n)),
		 jint(r, "backend_reused", u, sizeof(u)));
}

static const struct column link_cols[] = {
    {"LINK", c_link},
    {"TYPE", c_type},
    {"LISTENER", c_listener},
    {"BACKEND", c_socket},
    {"PROVIDER/PID", c_provider_and_pid},
    {"STATE", c_state},
    {"ACCEPTED", c_accepted},
    {"ACTIVE", c_active},
    {"FAILED", c_failed},
    {"BYTES_IN/OUT", c_bytes},
    {"REFUSED/TIMEOUTS", c_guards},
    {"HEALTH", c_health},
    {"HELD", c_held},
    {"DENIED", c_denied},
    {"REQUESTS/NEW/REUSED", c_requests},
};

static int cmd_links_ls(const struct cli *cli)
{
	json_t *links;
	int rc = 0;

	links = call(cli, &cli->status, "GET", "/links", NULL, 0,
		     ON404_WRONG_SOCKET, &rc);
	if (!links)
		return rc;
	if (cli->json)
		print_json(links);
	else
		table_from(link_cols, sizeof(link_cols) / sizeof(link_cols[0]),
			   links);
	json_decref(links);
	return 0;
}

/* "eth0=10.0.4.2/24,eth1=…" */
static void c_addresses(json_t *r, char *buf, size_t len)
{
	json_t *a;
	size_t i, off = 0;

	json_array_foreach(json_object_get(r, "addresses"), i, a)
	{
		int w = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "",
				 jstr(a, "interface"), jstr(a, "address"));
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
}

/* The last exit as one word: "3", "SIGKILL", "" (none yet). */
static void c_exit(json_t *r, char *buf, size_t len)
{
	json_t *e = json_object_get(r, "exit");

	buf[0] = '\0';
	if (!json_is_object(e))
		return;
	if (json_is_string(json_object_get(e, "signal")))
		snprintf(buf, len, "%s", jstr(e, "signal"));
	else
		jint(e, "code", buf, len);
}

INT_CELL(c_restarts, "restarts")

static const struct column container_cols[] = {
    {"NAME", c_name},	  {"TYPE", c_type},	    {"MODE", c_mode},
    {"STATUS", c_status}, {"PID", c_pid},	    {"ADDRESSES", c_addresses},
    {"EXIT", c_exit},	  {"RESTARTS", c_restarts}, {"ERROR", c_error},
};

static void containers_table(json_t *cs)
{
	table_from(container_cols,
		   sizeof(container_cols) / sizeof(container_cols[0]), cs);
}

static int cmd_containers_ls(const struct cli *cli)
{
	int rc = 0;
	json_t *cs = call(cli, &cli->ctrl, "GET", "/containers", NULL, 0,
			  ON404_WRONG_SOCKET, &rc);

	if (!cs)
		return rc;
	if (cli->json)
		print_json(cs);
	else
		containers_table(cs);
	json_decref(cs);
	return 0;
}

static void print_applied(const struct cli *cli, json_t *j)
{
	json_t *ws = json_object_get(j, "warnings"), *w;
	size_t i;

	if (cli->json) {
		print_json(j);
		return;
	}
	printf("%s\n", jstr(j, "status")[0] ? jstr(j, "status") : "applied");
	json_array_foreach(ws, i, w)
	{
		if (json_is_string(w))
			printf("warning: %s\n", json_string_value(w));
	}
}

static char *read_file(const char *path, size_t *len)
{
	char *buf;
	int r = pvx_file_read(path, MAX_STATE_FILE, &buf, len);

	if (r < 0) {
		fprintf(stderr, "pvcontrol: %s: %s\n", path,
			pvx_file_strerror(r));
		return NULL;
	}
	return buf;
}

/* Adds <dir>/<rel> to the state object under key rel, if it exists. */
static int add_state_file(json_t *st, const char *dir, const char *rel)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *j;
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		fprintf(stderr, "pvcontrol: %s: line %d column %d: %s\n", rel,
			jerr.line, jerr.column, jerr.text);
		return -1;
	}
	json_object_set_new(st, rel, j);
	return 0;
}

/* A state directory as the state.json object of the same meaning:
 * device.json and each <container>/{run,services}.json. */
static char *state_dir_to_json(const char *dir, size_t *len)
{
	json_t *st = json_pack("{s:s}", "#spec", "pantavisor-service-system@1");
	DIR *d = opendir(dir);
	struct dirent *de;
	char *s = NULL;
	int bad = 0;

	if (!st || !d)
		goto out;
	bad |= add_state_file(st, dir, "device.json");
	while ((de = readdir(d)) != NULL) {
		char sub[PATH_MAX], rel[NAME_MAX + 32];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (stat(sub, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		snprintf(rel, sizeof(rel), "%s/run.json", de->d_name);
		bad |= add_state_file(st, dir, rel);
		snprintf(rel, sizeof(rel), "%s/services.json", de->d_name);
		bad |= add_state_file(st, dir, rel);
	}
	if (!bad)
		s = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	if (s)
		*len = strlen(s);
out:
	if (d)
		closedir(d);
	json_decref(st);
	return s;
}

/* PUT /state with the state as a body: what an older pv-ctrld without
 * POST /state/load gets. */
static int state_put(const struct cli *cli, const char *path)
{
	struct stat sb;
	size_t len = 0;
	char *body;
	json_t *j;
	int rc = 0;

	if (stat(path, &sb) < 0) {
		fprintf(stderr, "pvcontrol: %s: %s\n", path, strerror(errno));
		return EXIT_API;
	}
	body = S_ISDIR(sb.st_mode) ? state_dir_to_json(path, &len)
				   : read_file(path, &len);
	if (!body) {
		fprintf(stderr, "pvcontrol: %s: cannot read state\n", path);
		return EXIT_API;
	}
	j = call(cli, &cli->ctrl, "PUT", "/state", body, len,
		 ON404_WRONG_SOCKET, &rc);
	free(body);
	if (!j)
		return rc;
	print_applied(cli, j);
	json_decref(j);
	fprintf(stderr,
		"pvcontrol: note: this pv-ctrld takes no state source path "
		"(no POST /state/load): the state was sent as a body; its "
		"containers run in the folder of pv-ctrld's --state, and "
		"'state reload' rereads that, not %s\n",
		path);
	return 0;
}

/* The daemon reads the state itself from the absolute path, and makes it
 * its source: process containers run in that folder, 'state reload'
 * rereads it (docs/api.md). */
static int cmd_state_load(const struct cli *cli, const char *path)
{
	char *abs = realpath(path, NULL);
	char *body;
	json_t *j;
	int rc = 0;

	if (!abs) {
		fprintf(stderr, "pvcontrol: %s: %s\n", path, strerror(errno));
		return EXIT_API;
	}
	j = json_pack("{s:s}", "path", abs);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	free(abs);
	if (!body) {
		fprintf(stderr, "pvcontrol: out of memory\n");
		return EXIT_API;
	}
	j = call(cli, &cli->ctrl, "POST", "/state/load", body, strlen(body),
		 ON404_QUIET, &rc);
	free(body);
	if (!j && rc == -1)
		return state_put(cli, path);
	if (!j)
		return rc;
	print_applied(cli, j);
	json_decref(j);
	return 0;
}

static int cmd_state_reload(const struct cli *cli)
{
	int rc = 0;
	json_t *j = call(cli, &cli->ctrl, "POST", "/state/reload", NULL, 0,
			 ON404_WRONG_SOCKET, &rc);

	if (!j)
		return rc;
	print_applied(cli, j);
	json_decref(j);
	return 0;
}

/* "/containers/<name>" with the name percent-encoded. */
static char *container_path(const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(name);
	char *p = malloc(sizeof("/containers/") + 3 * n), *q;

	if (!p)
		return NULL;
	q = p + sprintf(p, "/containers/");
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_' || *s == '~') {
			*q++ = (char)*s;
		} else {
			*q++ = '%';
			*q++ = hex[*s >> 4];
			*q++ = hex[*s & 15];
		}
	}
	*q = '\0';
	return p;
}

static int cmd_container(const struct cli *cli, const char *name, json_t *body)
{
	char *path = container_path(name);
	char *b = json_dumps(body, JSON_COMPACT);
	json_t *j = NULL;
	int rc = 0;

	json_decref(body);
	if (path && b)
		j = call(cli, &cli->ctrl, "PUT", path, b, strlen(b),
			 ON404_ERROR, &rc);
	else
		rc = EXIT_API;
	free(path);
	free(b);
	if (!j)
		return rc;
	if (cli->json) {
		print_json(j);
	} else {
		json_t *one = json_array();
		json_array_append(one, j);
		containers_table(one);
		json_decref(one);
	}
	json_decref(j);
	return 0;
}

/* ---------------------------------------------------------- graph dot */

/* Writes s as a quoted DOT string, with " and \ escaped (\n kept as a
 * line break of the label). */
static void dq(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The pool of a container: its first address's, or "" (host, none). */
static const char *container_pool(json_t *c)
{
	json_t *a = json_array_get(json_object_get(c, "addresses"), 0);

	return a ? jstr(a, "pool") : "";
}

static void dot_container(FILE *f, json_t *c, const char *indent)
{
	char label[1024];
	size_t off;
	json_t *a;
	size_t i;

	off = (size_t)snprintf(label, sizeof(label), "%s\n%s", jstr(c, "name"),
			       jstr(c, "status"));
	json_array_foreach(json_object_get(c, "addresses"), i, a)
	{
		if (off >= sizeof(label))
			break;
		off += (size_t)snprintf(label + off, sizeof(label) - off,
					"\n%s %s", jstr(a, "interface"),
					jstr(a, "address"));
	}
	fprintf(f, "%s", indent);
	dq(f, jstr(c, "name"));
	fprintf(f, " [shape=box, style=rounded, label=");
	dq(f, label);
	fprintf(f, "];\n");
}

/* The mesh as a Graphviz digraph: the device's ingress ports, each pool as
 * a cluster holding its containers (with their addresses), the other
 * containers, and one edge per link, coloured by type (docs/api.md). */
static void print_dot(FILE *f, json_t *graph, json_t *cts)
{
	static const struct {
		const char *type, *style;
	} styles[] = {
	    {"tcp", "color=\"#1f77b4\""},
	    {"http", "color=\"#2ca02c\", penwidth=2"},
	    {"unix", "color=\"#9467bd\", style=dashed"},
	};
	json_t *c, *l, *seen = json_object();
	char id[320], label[400];
	size_t i, j, npool = 0;

	fprintf(f, "digraph pvx {\n"
		   "  rankdir=LR;\n"
		   "  fontname=\"Helvetica\"; fontsize=11;\n"
		   "  node [fontname=\"Helvetica\", fontsize=10];\n"
		   "  edge [fontname=\"Helvetica\", fontsize=9];\n"
		   "  subgraph cluster_device {\n"
		   "    label=\"device ports\"; style=filled; "
		   "color=\"#eeeeee\";\n");
	/* One node per ingress listener of the device. */
	json_array_foreach(graph, i, l)
	{
		if (strcmp(jstr(l, "consumer"), "EXTERNAL") != 0)
			continue;
		snprintf(id, sizeof(id), "port %s", jstr(l, "target"));
		if (json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		fprintf(f, "    ");
		dq(f, id);
		fprintf(f, " [shape=cds, label=");
		dq(f, jstr(l, "target"));
		fprintf(f, "];\n");
	}
	fprintf(f, "  }\n");
	/* Each pool once, as a cluster holding its containers. */
	json_array_foreach(cts, i, c)
	{
		const char *pool = container_pool(c);
		if (!*pool)
			continue;
		snprintf(id, sizeof(id), "pool %s", pool);
		if (json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		fprintf(f, "  subgraph cluster_pool%zu {\n    label=", npool++);
		dq(f, id);
		fprintf(f, "; style=dashed;\n");
		json_array_foreach(cts, j, l)
		{
			if (strcmp(container_pool(l), pool) == 0)
				dot_container(f, l, "    ");
		}
		fprintf(f, "  }\n");
	}
	json_array_foreach(cts, i, c)
	{
		if (!*container_pool(c))
			dot_container(f, c, "  ");
	}
	/* Links: from where clients connect to the provider. */
	json_array_foreach(graph, i, l)
	{
		const char *style = "color=gray";
		const char *sock = jstr(l, "socket");
		for (size_t k = 0; k < sizeof(styles) / sizeof(styles[0]); k++)
			if (strcmp(styles[k].type, jstr(l, "type")) == 0)
				style = styles[k].style;
		if (strcmp(jstr(l, "consumer"), "EXTERNAL") == 0)
			snprintf(id, sizeof(id), "port %s", jstr(l, "target"));
		else
			snprintf(id, sizeof(id), "%s", jstr(l, "consumer"));
		snprintf(label, sizeof(label), "%s %s\n%s", jstr(l, "type"),
			 jstr(l, "name"), *sock ? sock : "(no address yet)");
		fprintf(f, "  ");
		dq(f, id);
		fprintf(f, " -> ");
		dq(f, jstr(l, "provider"));
		fprintf(f, " [label=");
		dq(f, label);
		fprintf(f, ", %s];\n", style);
	}
	fprintf(f, "}\n");
	json_decref(seen);
}

static int cmd_graph_dot(const struct cli *cli)
{
	int rc = 0;
	json_t *g = call(cli, &cli->ctrl, "GET", "/xconnect-graph", NULL, 0,
			 ON404_WRONG_SOCKET, &rc);
	json_t *cs = NULL;

	if (g)
		cs = call(cli, &cli->ctrl, "GET", "/containers", NULL, 0,
			  ON404_WRONG_SOCKET, &rc);
	if (g && cs)
		print_dot(stdout, g, cs);
	json_decref(g);
	json_decref(cs);
	return rc;
}

/* ----------------------------------------------------------- commands */

/* One command: "group verb ARGS"; nmin..nmax positional arguments follow
 * the verb. */
struct command {
	const char *group;
	const char *verb;
	const char *args; /* their usage: "NAME PID" */
	int nmin, nmax;
	const char *help;
	int (*run)(const struct cli *cli, char **a);
	bool rest; /* takes "-- WORDS…" (cli->rest) */
};

static int run_graph_ls(const struct cli *cli, char **a)
{
	(void)a;
	return cmd_graph_ls(cli);
}

static int run_graph_dot(const struct cli *cli, char **a)
{
	(void)a;
	return cmd_graph_dot(cli);
}

static int run_containers_ls(const struct cli *cli, char **a)
{
	(void)a;
	return cmd_containers_ls(cli);
}

static int run_state_load(const struct cli *cli, char **a)
{
	return cmd_state_load(cli, a[0]);
}

static int run_state_reload(const struct cli *cli, char **a)
{
	(void)a;
	return cmd_state_reload(cli);
}

static int run_links_ls(const struct cli *cli, char **a)
{
	(void)a;
	return cmd_links_ls(cli);
}

static int run_adopt(const struct cli *cli, char **a)
{
	char *end;
	long pid;

	errno = 0;
	pid = strtol(a[1], &end, 10);
	if (errno || end == a[1] || *end || pid <= 0 || pid > INT_MAX) {
		fprintf(stderr,
			"pvcontrol: container adopt: '%s' is not a pid (a "
			"number > 0)\n",
			a[1]);
		return EXIT_USAGE;
	}
	return cmd_container(cli, a[0],
			     json_pack("{s:I}", "pid", (json_int_t)pid));
}

static int run_start(const struct cli *cli, char **a)
{
	return cmd_container(cli, a[0], json_pack("{s:s}", "action", "start"));
}

static int run_stop(const struct cli *cli, char **a)
{
	return cmd_container(cli, a[0], json_pack("{s:s}", "action", "stop"));
}

/* One GET of the log from *offset on, printed as is; *offset moves to
 * the end (the answer's ETag). Returns 0, or an exit code. */
static int logs_once(const struct cli *cli, const char *cpath,
		     unsigned long long *offset, bool *got)
{
	struct pvx_http_response resp;
	char err[256] = "", *path = NULL;
	int r;

	if (asprintf(&path, "%s/logs?offset=%llu", cpath, *offset) < 0)
		return EXIT_API;
	r = pvx_httpc_request(cli->ctrl.sock, "GET", path, NULL, 0, TIMEOUT_MS,
			      &resp, err, sizeof(err));
	free(path);
	if (r < 0) {
		if (resp.connected)
			fprintf(stderr, "pvcontrol: %s: %s\n", cli->ctrl.sock,
				err);
		else
			connect_hint(&cli->ctrl, r, err);
		return resp.connected ? EXIT_API : EXIT_CONNECT;
	}
	if (resp.status != 200) {
		json_t *j = json_loadb(resp.body, resp.body_len, 0, NULL);

		fprintf(stderr, "pvcontrol: %s (HTTP %d)\n",
			j ? jstr(j, "error") : "", resp.status);
		json_decref(j);
		pvx_http_response_free(&resp);
		return EXIT_API;
	}
	fwrite(resp.body, 1, resp.body_len, stdout);
	fflush(stdout);
	*got = resp.body_len > 0;
	if (resp.etag)
		*offset = strtoull(resp.etag + (resp.etag[0] == '"'), NULL, 10);
	pvx_http_response_free(&resp);
	return 0;
}

/* container logs NAME [-f]: the output kept, then (with -f) what comes,
 * polled every 200 ms until the container is neither running nor about
 * to be restarted. Its last exit, if it is not running, on stderr. */
static int run_logs(const struct cli *cli, char **a)
{
	char *cpath = container_path(a[0]);
	unsigned long long offset = 0;
	bool got = false, live = true;
	struct cli quiet = *cli;
	json_t *c = NULL;
	int rc = 0;

	if (!cpath)
		return EXIT_API;
	quiet.json = false;
	for (;;) {
		rc = logs_once(cli, cpath, &offset, &got);
		if (rc || !live)
			break;
		json_decref(c);
		c = call(&quiet, &cli->ctrl, "GET", cpath, NULL, 0, false, &rc);
		if (!c)
			break;
		/* Without -f, or once it is over: one last read of what it
		 * left, then out. */
		live = cli->follow &&
		       (strcmp(jstr(c, "status"), "running") == 0 ||
			strcmp(jstr(c, "status"), "restarting") == 0);
		if (live && !got)
			usleep(200 * 1000);
	}
	if (c && rc == 0 && strcmp(jstr(c, "status"), "running") != 0 &&
	    json_is_object(json_object_get(c, "exit"))) {
		json_t *e = json_object_get(c, "exit");
		char ex[32], rs[24];

		c_exit(c, ex, sizeof(ex));
		fprintf(
		    stderr, "pvcontrol: %s %s: %s %s at %s, restarts %s\n",
		    a[0], jstr(c, "status"),
		    json_is_string(json_object_get(e, "signal")) ? "killed by"
								 : "exit code",
		    ex, jstr(e, "time"), jint(c, "restarts", rs, sizeof(rs)));
	}
	json_decref(c);
	free(cpath);
	return rc;
}

/* container exec NAME -- CMD…: CMD inside the container's namespaces
 * (IPC, UTS, network, PID, cgroup, mount) and working directory, as a
 * child of this process, which waits and exits with its status (128 + the
 * signal when one ended it). pvcontrol's environment is kept. Needs the
 * privileges setns(2) asks for (root). docs/api.md. */
static int run_exec(const struct cli *cli, char **a)
{
	char *cpath = container_path(a[0]), err[256];
	json_t *c;
	int rc = 0, st;
	pid_t pid, child;

	if (!cli->rest || cli->nrest == 0) {
		fprintf(stderr, "pvcontrol: container exec: missing -- CMD\n");
		free(cpath);
		return EXIT_USAGE;
	}
	c = cpath ? call(cli, &cli->ctrl, "GET", cpath, NULL, 0, false, &rc)
		  : NULL;
	free(cpath);
	if (!c)
		return rc ? rc : EXIT_API;
	pid = (pid_t)json_integer_value(json_object_get(c, "pid"));
	if (pid <= 0) {
		fprintf(stderr,
			"pvcontrol: container %s is %s: no process to "
			"enter\n",
			a[0], jstr(c, "status"));
		json_decref(c);
		return EXIT_API;
	}
	json_decref(c);
	/* The namespaces are entered by a child: pvcontrol itself stays in
	 * its own (a process container has its own PID namespace and /proc,
	 * where pvcontrol's own pid does not exist). That child forks CMD,
	 * which is then inside the container's PID namespace too. */
	fflush(NULL);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "pvcontrol: fork: %s\n", strerror(errno));
		return EXIT_API;
	}
	if (child == 0) {
		pid_t cmd;

		if (pvx_ns_enter_all(pid, err, sizeof(err)) < 0) {
			fprintf(stderr,
				"pvcontrol: container %s (pid %d): %s\n", a[0],
				(int)pid, err);
			_exit(EXIT_API);
		}
		cmd = fork();
		if (cmd < 0) {
			fprintf(stderr, "pvcontrol: fork: %s\n",
				strerror(errno));
			_exit(EXIT_API);
		}
		if (cmd == 0) {
			execvp(cli->rest[0], cli->rest);
			fprintf(stderr, "pvcontrol: exec %s: %s\n",
				cli->rest[0], strerror(errno));
			_exit(127);
		}
		while (waitpid(cmd, &st, 0) < 0)
			if (errno != EINTR)
				_exit(EXIT_API);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			return EXIT_API;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_restart(const struct cli *cli, char **a)
{
	return cmd_container(cli, a[0],
			     json_pack("{s:s}", "action", "restart"));
}

/* Every command, in the order of --help, the man page and docs/api.md
 * (tests/e2e/op_cli.sh checks that the three list the same). */
static const struct command commands[] = {
    {"graph", "ls", "", 0, 0, "the xconnect graph", run_graph_ls, false},
    {"graph", "dot", "", 0, 0, "the mesh as Graphviz (| dot -Tsvg)",
     run_graph_dot, false},
    {"containers", "ls", "", 0, 0, "containers, status, addresses",
     run_containers_ls, false},
    {"container", "adopt", "NAME PID", 2, 2,
     "register an external container's pid", run_adopt, false},
    {"container", "start", "NAME", 1, 1, "start a process container", run_start,
     false},
    {"container", "stop", "NAME", 1, 1, "stop a process container", run_stop,
     false},
    {"container", "restart", "NAME", 1, 1, "restart a process container",
     run_restart, false},
    {"container", "logs", "NAME [-f]", 1, 1,
     "a process container's output (-f: follow)", run_logs, false},
    {"container", "exec", "NAME -- CMD...", 1, 1,
     "run CMD in the container's namespaces", run_exec, true},
    {"state", "load", "FILE|DIR", 1, 1, "apply a state (PUT /state)",
     run_state_load, false},
    {"state", "reload", "", 0, 0, "reread the daemon's state source",
     run_state_reload, false},
    {"links", "ls", "", 0, 0, "pv-xconnect's links, states, counters",
     run_links_ls, false},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void command_line(FILE *f, const struct command *c)
{
	char head[64];

	snprintf(head, sizeof(head), "%s %s%s%s", c->group, c->verb,
		 *c->args ? " " : "", c->args);
	fprintf(f, "  %-26s %s\n", head, c->help);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pvcontrol [OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		command_line(f, &commands[i]);
	fprintf(f,
		"\noptions (anywhere on the line):\n"
		"  --ctrl SOCK    pv-ctrld's control socket (default $PVX_CTRL "
		"or\n"
		"                 %s)\n"
		"  --status SOCK  pv-xconnect's status socket, for links ls "
		"(default\n"
		"                 $PVX_STATUS or %s)\n"
		"  --json         print the API's JSON as is\n"
		"  --version      print the version\n"
		"  -h, --help     this help (after a command: its usage)\n"
		"\nexit: 0 ok, 1 API error, 2 usage, 3 cannot connect\n",
		DEFAULT_CTRL, PVX_DEFAULT_STATUS);
}

/* The usage of the commands of one group (e.g. every "container …"). */
static void group_usage(FILE *f, const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			fprintf(f, "usage: pvcontrol [OPTIONS] %s %s%s%s\n",
				commands[i].group, commands[i].verb,
				*commands[i].args ? " " : "", commands[i].args);
}

static void command_usage(FILE *f, const struct command *c)
{
	fprintf(f, "usage: pvcontrol [OPTIONS] %s %s%s%s\n       %s\n",
		c->group, c->verb, *c->args ? " " : "", c->args, c->help);
}

static bool group_known(const char *group)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			return true;
	return false;
}

/* "pvcontrol: unknown command 'grpah' (did you mean 'graph'?)" */
static void unknown_group(const char *word)
{
	const char *groups[NCOMMANDS + 1];
	const char *near;

	for (size_t i = 0; i < NCOMMANDS; i++)
		groups[i] = commands[i].group;
	groups[NCOMMANDS] = NULL;
	near = pvx_closest_word(word, groups);
	if (near) {
		fprintf(stderr,
			"pvcontrol: unknown command '%s' (did you mean "
			"'%s'?)\n",
			word, near);
		group_usage(stderr, near);
	} else {
		fprintf(stderr, "pvcontrol: unknown command '%s'\n", word);
		usage(stderr);
	}
}

/* A verb the group does not have: the closest verb of the group, or the
 * same verb in a group of a close name ("container ls": "containers
 * ls"). */
static void unknown_verb(const char *group, const char *verb)
{
	const char *verbs[NCOMMANDS + 1], *near;
	size_t n = 0;

	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, group) == 0)
			verbs[n++] = commands[i].verb;
	verbs[n] = NULL;
	near = pvx_closest_word(verb, verbs);
	for (size_t i = 0; i < NCOMMANDS && !near; i++) {
		const char *g[] = {commands[i].group, NULL};
		if (strcmp(commands[i].verb, verb) == 0 &&
		    strcmp(commands[i].group, group) != 0 &&
		    pvx_closest_word(group, g)) {
			fprintf(stderr,
				"pvcontrol: %s: unknown subcommand '%s' (did "
				"you mean '%s %s'?)\n",
				group, verb, commands[i].group, verb);
			group_usage(stderr, group);
			return;
		}
	}
	if (near)
		fprintf(stderr,
			"pvcontrol: %s: unknown subcommand '%s' (did you mean "
			"'%s %s'?)\n",
			group, verb, group, near);
	else
		fprintf(stderr, "pvcontrol: %s: unknown subcommand '%s'\n",
			group, verb);
	group_usage(stderr, group);
}

static bool is_opt(const char *arg, const char *opt)
{
	size_t n = strlen(opt);

	return strncmp(arg, opt, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* The value of an option: "--opt=V" or the next argument. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc || argv[*i + 1][0] == '\0') {
		fprintf(stderr, "pvcontrol: %s needs a value (%s SOCK)\n", opt,
			opt);
		return NULL;
	}
	return argv[++*i];
}

/* The command named by the first words, checking its arguments; NULL
 * after printing the problem in one line and the usage that fits. */
static const struct command *find_command(char **w, int n, int nrest)
{
	const struct command *cmd = NULL;
	const char *missing;

	if (n == 0) {
		fprintf(stderr, "pvcontrol: no command given\n");
		usage(stderr);
		return NULL;
	}
	if (!group_known(w[0])) {
		unknown_group(w[0]);
		return NULL;
	}
	if (n == 1) {
		fprintf(stderr, "pvcontrol: %s: missing subcommand\n", w[0]);
		group_usage(stderr, w[0]);
		return NULL;
	}
	for (size_t i = 0; i < NCOMMANDS && !cmd; i++)
		if (strcmp(commands[i].group, w[0]) == 0 &&
		    strcmp(commands[i].verb, w[1]) == 0)
			cmd = &commands[i];
	if (!cmd) {
		unknown_verb(w[0], w[1]);
		return NULL;
	}
	if (n - 2 < cmd->nmin) {
		/* Name the first missing argument. */
		missing = cmd->args;
		for (int k = 0; k < n - 2 && strchr(missing, ' '); k++)
			missing = strchr(missing, ' ') + 1;
		fprintf(stderr, "pvcontrol: %s %s: missing %s\n", cmd->group,
			cmd->verb, missing);
		command_usage(stderr, cmd);
		return NULL;
	}
	if (n - 2 > cmd->nmax || (nrest && !cmd->rest)) {
		fprintf(stderr, "pvcontrol: %s %s: unexpected argument '%s'\n",
			cmd->group, cmd->verb,
			n - 2 > cmd->nmax ? w[2 + cmd->nmax] : "--");
		command_usage(stderr, cmd);
		return NULL;
	}
	return cmd;
}

int main(int argc, char **argv)
{
	const char *env_ctrl = getenv("PVX_CTRL");
	const char *env_status = getenv("PVX_STATUS");
	struct cli cli = {
	    .ctrl = {.sock = env_ctrl && *env_ctrl ? env_ctrl : DEFAULT_CTRL,
		     .daemon = "pv-ctrld",
		     .what = "control socket",
		     .option = "--ctrl",
		     .env = "PVX_CTRL",
		     .start = "pv-ctrld --state DIR",
		     .other = "pv-xconnect's status socket? that one is for "
			      "links ls, with --status"},
	    .status = {.sock = env_status && *env_status ? env_status
							 : PVX_DEFAULT_STATUS,
		       .daemon = "pv-xconnect",
		       .what = "status socket",
		       .option = "--status",
		       .env = "PVX_STATUS",
		       .start = "pv-xconnect --status SOCK",
		       .other = "pv-ctrld's control socket? that one goes "
				"with --ctrl"},
	};
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	const struct command *cmd;
	const char *bad = NULL, *v;
	bool help = false;
	int n = 0, rc = EXIT_USAGE;

	if (!words) {
		fprintf(stderr, "pvcontrol: out of memory\n");
		return EXIT_API;
	}
	/* Options anywhere on the line; "--" ends them, the words after it
	 * are the command's. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			cli.rest = argv + i + 1;
			cli.nrest = argc - i - 1;
			break;
		} else if (is_opt(a, "--ctrl")) {
			if (!(v = opt_value(argc, argv, &i, "--ctrl")))
				bad = "";
			else
				cli.ctrl.sock = v;
		} else if (is_opt(a, "--status")) {
			if (!(v = opt_value(argc, argv, &i, "--status")))
				bad = "";
			else
				cli.status.sock = v;
		} else if (strcmp(a, "--json") == 0) {
			cli.json = true;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			cli.follow = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("pvcontrol (pvx) %s\n", PVX_VERSION);
			free(words);
			return 0;
		} else if (a[0] == '-' && a[1] != '\0') {
			if (!bad)
				bad = a;
		} else {
			words[n++] = argv[i];
		}
	}
	if (help || bad) {
		FILE *f = help && !bad ? stdout : stderr;
		const struct command *c = NULL;
		if (bad && *bad)
			fprintf(stderr, "pvcontrol: unknown option '%s'\n",
				bad);
		for (size_t i = 0; n >= 2 && i < NCOMMANDS && !c; i++)
			if (strcmp(commands[i].group, words[0]) == 0 &&
			    strcmp(commands[i].verb, words[1]) == 0)
				c = &commands[i];
		if (c)
			command_usage(f, c);
		else if (n >= 1 && group_known(words[0]))
			group_usage(f, words[0]);
		else
			usage(f);
		free(words);
		return bad ? EXIT_USAGE : 0;
	}
	cmd = find_command(words, n, cli.nrest);
	if (cmd && cli.follow && cmd->run != run_logs) {
		fprintf(stderr,
			"pvcontrol: %s %s: -f goes with container logs "
			"only\n",
			cmd->group, cmd->verb);
		command_usage(stderr, cmd);
		cmd = NULL;
	}
	if (cmd)
		rc = cmd->run(&cli, words + 2);
	free(words);
	return rc;
}
