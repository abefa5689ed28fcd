/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * pvtime guest/hypervisor ABI: the layout of the shared memory exposed as
 * BAR2 of an ivshmem-doorbell device, the doorbell vectors and the mailbox
 * protocol.  Documentation/abi.rst is the prose version of this file.
 *
 *   offset 0x0000  page 0: Xen struct shared_info (vcpu_info[].time, wc_*)
 *   offset 0x1000  page 1: struct pvtime_control (signature, ABI, clock
 *                  status, mailbox)
 *   rest           reserved, reads as zero
 *
 * All multi-byte fields are little-endian (x86 only).  The guest may write
 * only the mailbox request fields; everything else is written by the hyp.
 */
#ifndef PVTIME_ABI_H
#define PVTIME_ABI_H

#include "pvtime_xen.h"

#ifdef __KERNEL__
#include <linux/build_bug.h>
#else
#include <assert.h>
#endif

#define PVTIME_MAGIC			0x454d4954u	/* "TIME" read as LE u32 */
/*
 * The major version: changed only by an incompatible change; a guest
 * refuses a major it does not speak.  Additions are announced by a
 * control->features bit, never by the version: a field carved out of
 * reserved space means something only while its bit is set (reserved
 * space reads as zero from a hyp that does not know it), and a guest
 * ignores bits and fields it does not know (Documentation/abi.rst,
 * "Versioning").
 */
#define PVTIME_ABI_VERSION		1u

#define PVTIME_SHM_SIZE			0x4000u		/* power of two for the BAR */
#define PVTIME_SHARED_INFO_OFFSET	0x0000u
#define PVTIME_CONTROL_OFFSET		0x1000u

/* ivshmem identity of the device (QEMU's ivshmem-doorbell). */
#define PVTIME_PCI_VENDOR_ID		0x1af4
#define PVTIME_PCI_DEVICE_ID		0x1110

/* ivshmem BAR0 registers. */
#define PVTIME_IVSHMEM_REG_INTRMASK	0x00
#define PVTIME_IVSHMEM_REG_INTRSTATUS	0x04
#define PVTIME_IVSHMEM_REG_IVPOSITION	0x08
#define PVTIME_IVSHMEM_REG_DOORBELL	0x0c

/*
 * Doorbell vectors.  Guest->hyp: the guest writes
 * (control->host_peer_id << 16) | vector to the Doorbell register.
 * Hyp->guest: MSI-X vector of the same number.
 */
#define PVTIME_VEC_MAILBOX		0	/* guest->hyp: serve the mailbox */
#define PVTIME_VEC_WALLCLOCK		1	/* hyp->guest: wc_* changed, step */
#define PVTIME_VEC_RECORDS		2	/* hyp->guest: record flags or rate changed */
#define PVTIME_NR_VECTORS		3

/* control->features: what this hyp offers. */
#define PVTIME_F_WALLCLOCK_DOORBELL	0x01ull
#define PVTIME_F_REALTIME_PROBE		0x02ull
#define PVTIME_F_RECORDS_DOORBELL	0x04ull
#define PVTIME_F_TSC_STABLE_EVIDENCE	0x08ull	/* SET_OFFSET per vCPU */
/*
 * Continuous calibration: the guest TSC offset is not trusted once.  The
 * hyp wants a SET_OFFSET from every online vCPU every calibration_ms
 * (marked PVTIME_SAMPLE_F_PERIODIC), re-anchors the records when the
 * offset moved (forward steps, or slews: never backwards), and keeps
 * TSC_STABLE only while every vCPU's evidence is fresh and agrees.
 */
#define PVTIME_F_CALIBRATION		0x10ull
/*
 * The hyp publishes the host clock's status (leap second, TAI offset,
 * error bounds, synchronised or not) in control->clock_status, refreshed
 * every second.  Without this bit the block is not written (an older hyp
 * leaves it zero): the guest has no clock status.
 */
#define PVTIME_F_CLOCK_STATUS		0x20ull
/*
 * This domain is the time source (its config says time_source = 1): the
 * hyp accepts PVTIME_REQ_SET_WALLCLOCK from it and sets the wall clock of
 * every domain from it (Xen's XENPF_settime64 from dom0).  Offered in the
 * time-source domain's control page only.
 */
#define PVTIME_F_TIME_SOURCE		0x40ull
/*
 * The records run at the host's CLOCK_MONOTONIC rate, which carries the
 * host's NTP frequency and offset slews, not at the TSC's raw rate: the
 * guest's CLOCK_REALTIME follows the host's without steps, and wc moves
 * only when the host's wall clock (or the domain's) is stepped.
 */
