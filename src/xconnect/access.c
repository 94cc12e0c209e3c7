/* Access log (see access.h): a pure formatter and a small writer. */
#include "xconnect/access.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pvx_access_fmt_parse(const char *s, enum pvx_access_fmt *out)
{
	if (strcmp(s, "kv") == 0)
		*out = PVX_ACCESS_KV;
	else if (strcmp(s, "json") == 0)
		*out = PVX_ACCESS_JSON;
	else
		return -EINVAL;
	return 0;
}

/* A growing line in a fixed buffer: like snprintf, counts what did not
 * fit so that the caller learns the full length. */
struct line {
	char *buf;
	size_t len, pos;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->pos < l->len) {
		size_t room = l->len - l->pos;
		memcpy(l->buf + l->pos, s, n < room ? n : room);
	}
	l->pos += n;
}

static void putc_(struct line *l, char c)
{
	put(l, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void putf(struct line *l,
						       const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, tmp,
		    (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Escaped string contents, shared by both formats: \" \\ and control
 * bytes as \u00XX (JSON), which also keeps a kv line one line. */
static void put_escaped(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			putc_(l, '\\');
			putc_(l, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			putf(l, "\\u%04x", c);
		} else {
			putc_(l, (char)c);
		}
	}
}

/* kv: bare when safe, else quoted. Empty and NULL are "-". */
static void kv_str(struct line *l, const char *key, const char *v)
{
	bool quote = false;

	putf(l, " %s=", key);
	if (!v || !*v) {
		putc_(l, '-');
		return;
	}
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    (unsigned char)*p < 0x21 || *p == 0x7f)
			quote = true;
	if (!quote) {
		put(l, v, strlen(v));
		return;
	}
	putc_(l, '"');
	put_escaped(l, v);
	putc_(l, '"');
}

static void json_str(struct line *l, const char *key, const char *v)
{
	if (!v)
		return;
	putf(l, ",\"%s\":\"", key);
	put_escaped(l, v);
	putc_(l, '"');
}

size_t pvx_access_format(const struct pvx_access_rec *r,
			 enum pvx_access_fmt fmt, const struct timespec *now,
			 char *buf, size_t len)
{
	struct line l = {buf, len, 0};
	char tbuf[32];
	struct tm tm;

	gmtime_r(&now->tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (fmt == PVX_ACCESS_JSON) {
		putf(&l, "{\"time\":\"%s.%03ldZ\"", tbuf,
		     now->tv_nsec / 1000000);
		json_str(&l, "type", r->type);
		json_str(&l, "link", r->link);
		json_str(&l, "client", r->client);
		json_str(&l, "backend", r->backend);
		putf(&l, ",\"bytes_in\":%" PRIu64, r->bytes_in);
		putf(&l, ",\"bytes_out\":%" PRIu64, r->bytes_out);
		putf(&l, ",\"ms\":%" PRIu64, r->ms);
		if (r->status)
			putf(&l, ",\"status\":%d", r->status);
		json_str(&l, "method", r->method);
		json_str(&l, "path", r->path);
		json_str(&l, "reason", r->reason);
		put(&l, "}\n", 2);
	} else {
		putf(&l, "time=%s.%03ldZ", tbuf, now->tv_nsec / 1000000);
		kv_str(&l, "type", r->type);
		kv_str(&l, "link", r->link);
		kv_str(&l, "client", r->client);
		kv_str(&l, "backend", r->backend);
		putf(&l, " bytes_in=%" PRIu64, r->bytes_in);
		putf(&l, " bytes_out=%" PRIu64, r->bytes_out);
		putf(&l, " ms=%" PRIu64, r->ms);
		if (r->status)
			putf(&l, " status=%d", r->status);
		if (r->method)
			kv_str(&l, "method", r->method);
		if (r->path)
			kv_str(&l, "path", r->path);
		kv_str(&l, "reason", r->reason);
		putc_(&l, '\n');
	}
	if (len > 0) /* NUL-terminated, truncated line still ends in \n */
	{
		if (l.pos < len) {
			buf[l.pos] = '\0';
		} else {
			buf[len - 1] = '\0';
			if (len > 1)
				buf[len - 2] = '\n';
		}
	}
	return l.pos;
}

/* The writer: pv-xconnect is single-threaded, so plain globals. */
static struct {
	int fd;
	bool own; /* opened by us (not stdout) */
	char *path;
	enum pvx_access_fmt fmt;
} alog = {.fd = -1};

static int open_path(const char *path, int *fd, bool *own)
{
	if (strcmp(path, "-") == 0) {
		*fd = STDOUT_FILENO;
		*own = false;
		return 0;
	}
	*fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		   0640);
	if (*fd < 0)
		return -errno;
	*own = true;
	return 0;
}

int pvx_access_open(const char *path, enum pvx_access_fmt fmt)
{
	char *copy = strdup(path);
	bool own = false;
	int fd = -1, r;

	if (!copy)
		return -ENOMEM;
	r = open_path(path, &fd, &own);
	if (r < 0) {
		free(copy);
		return r;
	}
	pvx_access_close();
	alog.fd = fd;
	alog.own = own;
	alog.path = copy;
	alog.fmt = fmt;
	return 0;
}

int pvx_access_reopen(void)
{
	bool own = false;
	int fd = -1, r;

	if (!alog.path || !alog.own)
		return 0;
	r = open_path(alog.path, &fd, &own);
	if (r < 0)
		return r; /* the old file stays in use */
	close(alog.fd);
	alog.fd = fd;
	return 0;
}

bool pvx_access_enabled(void)
{
	return alog.fd >= 0;
}

void pvx_access_log(const struct pvx_access_rec *r)
{
	struct timespec now;
	char buf[2048];
	size_t n;

	if (alog.fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	n = pvx_access_format(r, alog.fmt, &now, buf, sizeof(buf));
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	/* One write per line: lines never interleave with other writers
	 * of an O_APPEND file. A short or failed write loses the line. */
	if (write(alog.fd, buf, n) < 0)
		return;
}

void pvx_access_close(void)
{
	if (alog.own && alog.fd >= 0)
		close(alog.fd);
	alog.fd = -1;
	alog.own = false;
	free(alog.path);
	alog.path = NULL;
}
