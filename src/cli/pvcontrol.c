/* pvcontrol: command-line client of pv-ctrld's control API. Tables for
 * people, the raw JSON with --json. Exit codes: 0 ok, 1 the API refused
 * (its error and error list are printed), 2 usage, 3 cannot connect. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"
#include "common/httpc.h"

#define DEFAULT_CTRL "/run/pantavisor/pv/pv-ctrl"
#define TIMEOUT_MS 60000
#define EXIT_API 1
#define EXIT_USAGE 2
#define EXIT_CONNECT 3
#define MAX_STATE_FILE (16 * 1024 * 1024)

struct cli {
	const char *ctrl;
	const char *status; /* pv-xconnect's status socket */
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvcontrol [--ctrl SOCK] [--json] COMMAND\n"
		"\n"
		"commands:\n"
		"  graph ls                          the xconnect graph\n"
		"  containers ls                     containers and their "
		"addresses\n"
		"  state load FILE|DIR               apply a state (PUT "
		"/state)\n"
		"  state reload                      reread the daemon's state "
		"source\n"
		"  container adopt NAME PID          register an external "
		"container\n"
		"  container start|stop|restart NAME\n"
		"  links ls                          pv-xconnect's links and "
		"counters\n"
		"\n"
		"  --ctrl SOCK   control socket (default $PVX_CTRL or %s)\n"
		"  --status SOCK pv-xconnect status socket (links ls; default "
		"$PVX_STATUS)\n"
		"  --json        print the API's JSON as is\n"
		"\n"
		"exit: 0 ok, 1 API error, 2 usage, 3 cannot connect\n",
		DEFAULT_CTRL);
}

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

/* Makes one API call; on success returns the parsed JSON body (or
 * json_null() for an empty one). On failure prints why and sets *rc. */
