/* Per-container output log of pv-ctrld: what a process container writes
 * on stdout/stderr, appended to <dir>/<name>.log, rotated to <name>.log.1
 * when the file would pass its size cap (so at most twice the cap on
 * disk). Bytes are addressed by a running offset (the total written, as
 * if never rotated), so that a reader can ask "what came after N" across
 * rotations (docs/runtime.md). No logging, no event loop. */
#ifndef PVC_CTLOG_H
#define PVC_CTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVC_CTLOG_MIN (4 * 1024)	/* smallest cap accepted */
#define PVC_CTLOG_DEFAULT (1024 * 1024) /* per file */

struct pvc_ctlog {
	char *path;	/* <dir>/<name>.log */
	int fd;		/* open for appending; -1 when closed */
	size_t max;	/* cap of one file */
	uint64_t size;	/* of <name>.log */
	uint64_t total; /* end offset: bytes of both files + rotated out */
};

/* Opens (creating dir 0700 and the file 0600) and takes up the files an
 * earlier run left: total starts at their sizes. name must be a safe name
 * (no '/'). Returns 0 or -errno. */
int pvc_ctlog_open(struct pvc_ctlog *l, const char *dir, const char *name,
		   size_t max);
/* Appends n bytes, rotating first when they would pass the cap (a chunk
 * bigger than the cap keeps only its last max bytes). 0 or -errno (what
 * could not be written is lost and takes no offset). */
int pvc_ctlog_write(struct pvc_ctlog *l, const char *buf, size_t n);
/* The bytes from offset on (from the oldest still kept when offset is
 * older; nothing when it is at or past the end) in a new buffer; *end is
 * the end offset to ask from next time. 0 or -errno. */
int pvc_ctlog_read(const struct pvc_ctlog *l, uint64_t offset, char **buf,
		   size_t *len, uint64_t *end);
void pvc_ctlog_close(struct pvc_ctlog *l);

#endif
