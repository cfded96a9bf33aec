/* SPDX-License-Identifier: MIT */
/* vigil's version, shared by vigild and vigilctl (both print it; vigild's
 * /metrics as vigil_build_info). */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#define VIGIL_VERSION "0.1.0"

#endif
