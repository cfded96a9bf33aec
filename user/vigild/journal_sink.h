/* SPDX-License-Identifier: MIT */
/* Where vigild's log lines go: into the journal with their priority and
 * fields when stderr is the journal's stream, as plain lines otherwise. */
#ifndef VIGIL_JOURNAL_SINK_H
#define VIGIL_JOURNAL_SINK_H

#include <stdbool.h>

/* When JOURNAL_STREAM names stderr's device and inode (systemd.exec(5):
 * the variable alone is inherited by children whose stderr went elsewhere),
 * send every line with sd_journal_sendv: MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER=vigild and the line's VIGIL_SERVICE, VIGIL_BACKEND,
 * VIGIL_RULE and VIGIL_STATE (log.h), so `journalctl -u vigild
 * VIGIL_BACKEND=10.0.0.2:8080` finds them; a line the journal refuses is
 * written plain to stderr instead, and without the journal's native socket
 * every line is (the stream stamps them: no timestamps). Otherwise lines
 * stay plain, with timestamps. Call before starting threads. Returns true
 * for the journal's native protocol. */
bool vigild_log_setup(void);

#endif
