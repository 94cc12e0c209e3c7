/* A small pool of pipes for splice(2): creating and sizing two pipes per
 * session costs four syscalls and four fds each time, so empty pipes are
 * kept for the next session, up to a cap. */
#ifndef PVX_PIPES_H
#define PVX_PIPES_H

#include <stdbool.h>
#include <stddef.h>

/* Gets an empty non-blocking pipe (fds[0] read end, fds[1] write end),
 * asking for a capacity of want bytes. Returns the capacity (> 0), or
 * -errno (EMFILE/ENFILE when out of fds). */
int pvx_pipe_get(int fds[2], size_t want);
/* Gives a pipe back with the capacity pvx_pipe_get returned. Only an empty
 * pipe is kept (pass empty = false when bytes may remain); the others, and
 * those over the cap, are closed. fds are set to -1. */
void pvx_pipe_put(int fds[2], int cap, bool empty);
/* Closes every pooled pipe (to free fds when the process runs out). */
void pvx_pipes_flush(void);
/* Pipes held by the pool now (for tests and status). */
size_t pvx_pipes_pooled(void);

#endif
