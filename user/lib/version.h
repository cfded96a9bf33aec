/* SPDX-License-Identifier: MIT */
/* vigil's version, shared by vigild and vigilctl (both print it). */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#define VIGIL_VERSION "0.1.0"

#endif
