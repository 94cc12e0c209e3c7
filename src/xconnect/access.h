/* The access log of pv-xconnect: one line per closed connection (tcp,
 * unix) or per HTTP request, off by default (--access-log PATH|-), as
 * key=value or JSON lines (docs/xconnect.md). */
#ifndef PVX_ACCESS_H
#define PVX_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum pvx_access_fmt {
	PVX_ACCESS_KV,	 /* time=… link=… client=… (quoted when needed) */
	PVX_ACCESS_JSON, /* one JSON object per line */
};

/* One finished connection or request. Strings may be NULL (written "-"
 * in kv, left out in JSON). */
struct pvx_access_rec {
	const char *type;    /* "tcp", "unix", "http" */
	const char *link;    /* the ingress name where there is one */
	const char *client;  /* "ip:port", "unix" */
	const char *backend; /* as pvx_backend_format, NULL: none */
	uint64_t bytes_in;   /* client -> backend */
	uint64_t bytes_out;  /* backend -> client */
	uint64_t ms;	     /* duration */
	int status;	     /* http: the status sent; 0: none (streams) */
	const char *method;  /* http */
	const char *path;    /* http: as the client asked */
	const char *reason;  /* "done", "idle timeout", "no route", … */
};

/* Parses "kv" or "json". -EINVAL otherwise. */
int pvx_access_fmt_parse(const char *s, enum pvx_access_fmt *out);
/* Formats one line (with its '\n') into buf. Returns its length, or the
 * length it would have had (as snprintf) when buf is too small: the
 * caller then writes a truncated line. Pure. */
size_t pvx_access_format(const struct pvx_access_rec *r,
			 enum pvx_access_fmt fmt, const struct timespec *now,
			 char *buf, size_t len);

/* Opens the log: "-" is stdout, else a file opened for appending (created
 * 0640). Replaces an earlier one. Returns 0 or -errno. */
int pvx_access_open(const char *path, enum pvx_access_fmt fmt);
/* Reopens the same path (after a rotation, on SIGHUP). */
int pvx_access_reopen(void);
bool pvx_access_enabled(void);
/* Writes one line when enabled, with one write(2) (lines of an O_APPEND
 * file never interleave); a failed write loses the line. */
void pvx_access_log(const struct pvx_access_rec *r);
void pvx_access_close(void);

#endif
