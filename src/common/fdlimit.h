/* Descriptor limits of the daemons: the soft RLIMIT_NOFILE raised to the
 * hard one, and one descriptor kept in reserve so that a listener out of
 * descriptors (EMFILE) can still accept a pending client and close it,
 * instead of leaving it hanging (docs/runtime.md, docs/xconnect.md). */
#ifndef PVX_FDLIMIT_H
#define PVX_FDLIMIT_H

/* Raises the soft limit of open files to the hard limit and takes the
 * reserve descriptor. Returns the soft limit now in force, or -errno. */
long pvx_fdlimit_raise(void);

/* Accepts one pending connection on listening socket lfd with the reserve
 * descriptor and closes it at once (the client sees its connection end),
 * then takes the reserve again. Returns 0 if a connection was shed, -errno
 * otherwise (no reserve, nothing pending). */
int pvx_fdlimit_shed(int lfd);

/* Takes the reserve again if an earlier attempt failed. */
void pvx_fdlimit_rearm(void);

#endif
