/* Error lists: collected messages of parsers and validators. */
#include "common/errlist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void push(struct pvx_errlist *el, char *msg)
{
	if (el->n == el->cap) {
		size_t cap = el->cap ? el->cap * 2 : 8;
		char **v = realloc(el->msgs, cap * sizeof(*v));
		if (!v) {
			free(msg);
			return;
		}
		el->msgs = v;
		el->cap = cap;
	}
	el->msgs[el->n++] = msg;
}

void pvx_errlist_add(struct pvx_errlist *el, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		push(el, msg);
}

int pvx_errlist_vadd_at(struct pvx_errlist *el, const char *file,
			const char *path, const char *fmt, va_list ap)
{
	char *msg = NULL;
	size_t n = el->n;

	if (vasprintf(&msg, fmt, ap) < 0)
		return -ENOMEM;
	if (path && *path)
		pvx_errlist_add(el, "%s: %s: %s", file, path, msg);
	else
		pvx_errlist_add(el, "%s: %s", file, msg);
	free(msg);
	return el->n > n ? 0 : -ENOMEM;
}

void pvx_errlist_merge(struct pvx_errlist *dst, const struct pvx_errlist *src,
		       const char *prefix)
{
	for (size_t i = 0; i < src->n; i++) {
		if (prefix)
			pvx_errlist_add(dst, "%s: %s", prefix, src->msgs[i]);
		else
			pvx_errlist_add(dst, "%s", src->msgs[i]);
	}
}

void pvx_errlist_clear(struct pvx_errlist *el)
{
	for (size_t i = 0; i < el->n; i++)
		free(el->msgs[i]);
	free(el->msgs);
	el->msgs = NULL;
	el->n = el->cap = 0;
}

const char *pvx_errlist_find(const struct pvx_errlist *el, const char *needle)
{
	for (size_t i = 0; i < el->n; i++)
		if (strstr(el->msgs[i], needle))
			return el->msgs[i];
	return NULL;
}

json_t *pvx_errlist_to_json(const struct pvx_errlist *el)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < el->n; i++)
		json_array_append_new(a, json_string(el->msgs[i]));
	return a;
}

char *pvx_errlist_join(const struct pvx_errlist *el)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < el->n; i++)
		len += strlen(el->msgs[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	*p = '\0';
	for (size_t i = 0; i < el->n; i++) {
		size_t l = strlen(el->msgs[i]);
		memcpy(p, el->msgs[i], l);
		p += l;
		if (i + 1 < el->n)
			*p++ = '\n';
		*p = '\0';
	}
	return s;
}
