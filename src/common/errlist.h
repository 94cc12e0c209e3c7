/* A list of human-readable error messages collected by parsers and
 * validators ("file: json.path: reason"), so that every problem of an input
 * is reported at once. Library code writes here and never logs. */
#ifndef PVX_ERRLIST_H
#define PVX_ERRLIST_H

#include <stdarg.h>
#include <stddef.h>
#include <jansson.h>

struct pvx_errlist {
	char **msgs;
	size_t n;
	size_t cap;
};

/* Appends one formatted message; on allocation failure the message is
 * dropped but the list remains non-empty-safe (oom flag counts as error). */
void pvx_errlist_add(struct pvx_errlist *el, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends "<file>: <path>: <reason>" ("<file>: <reason>" when path is NULL
 * or ""), the form of every parser and validator message. Returns 0, or
 * -ENOMEM when the message could not be made. */
int pvx_errlist_vadd_at(struct pvx_errlist *el, const char *file,
			const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Appends "<prefix>: <msg>" for every message of src. */
void pvx_errlist_merge(struct pvx_errlist *dst, const struct pvx_errlist *src,
		       const char *prefix);
void pvx_errlist_clear(struct pvx_errlist *el);
static inline int pvx_errlist_empty(const struct pvx_errlist *el)
{
	return el->n == 0;
}
/* Finds a message containing needle (for tests); NULL if none. */
const char *pvx_errlist_find(const struct pvx_errlist *el, const char *needle);
/* ["msg", …] as a new JSON array. */
json_t *pvx_errlist_to_json(const struct pvx_errlist *el);
/* All messages joined with "\n" into a new string (caller frees). */
char *pvx_errlist_join(const struct pvx_errlist *el);

#endif
