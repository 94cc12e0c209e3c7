/* Reading whole input files safely: only regular files (a FIFO or a device
 * at the path must neither block nor feed us forever), with a size cap. */
#ifndef PVX_FILE_H
#define PVX_FILE_H

#include <stddef.h>

/* Reads path into a new NUL-terminated buffer (*buf, *len without the
 * NUL). Returns 0 or -errno: -ENOENT and other open errors, -EINVAL when
 * the path is not a regular file, -EFBIG when it holds more than max
 * bytes. */
int pvx_file_read(const char *path, size_t max, char **buf, size_t *len);
/* A reason for pvx_file_read's error ("not a regular file", …). */
const char *pvx_file_strerror(int r);

#endif