#define PVTIME_F_HOST_NTP		0x80ull
/*
 * control->records_jumped_ns is kept: the total of every forward jump of
 * the records' time function so far (steps after a stop, drift skips,
 * injected jumps), published before the records that carry the jump.  A
 * guest whose kernel read the raw TSC meanwhile lost at most the growth
 * of this total, so that is all it may catch up by.
 */
#define PVTIME_F_RECORDS_JUMPED		0x100ull

/* control->status bits, written by the hyp. */
#define PVTIME_STATUS_RECORDS_VALID	0x1u	/* offset learned, records live */

/* mailbox->request values. */
#define PVTIME_REQ_NONE			0u
#define PVTIME_REQ_TSC_PROBE		1u	/* hyp answers host_tsc */
#define PVTIME_REQ_REALTIME_PROBE	2u	/* hyp answers host_tsc and wall_ns */
/*
 * SET_OFFSET: the guest submits its best TSC probe, run on vCPU 'vcpu'.
 * The first accepted one sets the domain's guest TSC offset and brings the
 * records up.  With PVTIME_F_TSC_STABLE_EVIDENCE the guest then submits one
 * per other online vCPU: the hyp checks each against the adopted offset
 * (status 0: agrees within the probe's uncertainty, -ERANGE: it does not).
 * Once every vCPU 0..nr_vcpus-1 has agreed, and the domain's tsc_stable
 * policy allows it, the hyp sets PVTIME_FLAG_TSC_STABLE in all records and
 * rings PVTIME_VEC_RECORDS.
 */
#define PVTIME_REQ_SET_OFFSET		3u
/*
 * mailbox->sample_flags of a SET_OFFSET (guest).  PERIODIC: this guest
 * calibrates every calibration_ms, so stale evidence means trouble.
 * KERNEL_PATH: the guest does not run on its raw-TSC fast path now, so a
 * step of the records reaches its clock (with the fast path engaged the
 * hyp first clears TSC_STABLE and waits for a sample without it).
 */
#define PVTIME_SAMPLE_F_PERIODIC	0x1u
#define PVTIME_SAMPLE_F_KERNEL_PATH	0x2u
#define PVTIME_REQ_END			4u	/* hyp stops serving until next doorbell */
/*
 * SET_WALLCLOCK (PVTIME_F_TIME_SOURCE only): the guest's CLOCK_REALTIME
 * was reserved[PVTIME_MB_SET_WALL_NS] ns since the epoch at its TSC
 * reserved[PVTIME_MB_SET_GUEST_TSC].  The hyp converts the TSC to host
 * time and moves the wall clock of every domain so that this domain's
 * reads that wall time then; it republishes wc_* and rings every
 * domain's PVTIME_VEC_WALLCLOCK.  status: 0; -EPERM from any domain that
 * is not the time source (nothing changes, the hyp counts and logs it);
 * -EINVAL for a wall time before 1970; -ERANGE for one past the hyp's
 * limit (2261-01-01) or a TSC that is not from the last second of this
 * session; -EAGAIN before the hyp knows the guest's TSC offset.
 */
#define PVTIME_REQ_SET_WALLCLOCK	5u
/* Indices into struct pvtime_mailbox.reserved[] for SET_WALLCLOCK. */
#define PVTIME_MB_SET_WALL_NS		0	/* guest: __s64 wall time, ns */
#define PVTIME_MB_SET_GUEST_TSC		1	/* guest: __u64 TSC it was read at */

/*
 * One request at a time.  The guest fills the request fields, then bumps
 * request_seq (release).  The hyp answers, then sets response_seq =
 * request_seq (release).  A request the hyp rejects gets status = -errno.
 */
struct pvtime_mailbox {
	__u32 request_seq;		/* guest */
	__u32 response_seq;		/* hyp */
	__u32 request;			/* guest: PVTIME_REQ_* */
	__s32 status;			/* hyp: 0 or -errno */
	__u32 vcpu;			/* guest: vCPU the probe ran on */
	__u32 sample_flags;		/* guest: PVTIME_SAMPLE_F_* (SET_OFFSET) */
	__u64 guest_tsc_before;		/* guest: rdtsc before posting */
	__u64 guest_tsc_after;		/* guest: rdtsc after the answer */
	__u64 host_tsc;			/* hyp (guest echoes it in SET_OFFSET) */
	__s64 wall_ns;			/* hyp: the domain's wall time, ns since epoch */
	__s64 host_monotonic_raw_ns;	/* hyp: host CLOCK_MONOTONIC_RAW */
	/*
	 * hyp, REALTIME_PROBE with PVTIME_F_CALIBRATION: how far the records
	 * are meant to be from wall_ns right now (a slew under way), so the
	 * guest can tell a correction in progress from records gone wrong.
	 */
	__s64 records_lead_ns;
	__u64 reserved[7];
};

