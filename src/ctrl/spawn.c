/* Starting process containers. The child is created with clone() directly
 * in its new namespaces (so /proc/<pid>/ns/net is the container's from the
 * first instant, with no window where it is still the device's), and it
 * waits on a pipe while the parent wires the network. Failures of the
 * child's own steps come back through a close-on-exec pipe: EOF there means
 * the exec happened. */
#include "ctrl/spawn.h"
#include "ctrl/etcfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define STACK_SIZE ((size_t)256 * 1024)

struct child_args {
	const struct pvc_spawn_conf *c;
	char **envp;
	int go_rd, go_wr, st_rd, st_wr;
};

/* What the child reports when a step fails. */
struct child_report {
	int err;       /* errno */
	char step[96]; /* "chdir /x" */
};

static void report(int fd, const char *step, const char *arg)
{
	struct child_report r;

	memset(&r, 0, sizeof(r));
	r.err = errno;
	snprintf(r.step, sizeof(r.step), "%s%s%s", step, arg ? " " : "",
		 arg ? arg : "");
	if (write(fd, &r, sizeof(r)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(127);
}

static int child_main(void *arg)
{
	struct child_args *a = arg;
	const struct pvc_spawn_conf *c = a->c;
	const char *wd = c->workdir ? c->workdir : "/";
	sigset_t all;
	pid_t main_pid;
	char go, step[80];
	int fd, r;

	close(a->go_wr);
	close(a->st_rd);
	/* A crashed pv-ctrld must not leave its containers running: their
	 * veths and bridges are cleaned on restart, and so are they. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* A parent that died before that: the read of "go" below sees EOF
	 * (getppid() says 0 in a new PID namespace, it cannot tell). */
	/* The daemon's handlers and mask (libevent's SIGCHLD, an ignored
	 * SIGPIPE) must not leak into the container. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	if (read(a->go_rd, &go, 1) != 1)
		_exit(127); /* the parent gave up */
	close(a->go_rd);

	setsid();
	if (sethostname(c->hostname, strlen(c->hostname)) < 0)
		report(a->st_wr, "sethostname", c->hostname);
	/* cwd first: a workdir under /tmp or /run stays reachable (as ".")
	 * after the private tmpfs covers its path. */
	if (chdir(wd) < 0)
		report(a->st_wr, "chdir", wd);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		report(a->st_wr, "mount private", "/");
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") <
	    0)
		report(a->st_wr, "mount tmpfs", "/tmp");
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") <
	    0)
		report(a->st_wr, "mount tmpfs", "/run");
	if ((r = pvc_etc_install(c->hosts, c->resolv, step, sizeof(step))) <
	    0) {
		errno = -r;
		report(a->st_wr, step, NULL);
	}
	/* The container's own view of its PID namespace. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		report(a->st_wr, "mount proc", "/proc");
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0 && fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	/* The container's output goes to its log (dup2 drops CLOEXEC). */
	if (c->out_fd >= 0 &&
	    (dup2(c->out_fd, 1) < 0 || dup2(c->out_fd, 2) < 0))
		report(a->st_wr, "dup2", "stdout");
	/* Only stdio (and the report pipe, closed by exec) go along; the
	 * init keeps nothing of pv-ctrld's either (its state-dir lock). */
	if (a->st_wr > 3)
		close_range(3, (unsigned)a->st_wr - 1, 0);
	close_range((unsigned)a->st_wr + 1, ~0u, 0);
	main_pid = fork();
	if (main_pid < 0)
		report(a->st_wr, "fork", NULL);
	if (main_pid == 0) {
		execvpe(c->argv[0], c->argv, a->envp);
		report(a->st_wr, "exec", c->argv[0]);
	}
	/* The init: the report pipe is the main process's now (EOF on its
	 * exec). pid 1 of a PID namespace gets no signal it has no handler
	 * for, but SIGKILL from pv-ctrld: it only waits, reaping orphans,
	 * until the main process ends, then ends with its status; the
	 * kernel then kills what is left in the namespace. */
	close(a->st_wr);
	/* The output (the container's log) is the main process's too: the
	 * init writes nothing there and holds no end of it. */
	fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	prctl(PR_SET_NAME, "pvx-init");
	for (;;) {
		int status;
		pid_t p = wait(&status);

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			_exit(127);
		if (p != main_pid)
			continue;
		if (WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
		_exit(WEXITSTATUS(status));
	}
	return 127;
}

static bool env_overridden(const char *kv, char *const *extra)
{
	size_t n = strcspn(kv, "=");

	if (strncmp(kv, "PVX_STATE_DIR=", 14) == 0)
		return true;
	for (; extra && *extra; extra++)
		if (strncmp(kv, *extra, n) == 0 && (*extra)[n] == '=')
			return true;
	return false;
}

/* environ, minus what is set again, + PVX_STATE_DIR + the container's env. */
static char **build_env(const struct pvc_spawn_conf *c, char **statedir)
{
	size_t n = 0, m = 0, k = 0;
	char **v;

	for (char **e = environ; e && *e; e++)
		n++;
	for (char *const *e = c->env; e && *e; e++)
		m++;
	v = calloc(n + m + 2, sizeof(*v));
	if (!v)
		return NULL;
	if (asprintf(statedir, "PVX_STATE_DIR=%s",
		     c->workdir ? c->workdir : "/") < 0) {
		free(v);
		return NULL;
	}
	for (char **e = environ; e && *e; e++)
		if (!env_overridden(*e, c->env))
			v[k++] = *e;
	v[k++] = *statedir;
	for (char *const *e = c->env; e && *e; e++)
		v[k++] = *e;
	return v;
}

int pvc_spawn_start(const struct pvc_spawn_conf *c, struct pvc_spawn *sp,
		    char *err, size_t errlen)
{
	struct child_args a = {.c = c};
	int go[2] = {-1, -1}, st[2] = {-1, -1}, flags, r;
	char *stack = NULL, *statedir = NULL;

	sp->pid = 0;
	sp->go_fd = sp->status_fd = -1;
	if (!c->argv || !c->argv[0]) {
		snprintf(err, errlen, "exec: empty command");
		return -EINVAL;
	}
	/* A socket for "go": send(MSG_NOSIGNAL) to a child that already died
	 * must fail with EPIPE, not raise SIGPIPE in the daemon. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	a.go_rd = go[0];
	a.go_wr = go[1];
	a.st_rd = st[0];
	a.st_wr = st[1];
	a.envp = build_env(c, &statedir);
	stack = malloc(STACK_SIZE);
	if (!a.envp || !stack) {
		r = -ENOMEM;
		snprintf(err, errlen, "spawn: %s", strerror(ENOMEM));
		goto fail;
	}
	flags =
	    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
	if (c->new_net)
		flags |= CLONE_NEWNET;
	sp->pid = clone(child_main, stack + STACK_SIZE, flags, &a);
	if (sp->pid < 0) {
		r = -errno;
		sp->pid = 0;
		snprintf(err, errlen, "clone: %s", strerror(-r));
		goto fail;
	}
	/* The child runs on its own copy of the stack and the env array. */
	free(stack);
	free(a.envp);
	free(statedir);
	close(go[0]);
	close(st[1]);
	sp->go_fd = go[1];
	sp->status_fd = st[0];
	return 0;
fail:
	free(stack);
	free(a.envp);
	free(statedir);
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (st[i] >= 0)
			close(st[i]);
	}
	return r;
}

