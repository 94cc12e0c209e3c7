/* Paths and names the three programs share: the status socket default of
 * pv-xconnect and pvcontrol, and the version (from CMake's project()). */
#ifndef PVX_DEFAULTS_H
#define PVX_DEFAULTS_H

/* pv-xconnect's status socket unless --status or $PVX_STATUS say
 * otherwise (docs/xconnect.md). */
#define PVX_DEFAULT_STATUS "/run/pvx/xc.sock"

#ifndef PVX_VERSION
#define PVX_VERSION "unknown"
#endif

#endif
