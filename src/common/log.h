/* One logging function for the daemons: levels and key=value fields.
 * Only main() and the daemon loops log; library code returns errors. */
#ifndef PVX_LOG_H
#define PVX_LOG_H

enum pvx_log_level {
	PVX_LOG_ERR,   /* something failed and was not done */
	PVX_LOG_WARN,  /* something odd, handled */
	PVX_LOG_INFO,  /* a change of state worth one line */
	PVX_LOG_DEBUG, /* per-connection detail, with -v */
};

void pvx_log_init(const char *prog, enum pvx_log_level max);
void pvx_log_set_level(enum pvx_log_level max);
int pvx_log_enabled(enum pvx_log_level lvl);
/* Writes "<time> <prog> <level> <message>\n" to stderr, e.g.
 * pvx_log(PVX_LOG_INFO, "link added name=%s target=%s", n, t). */
void pvx_log(enum pvx_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define pvx_err(...) pvx_log(PVX_LOG_ERR, __VA_ARGS__)
#define pvx_warn(...) pvx_log(PVX_LOG_WARN, __VA_ARGS__)
#define pvx_info(...) pvx_log(PVX_LOG_INFO, __VA_ARGS__)
#define pvx_debug(...)                                                         \
	do {                                                                   \
		if (pvx_log_enabled(PVX_LOG_DEBUG))                            \
			pvx_log(PVX_LOG_DEBUG, __VA_ARGS__);                   \
	} while (0)

#endif
