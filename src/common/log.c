/* Logging to stderr with a timestamp, the program name and a level. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_prog = "pvx";
static enum pvx_log_level log_max = PVX_LOG_INFO;

void pvx_log_init(const char *prog, enum pvx_log_level max)
{
	log_prog = prog;
	log_max = max;
}

void pvx_log_set_level(enum pvx_log_level max)
{
	log_max = max;
}

int pvx_log_enabled(enum pvx_log_level lvl)
{
	return lvl <= log_max;
}

void pvx_log(enum pvx_log_level lvl, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	struct timespec ts;
	struct tm tm;
	char tbuf[32];
	char line[2048];
	va_list ap;

	if (!pvx_log_enabled(lvl))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so that lines of concurrent writers to the
	 * same stderr do not interleave. */
	fprintf(stderr, "%s.%03ld %s %s %s\n", tbuf, ts.tv_nsec / 1000000,
		log_prog, names[lvl], line);
}