/* pvtime_clock_status.sync: 0 means "not written yet", never data. */
#define PVTIME_SYNC_SYNCHRONISED	1u	/* host NTP: clock synchronised */
#define PVTIME_SYNC_UNSYNCHRONISED	2u	/* STA_UNSYNC or TIME_ERROR */

/* pvtime_clock_status.leap */
#define PVTIME_LEAP_NONE		0u
#define PVTIME_LEAP_INSERT		1u	/* 23:59:60 before leap_time_s */
#define PVTIME_LEAP_DELETE		2u	/* 23:59:59 skipped before leap_time_s */
#define PVTIME_LEAP_INSERTING		3u	/* the inserted second runs now */

/*
 * The host's maxerror grows by 500 us every second until NTP sets it
 * again, as Linux's second_overflow() does (MAXFREQ), capped at 16 s
 * (NTP_PHASE_LIMIT).  A reader adds the growth over the block's age.
 */
#define PVTIME_MAXERROR_GROWTH_US_PER_S	500u
#define PVTIME_MAXERROR_MAX_US		16000000ull

/*
 * The host clock's status, as the host's adjtimex(2) reports it
 * (PVTIME_F_CLOCK_STATUS).  Guarded by seq like a time record: the hyp
 * makes seq odd, writes, makes it even; a reader retries while seq is odd
 * or changed under it, and gives up after a bounded number of tries.
 */
struct pvtime_clock_status {
	__u32 seq;			/* odd while the hyp writes */
	__u8 sync;			/* PVTIME_SYNC_*; 0: not written yet */
	__u8 leap;			/* PVTIME_LEAP_* */
	__u16 reserved0;
	__s32 tai_offset_s;		/* TAI - UTC, seconds */
	__u32 host_status;		/* the host's adjtimex status (STA_*) */
	/* UTC midnight (s since the epoch) the leap applies at; 0: none */
	__u64 leap_time_s;
	__u64 maxerror_us;		/* at sampled_system_ns */
	__u64 esterror_us;
	__u64 sampled_system_ns;	/* the domain's system time of the sample */
	__s32 host_state;		/* adjtimex result: TIME_OK..TIME_ERROR */
	__u32 changes;			/* bumped when sync, leap or TAI change */
	__u64 reserved1;
};

struct pvtime_control {
	__u32 magic;			/* PVTIME_MAGIC */
	__u32 abi_version;		/* PVTIME_ABI_VERSION */
	__u32 domid;
	__u32 nr_vcpus;			/* records valid for vcpu 0..nr_vcpus-1 */
	__u64 features;			/* PVTIME_F_* */
	__u64 tsc_hz;			/* host TSC frequency the records encode */
	__u32 host_peer_id;		/* ivshmem peer id of pvtimed */
	__u32 status;			/* PVTIME_STATUS_* */
	__s64 guest_tsc_offset;		/* guest TSC - host TSC, as adopted */
	__u32 records_generation;	/* bumped whenever the hyp re-anchors */
	__u32 calibration_ms;		/* PVTIME_F_CALIBRATION: sample period */
	__u64 records_jumped_ns;	/* PVTIME_F_RECORDS_JUMPED: at 0x38 */
	struct pvtime_clock_status clock_status;	/* at 0x40 */
	__u8 reserved1[0x100 - 0x80];
	struct pvtime_mailbox mailbox;	/* at 0x100 */
};

static_assert(offsetof(struct pvtime_control, guest_tsc_offset) == 0x28,
	      "control layout");
static_assert(offsetof(struct pvtime_control, calibration_ms) == 0x34,
	      "control layout");
static_assert(offsetof(struct pvtime_control, records_jumped_ns) == 0x38,
	      "control layout");
static_assert(offsetof(struct pvtime_control, clock_status) == 0x40,
	      "clock status at control+0x40");
static_assert(sizeof(struct pvtime_clock_status) == 0x40,
	      "clock status fills 0x40..0x80");
static_assert(offsetof(struct pvtime_clock_status, leap_time_s) == 0x10,
	      "clock status layout");
static_assert(offsetof(struct pvtime_clock_status, sampled_system_ns) == 0x28,
	      "clock status layout");
static_assert(offsetof(struct pvtime_control, mailbox) == 0x100,
	      "mailbox at control+0x100");
static_assert(sizeof(struct pvtime_mailbox) == 0x80, "mailbox size");
static_assert(offsetof(struct pvtime_mailbox, reserved) == 0x48 &&
	      PVTIME_MB_SET_WALL_NS < 2 && PVTIME_MB_SET_GUEST_TSC < 2,
	      "SET_WALLCLOCK inputs are mailbox+0x48..0x58 (reserved[0..1])");
static_assert(sizeof(struct pvtime_control) <= 0x1000, "control fits a page");
static_assert(PVTIME_CONTROL_OFFSET + 0x1000 <= PVTIME_SHM_SIZE, "shm size");

#endif /* PVTIME_ABI_H */
