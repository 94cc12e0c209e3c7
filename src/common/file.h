/* Reading whole input files safely: only regular files (a FIFO or a device
 * at the path must neither block nor feed us forever), with a size cap. */
#ifndef PVX_FILE_H
#define PVX_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Reads path into a new NUL-terminated buffer (*buf, *len without the
 * NUL). Returns 0 or -errno: -ENOENT and other open errors, -EINVAL when
 * the path is not a regular file, -EFBIG when it holds more than max
 * bytes. */
int pvx_file_read(const char *path, size_t max, char **buf, size_t *len);
/* A reason for pvx_file_read's error ("not a regular file", …). */
const char *pvx_file_strerror(int r);

/* Takes an exclusive flock() on path (created 0644 if missing) and writes
 * our pid into it. Returns the locked descriptor (close-on-exec; the lock
 * lives as long as it is open), or -EWOULDBLOCK when another process holds
 * the lock, with its pid in *holder (0 if it has not written it yet), or
 * another -errno. */
int pvx_file_lock(const char *path, pid_t *holder);

/* fsync of path's directory: makes a rename in it durable. 0 or -errno. */
int pvx_file_fsync_dir(const char *path);
/* Keeps a damaged file for a human: renames src to
 * NAME.damaged-<UTC time of now>[-N] (NAME: the file's usual path, which
 * may differ from src, e.g. for an older generation), never over an
 * existing file, and syncs the directory. The new name goes to *moved
 * (the caller frees it). 0 or -errno. */
int pvx_file_move_aside(const char *src, const char *name, time_t now,
			char **moved);

#endif
