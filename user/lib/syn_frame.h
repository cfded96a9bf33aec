/* SPDX-License-Identifier: MIT */
/* The Ethernet frame of a client's SYN rebuilt from the packet datapath's
 * copy of it (struct vigil_syn_copy), addressed to the service it was sent
 * to: what vigild replays through the XDP program when the backend the SYN
 * went to has been ejected (pure, no syscalls). */
#ifndef VIGIL_SYN_FRAME_H
#define VIGIL_SYN_FRAME_H

#include <stddef.h>
#include <vigil/abi.h>

/* Ethernet + IPv6 + TCP with 40 bytes of options. */
#define VIGIL_SYN_FRAME_MAX (14 + 40 + 20 + VIGIL_SYN_OPTS_MAX)

/* The frame from syn's client to vip, from src_mac to dst_mac (the
 * interface the SYN came in on), IP and TCP checksums filled in, into
 * frame (VIGIL_SYN_FRAME_MAX bytes). Returns its length, or 0 when the
 * copy cannot make a SYN to vip: a family other than vip's, options not a
 * multiple of 4 or too long. */
size_t vigil_syn_frame(const struct vigil_syn_copy *syn, const struct vigil_endpoint *vip,
		       const unsigned char dst_mac[6], const unsigned char src_mac[6],
		       unsigned char *frame);

#endif
