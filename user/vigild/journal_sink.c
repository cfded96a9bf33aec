/* SPDX-License-Identifier: MIT */
#include "journal_sink.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

static void journal_sink(enum vigil_log_level level, const struct vigil_log_fields *f,
			 const char *msg)
{
	struct vigil_journal_entry e;
	struct iovec iov[VIGIL_JOURNAL_MAX_FIELDS];

	vigil_journal_entry_make(&e, level, f, msg, "vigild");
	for (int i = 0; i < e.n; i++)
		iov[i] = (struct iovec){ .iov_base = e.field[i], .iov_len = strlen(e.field[i]) };
	/* journald gone (or its socket not reachable): the line is not lost. */
	if (sd_journal_sendv(iov, e.n) < 0)
		vigil_log_write_plain(level, msg);
}

bool vigild_log_setup(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) != 0 ||
	    !vigil_log_is_journal(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino))
		return false;
	/* The journal stamps every entry itself, also a plain fallback line. */
	vigil_log_set_timestamps(false);
	vigil_log_set_sink(journal_sink);
	return true;
}
