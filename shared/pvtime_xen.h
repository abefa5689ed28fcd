/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Xen's own shared_info layout, seen the same way from the kernel module and
 * from userspace.  Nothing here retypes Xen's structures: the kernel side
 * takes <xen/interface/xen.h>, userspace takes Debian libxen-dev's
 * <xen/xen.h>.  The two spell a few fields differently (the kernel folds
 * wc_version/wc_sec/wc_nsec into a packed struct pvclock_wall_clock), so
 * callers go through the accessors below.
 */
#ifndef PVTIME_XEN_H
#define PVTIME_XEN_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/build_bug.h>
#include <asm/pvclock-abi.h>
#include <xen/interface/xen.h>

typedef struct pvclock_vcpu_time_info pvtime_time_info_t;
#define PVTIME_XEN_MAX_VCPUS		MAX_VIRT_CPUS
#define PVTIME_WC_VERSION_FIELD		wc.version
#define PVTIME_WC_SEC_FIELD		wc.sec
#define PVTIME_WC_NSEC_FIELD		wc.nsec
#define PVTIME_FLAG_TSC_STABLE		PVCLOCK_TSC_STABLE_BIT
#define PVTIME_FLAG_GUEST_STOPPED	PVCLOCK_GUEST_STOPPED
#else
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00 /* Xen 4.14+: has vcpu_time_info.flags */
#endif
#include <xen/xen.h>

typedef struct vcpu_time_info pvtime_time_info_t;
#define PVTIME_XEN_MAX_VCPUS		XEN_LEGACY_MAX_VCPUS
#define PVTIME_WC_VERSION_FIELD		wc_version
#define PVTIME_WC_SEC_FIELD		wc_sec
#define PVTIME_WC_NSEC_FIELD		wc_nsec
#define PVTIME_FLAG_TSC_STABLE		XEN_PVCLOCK_TSC_STABLE_BIT
#define PVTIME_FLAG_GUEST_STOPPED	XEN_PVCLOCK_GUEST_STOPPED
#endif

/* Pointers into a struct shared_info, whichever header defined it. */
#define pvtime_vcpu_time(si, cpu)	(&(si)->vcpu_info[(cpu)].time)
#define pvtime_wc_version(si)		(&(si)->PVTIME_WC_VERSION_FIELD)
#define pvtime_wc_sec(si)		(&(si)->PVTIME_WC_SEC_FIELD)
#define pvtime_wc_nsec(si)		(&(si)->PVTIME_WC_NSEC_FIELD)
#define pvtime_wc_sec_hi(si)		(&(si)->wc_sec_hi)

/*
 * The offsets a Xen guest relies on (x86_64 layout).  If either header
 * ever disagrees with Xen's ABI, the build stops here.
 */
static_assert(sizeof(pvtime_time_info_t) == 32, "vcpu_time_info is 32 bytes");
static_assert(sizeof(struct vcpu_info) == 64, "vcpu_info is 64 bytes");
static_assert(PVTIME_XEN_MAX_VCPUS == 32, "x86 shared_info has 32 vcpu_info slots");
static_assert(offsetof(struct shared_info, vcpu_info[0].time) == 0x20,
	      "vcpu_info[0].time at 0x20");
static_assert(offsetof(struct shared_info, vcpu_info[1].time) == 0x60,
	      "vcpu_info[1].time at 0x60");
static_assert(offsetof(struct shared_info, PVTIME_WC_VERSION_FIELD) == 0xc00,
	      "wc_version at 0xc00");
static_assert(offsetof(struct shared_info, PVTIME_WC_SEC_FIELD) == 0xc04,
	      "wc_sec at 0xc04");
static_assert(offsetof(struct shared_info, PVTIME_WC_NSEC_FIELD) == 0xc08,
	      "wc_nsec at 0xc08");
static_assert(offsetof(struct shared_info, wc_sec_hi) == 0xc0c,
	      "wc_sec_hi at 0xc0c");
static_assert(sizeof(struct shared_info) <= 4096, "shared_info fits page 0");

#endif /* PVTIME_XEN_H */
