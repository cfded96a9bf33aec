/* SPDX-License-Identifier: MIT */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static int trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static const char *who(void)
{
	return geteuid() == 0 ? "root" : "root or vigild's user";
}

/* A directory others cannot use to swap the file: owned by root (or vigild's
 * user), not writable by others unless sticky. */
static int check_dir(const char *path, const char *file, char *err, size_t errlen)
{
	char buf[PATH_MAX], *dir;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", file);
	dir = dirname(buf);
	if (stat(dir, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: its directory %s: %s", path, dir, strerror(e));
		return -e;
	}
	if (!trusted_owner(st.st_uid) || ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))) {
		snprintf(err, errlen, "%s: refused: its directory %s is %s, so others can replace "
			 "the file: keep the config in a directory owned by root and not "
			 "world-writable (e.g. /etc/vigil)", path, dir,
			 !trusted_owner(st.st_uid) ? "not owned by root" : "world-writable");
		return -EPERM;
	}
	return 0;
}

/* The config is read again on every SIGHUP: whoever can write it, or replace
 * it in its directory, decides what vigild (root) loads into the kernel. The
 * directory checks (of the path given and, through symlinks, of the file)
 * are what make checking before reading enough: nobody but root (or
 * vigild's user) can swap the file in between. A file that cannot be found
 * is left to the loader, whose message names it. */
int vigil_config_file_check(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;
	int ret;

	if (!realpath(path, real) || stat(real, &st) < 0)
		return 0;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (!trusted_owner(st.st_uid)) {
		snprintf(err, errlen, "%s: refused: owned by uid %u, not %s; anyone who can "
			 "write it controls vigild: chown root %s", path, (unsigned)st.st_uid,
			 who(), real);
		return -EPERM;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen, "%s: refused: world-writable (mode %04o); anyone can change "
			 "what vigild loads: chmod o-w %s", path, (unsigned)(st.st_mode & 07777),
			 real);
		return -EPERM;
	}
	ret = check_dir(path, path, err, errlen);
	return ret ? ret : check_dir(path, real, err, errlen);
}

static int create_excl(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

int vigil_ready_file_write(const char *path)
{
	struct stat st;
	char buf[32];
	int fd, e, len;

	errno = 0;
	fd = create_excl(path);

	/* O_EXCL never follows a symlink: an existing one fails with EEXIST.
	 * A regular file left by an earlier run is removed (unlink does not
	 * follow symlinks either) and created anew. */
	if (fd < 0 && errno == EEXIST && lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			pr_err("refusing ready file %s: it is a symlink; vigild (root) does not write "
			       "through one: remove it or choose another path", path);
			return -ELOOP;
		}
		if (S_ISREG(st.st_mode) && unlink(path) == 0)
			fd = create_excl(path);
		else
			errno = EEXIST;
	}
	if (fd < 0) {
		e = errno; /* pr_err may change errno */
		pr_err("cannot create ready file %s: %s: check that its directory exists and "
		       "is writable%s", path, strerror(e), e == EEXIST ? ", and remove what is there" : "");
		return -e;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", getpid());
	if (write(fd, buf, (size_t)len) != len) {
		e = errno ? errno : EIO;
		pr_err("cannot write ready file %s: %s", path, strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	close(fd);
	return 0;
}
