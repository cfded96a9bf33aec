/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* struct vigil_endpoint (abi.h) helpers shared by the BPF objects. */
#ifndef VIGIL_BPF_ENDPOINT_H
#define VIGIL_BPF_ENDPOINT_H

static __always_inline bool same_endpoint(const struct vigil_endpoint *a,
					  const struct vigil_endpoint *b)
{
	const __u16 *x = (const __u16 *)a, *y = (const __u16 *)b;

	for (int i = 0; i < (int)(sizeof(*a) / 2); i++)
		if (x[i] != y[i])
			return false;
	return true;
}

#endif
