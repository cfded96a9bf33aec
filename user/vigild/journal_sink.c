/* SPDX-License-Identifier: MIT */
#include "journal_sink.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "log.h"

/* Where sd_journal_sendv sends (the native protocol). */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static void journal_sink(enum vigil_log_level level, const struct vigil_log_fields *f,
			 const char *msg)
{
	struct vigil_journal_entry e;
	struct iovec iov[VIGIL_JOURNAL_MAX_FIELDS];

	vigil_journal_entry_make(&e, level, f, msg, "vigild");
	for (int i = 0; i < e.n; i++)
		iov[i] = (struct iovec){ .iov_base = e.field[i], .iov_len = strlen(e.field[i]) };
	/* Refused (too large, out of buffer space): the line is not lost. */
	if (sd_journal_sendv(iov, e.n) < 0)
		vigil_log_write_plain(level, msg);
}

bool vigild_log_setup(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) != 0 ||
	    !vigil_log_is_journal(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino))
		return false;
	/* The journal stamps every entry itself, also a plain line. */
	vigil_log_set_timestamps(false);
	/* sd_journal_sendv drops a line silently when the journal's socket is
	 * not there (ENOENT counts as success): then only the stream is. */
	if (access(JOURNAL_SOCKET, W_OK) != 0)
		return false;
	vigil_log_set_sink(journal_sink);
	return true;
}
