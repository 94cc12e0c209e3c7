/* Prometheus text exposition format (version 0.0.4): metric families with
 * HELP and TYPE, then samples with escaped label values. Both daemons
 * write GET /metrics with it (docs/xconnect.md, docs/api.md). Pure: writes
 * into a caller's FILE (open_memstream). */
#ifndef PVX_PROM_H
#define PVX_PROM_H

#include <stdint.h>
#include <stdio.h>

#define PVX_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help\n# TYPE name type\n"; type is "counter" or "gauge".
 * Every sample of a family must follow its header before the next one. */
void pvx_prom_family(FILE *f, const char *name, const char *type,
		     const char *help);
/* "name{k1="v1",k2="v2"} value\n". labels: k, v pairs ending with NULL
 * (NULL itself for none); a NULL value is written as "". */
void pvx_prom_sample(FILE *f, const char *name, const char *const *labels,
		     uint64_t value);
/* A label value with \\, \" and \n escaped. */
void pvx_prom_escape(FILE *f, const char *v);

#endif
