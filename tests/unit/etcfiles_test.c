/* A pool container's /etc/hosts and /etc/resolv.conf texts
 * (src/ctrl/etcfiles.c): its own name at its lease, localhost; the
 * device's reachable resolvers only with NAT, never loopback ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctrl/etcfiles.h"

#define HEAD "# written by pv-ctrld for this container\n"

static void test_hosts(void **unused)
{
	struct in_addr a;
	char *s;

	(void)unused;
	inet_pton(AF_INET, "10.0.4.7", &a);
	s = pvc_etc_hosts("web", &a);
	assert_string_equal(s, HEAD "127.0.0.1\tlocalhost\n"
				    "::1\tlocalhost ip6-localhost "
				    "ip6-loopback\n"
				    "10.0.4.7\tweb\n");
	free(s);
	/* No lease (pool exhausted): still resolvable, locally. */
	s = pvc_etc_hosts("web", NULL);
	assert_non_null(strstr(s, "\n127.0.1.1\tweb\n"));
	free(s);
}

static const struct {
	const char *device;
	bool nat;
	const char *want;
} resolv_cases[] = {
    {"nameserver 10.255.255.53\n", true, HEAD "nameserver 10.255.255.53\n"},
    {"# comment\nsearch lan\nnameserver 127.0.0.53\noptions edns0 "
     "trust-ad\n  nameserver\t192.168.1.1  \nnameserver ::1\n"
     "nameserver fd00::53\ndomain x\nsortlist 1.2.3.4\n",
     true,
     HEAD "search lan\noptions edns0 trust-ad\nnameserver 192.168.1.1\n"
	  "nameserver fd00::53\ndomain x\n"},
    {"nameserver 127.0.0.53\n", true,
     HEAD "# the device has no resolver reachable from a pool\n"},
    {NULL, true, HEAD "# the device has no resolver reachable from a pool\n"},
    {"nameserver notanaddress\nnameservers 1.1.1.1\n", true,
     HEAD "# the device has no resolver reachable from a pool\n"},
    {"nameserver 10.255.255.53\n", false,
     HEAD "# pool p has no NAT: no resolver\n"},
};

static void test_resolv(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(resolv_cases) / sizeof(resolv_cases[0]);
	     i++) {
		char *s = pvc_etc_resolv(resolv_cases[i].device,
					 resolv_cases[i].nat, "p");
		assert_non_null(s);
		if (strcmp(s, resolv_cases[i].want) != 0)
			fail_msg("case %zu\n got: %s\nwant: %s", i, s,
				 resolv_cases[i].want);
		free(s);
	}
}

static bool file_is(const char *path, const char *want)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

/* In a child with a private mount namespace and tmpfs over /etc and /run
 * (the machine's files are never touched): what pvc_etc_install does with
 * a plain /etc/hosts, a resolv.conf symlink into /run (systemd-resolved),
 * and one whose way through /run leads back out by a symlink. */
static int install_child(void)
{
	char step[80];

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, NULL) < 0 ||
	    mount("tmpfs", "/etc", "tmpfs", 0, NULL) < 0)
		return 10;
	if (!fopen("/etc/hosts", "w") ||
	    symlink("/run/systemd/resolve/stub-resolv.conf",
		    "/etc/resolv.conf") < 0)
		return 11;
	if (pvc_etc_install("H\n", "R\n", step, sizeof(step)) < 0)
		return 12;
	if (!file_is("/etc/hosts", "H\n") ||
	    !file_is("/etc/resolv.conf", "R\n") ||
	    !file_is("/run/systemd/resolve/stub-resolv.conf", "R\n"))
		return 13;
	/* Again in a fresh /run, where /run/systemd leads to /etc. */
	if (umount2("/etc/hosts", MNT_DETACH) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, NULL) < 0 ||
	    symlink("/etc", "/run/systemd") < 0)
		return 14;
	pvc_etc_install(NULL, "R\n", step, sizeof(step));
	if (access("/etc/resolve/stub-resolv.conf", F_OK) == 0)
		return 15; /* written through the symlink, outside /run */
	return 0;
}

static void test_install(void **unused)
{
	pid_t pid;
	int status;

	(void)unused;
	if (geteuid() != 0)
		skip(); /* needs a mount namespace: root, as ctest runs */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(install_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_resolv),
	    cmocka_unit_test(test_install),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
