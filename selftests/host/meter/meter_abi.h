/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The time meter's shared page: a test-only reference clock that reaches
 * a guest as a second ivshmem device, independent of pvtimed.
 *
 * The guest writes a request sequence number; the host program
 * pvtime-meter answers with its CLOCK_REALTIME and CLOCK_MONOTONIC_RAW
 * for that number, inside a seqlock (answer_version odd while it writes).
 * Request and answer live on separate cache lines so the two sides do not
 * bounce one line between writer and poller.
 *
 * The BAR is METER_DEFAULT_SIZE bytes, smaller than PVTIME_SHM_SIZE, so
 * pvtime.ko turns the device down on its BAR size alone and never reads
 * it; the magic at offset 0 is what the guest library looks for.
 */
#ifndef PVTIME_METER_ABI_H
#define PVTIME_METER_ABI_H

#include <stdint.h>

#define METER_MAGIC		0x544d5650u	/* "PVMT" little-endian */
#define METER_LAYOUT_VERSION	1u
#define METER_DEFAULT_SIZE	4096u		/* power of two for the BAR */
#define METER_CACHE_LINE	64

struct meter_page {
	/* Written once by the meter before it serves. */
	uint32_t magic;
	uint32_t layout_version;
	uint32_t size;			/* bytes of the whole mapping */
	uint32_t reserved0;
	uint8_t pad0[METER_CACHE_LINE - 16];

	/* Guest -> meter. */
	uint64_t request_seq;
	uint8_t pad1[METER_CACHE_LINE - 8];

	/* Meter -> guest, under answer_version. */
	uint32_t answer_version;	/* odd: an answer is being written */
	uint32_t reserved1;
	uint64_t answer_seq;		/* the request these clocks answer */
	int64_t host_realtime_ns;	/* host CLOCK_REALTIME */
	int64_t host_raw_ns;		/* host CLOCK_MONOTONIC_RAW */
	uint8_t pad2[METER_CACHE_LINE - 32];
};

_Static_assert(sizeof(struct meter_page) == 3 * METER_CACHE_LINE,
	       "meter page layout");
_Static_assert(__builtin_offsetof(struct meter_page, request_seq) == 64,
	       "request on its own cache line");
_Static_assert(__builtin_offsetof(struct meter_page, answer_version) == 128,
	       "answer on its own cache line");
_Static_assert(sizeof(struct meter_page) <= METER_DEFAULT_SIZE,
	       "meter page fits the BAR");

#endif /* PVTIME_METER_ABI_H */
