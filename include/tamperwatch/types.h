/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Fixed-width types for the contract shared by the BPF programs, the kernel
 * module and userspace.  Three-way guard: the kernel has <linux/types.h>, a
 * BPF program has already included vmlinux.h (which defines __u8..__u64),
 * userspace takes them from the uapi <linux/types.h>.  Nothing else from
 * libc or the kernel may be pulled in by the contract headers. */
#ifndef TAMPERWATCH_TYPES_H
#define TAMPERWATCH_TYPES_H

#if defined(__KERNEL__)
#include <linux/types.h>
#elif defined(__bpf__)
/* vmlinux.h is included by the program before this header */
#else
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define TW_STATIC_ASSERT(c, m) _Static_assert(c, m)

/* Byte order: the BPF target and every host we build for are little-endian
 * or tell us through __BYTE_ORDER__; no libc or bpf_endian.h needed. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define tw_ntohs(x) ((__u16)(x))
#define tw_ntohl(x) ((__u32)(x))
#else
#define tw_ntohs(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define tw_ntohl(x) ((__u32)__builtin_bswap32((__u32)(x)))
#endif
#define tw_htons(x) tw_ntohs(x)
#define tw_htonl(x) tw_ntohl(x)

#endif
