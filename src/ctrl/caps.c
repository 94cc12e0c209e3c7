/* Which capabilities the runtime needs, and whether we hold them (no
 * libcap: one capget(2)). */
#include "ctrl/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	int cap;
	const char *name;
	const char *why;
} needed[] = {
    {CAP_NET_ADMIN, "CAP_NET_ADMIN", "bridges, veths, addresses, routes"},
    {CAP_SYS_ADMIN, "CAP_SYS_ADMIN",
     "new namespaces for containers, setns into them"},
    {CAP_SYS_PTRACE, "CAP_SYS_PTRACE",
     "/proc/<pid>/ns of containers it did not start"},
    {CAP_KILL, "CAP_KILL", "stopping containers"},
};

int pvc_caps_missing(uint64_t eff, char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		int w;
		if (eff & (UINT64_C(1) << needed[i].cap))
			continue;
		w = snprintf(buf + off, off < len ? len - off : 0, "%s%s (%s)",
			     n ? ", " : "", needed[i].name, needed[i].why);
		if (w > 0)
			off += (size_t)w;
		if (off >= len)
			off = len; /* cut; still counted */
		n++;
	}
	return n;
}

int pvc_caps_effective(uint64_t *eff)
{
	struct __user_cap_header_struct hdr = {
	    .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {{0}};

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	*eff =
	    (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
	return 0;
}