/* The init's only child, as our namespace numbers it. The init forked it
 * before the report pipe saw EOF, so it is listed. Without
 * /proc/.../children (a kernel without CONFIG_PROC_CHILDREN): the init. */
static pid_t main_of(pid_t init)
{
	char path[64];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init,
		 (int)init);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v > 0 ? (pid_t)v : init;
}

int pvc_spawn_release(struct pvc_spawn *sp, char *err, size_t errlen)
{
	struct child_report rep;
	ssize_t n;
	int r = 0;

	if (send(sp->go_fd, "g", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		snprintf(err, errlen, "start: %s", strerror(errno));
	}
	close(sp->go_fd);
	sp->go_fd = -1;
	do
		n = read(sp->status_fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (r == 0 && n == (ssize_t)sizeof(rep)) {
		rep.step[sizeof(rep.step) - 1] = '\0';
		r = rep.err ? -rep.err : -EIO;
		snprintf(err, errlen, "%s: %s", rep.step, strerror(-r));
	}
	close(sp->status_fd);
	sp->status_fd = -1;
	sp->main_pid = r == 0 ? main_of(sp->pid) : 0;
	return r;
}

void pvc_spawn_abort(struct pvc_spawn *sp)
{
	if (sp->go_fd >= 0)
		close(sp->go_fd);
	if (sp->status_fd >= 0)
		close(sp->status_fd);
	sp->go_fd = sp->status_fd = -1;
}