static json_t *call(const struct cli *cli, const char *method, const char *path,
		    const char *body, size_t body_len, int *rc)
{
	struct pvx_http_response resp;
	json_error_t jerr;
	json_t *j = NULL;
	char err[256] = "";
	int r;

	r = pvx_httpc_request(cli->ctrl, method, path, body, body_len,
			      TIMEOUT_MS, &resp, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "pvcontrol: %s\n", err);
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

static int cmd_graph_ls(const struct cli *cli)
{
	int rc = 0;
	json_t *g = call(cli, "GET", "/xconnect-graph", NULL, 0, &rc), *l;
	struct table t = {.ncols = 8};
	size_t i;

	if (!g)
		return rc;
	if (cli->json) {
		print_json(g);
		json_decref(g);
		return 0;
	}
	table_add(&t,
		  (const char *const[]){"TYPE", "NAME", "CONSUMER", "PID",
					"PROVIDER", "PID", "TARGET", "SOCKET"});
	json_array_foreach(g, i, l)
	{
		char cp[24], pp[24];
		table_add(&t, (const char *const[]){
				  jstr(l, "type"), jstr(l, "name"),
				  jstr(l, "consumer"),
				  jint(l, "consumer_pid", cp, sizeof(cp)),
				  jstr(l, "provider"),
				  jint(l, "provider_pid", pp, sizeof(pp)),
				  jstr(l, "target"), jstr(l, "socket")});
	}
	table_print(&t);
	json_decref(g);
	return 0;
}

/* Counters of pv-xconnect's links, from its status socket (GET /links). */
static int cmd_links_ls(const struct cli *cli)
{
	struct cli st = *cli;
	struct table t = {.ncols = 10};
	json_t *links, *l;
	int rc = 0;
	size_t i;

	if (!cli->status || !*cli->status) {
		fprintf(stderr, "pvcontrol: links ls needs --status SOCK (or "
				"$PVX_STATUS)\n");
		return EXIT_USAGE;
	}
	st.ctrl = cli->status;
	links = call(&st, "GET", "/links", NULL, 0, &rc);
	if (!links)
		return rc;
	if (cli->json) {
		print_json(links);
		json_decref(links);
		return 0;
	}
	table_add(&t,
		  (const char *const[]){"TYPE", "NAME", "CONSUMER", "TARGET",
					"SOCKET", "STATE", "ACCEPTED", "ACTIVE",
					"FAILED", "BYTES IN/OUT"});
	json_array_foreach(links, i, l)
	{
		char acc[24], act[24], fail[24], bi[24], bo[24], bytes[64];
		snprintf(bytes, sizeof(bytes), "%s/%s",
			 jint(l, "bytes_in", bi, sizeof(bi)),
			 jint(l, "bytes_out", bo, sizeof(bo)));
		table_add(&t,
			  (const char *const[]){
			      jstr(l, "type"), jstr(l, "name"),
			      jstr(l, "consumer"), jstr(l, "target"),
			      jstr(l, "socket"), jstr(l, "state"),
			      jint(l, "accepted", acc, sizeof(acc)),
			      jint(l, "active", act, sizeof(act)),
			      jint(l, "failed", fail, sizeof(fail)), bytes});
	}
	table_print(&t);
	json_decref(links);
	return 0;
}

/* "eth0=10.0.4.2/24,eth1=…" */
static char *addresses_text(json_t *addrs)
{
	char *s = NULL;
	size_t len = 0, i;
	json_t *a;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	json_array_foreach(addrs, i, a)
	{
		fprintf(f, "%s%s=%s", i ? "," : "", jstr(a, "interface"),
			jstr(a, "address"));
	}
	fclose(f);
	return s;
}

static void containers_table(json_t *cs)
{
	struct table t = {.ncols = 7};
	size_t i;
	json_t *c;

	table_add(&t, (const char *const[]){"NAME", "TYPE", "MODE", "STATUS",
					    "PID", "ADDRESSES", "ERROR"});
	json_array_foreach(cs, i, c)
	{
		char pid[24];
		char *addrs = addresses_text(json_object_get(c, "addresses"));
		table_add(&t, (const char *const[]){
				  jstr(c, "name"), jstr(c, "type"),
				  jstr(c, "mode"), jstr(c, "status"),
				  jint(c, "pid", pid, sizeof(pid)),
				  addrs ? addrs : "", jstr(c, "error")});
		free(addrs);
	}
	table_print(&t);
}

static int cmd_containers_ls(const struct cli *cli)
{
	int rc = 0;
	json_t *cs = call(cli, "GET", "/containers", NULL, 0, &rc);

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

static int cmd_state_load(const struct cli *cli, const char *path)
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
	j = call(cli, "PUT", "/state", body, len, &rc);
	free(body);
	if (!j)
		return rc;
	print_applied(cli, j);
	json_decref(j);
	return 0;
}

static int cmd_state_reload(const struct cli *cli)
{
	int rc = 0;
	json_t *j = call(cli, "POST", "/state/reload", NULL, 0, &rc);

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
		j = call(cli, "PUT", path, b, strlen(b), &rc);
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

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"ctrl", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"status", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *env = getenv("PVX_CTRL");
	struct cli cli = {.ctrl = env && *env ? env : DEFAULT_CTRL,
			  .status = getenv("PVX_STATUS")};
	int c, n;
	char **a;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.ctrl = optarg;
			break;
		case 'j':
			cli.json = true;
			break;
		case 's':
			cli.status = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	a = argv + optind;
	n = argc - optind;
	if (n == 2 && strcmp(a[0], "graph") == 0 && strcmp(a[1], "ls") == 0)
		return cmd_graph_ls(&cli);
	if (n == 2 && strcmp(a[0], "containers") == 0 &&
	    strcmp(a[1], "ls") == 0)
		return cmd_containers_ls(&cli);
	if (n == 3 && strcmp(a[0], "state") == 0 && strcmp(a[1], "load") == 0)
		return cmd_state_load(&cli, a[2]);
	if (n == 2 && strcmp(a[0], "links") == 0 && strcmp(a[1], "ls") == 0)
		return cmd_links_ls(&cli);
	if (n == 2 && strcmp(a[0], "state") == 0 && strcmp(a[1], "reload") == 0)
		return cmd_state_reload(&cli);
	if (n == 4 && strcmp(a[0], "container") == 0 &&
	    strcmp(a[1], "adopt") == 0) {
		char *end;
		long pid;
		errno = 0;
		pid = strtol(a[3], &end, 10);
		if (errno || end == a[3] || *end || pid <= 0 || pid > INT_MAX) {
			fprintf(stderr, "pvcontrol: bad pid '%s'\n", a[3]);
			return EXIT_USAGE;
		}
		return cmd_container(
		    &cli, a[2], json_pack("{s:I}", "pid", (json_int_t)pid));
	}
	if (n == 3 && strcmp(a[0], "container") == 0 &&
	    (strcmp(a[1], "start") == 0 || strcmp(a[1], "stop") == 0 ||
	     strcmp(a[1], "restart") == 0))
		return cmd_container(&cli, a[2],
				     json_pack("{s:s}", "action", a[1]));
	usage(stderr);
	return EXIT_USAGE;
}
