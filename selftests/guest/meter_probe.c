// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meter_probe.h"
#include "prog_common.h"

#define PCI_DEVICES		"/sys/bus/pci/devices"
#define IVSHMEM_VENDOR		0x1af4
#define IVSHMEM_DEVICE		0x1110
/* The meter polls every ~2 ms while idle; allow for a busy host. */
#define METER_WAKE_TIMEOUT_NS	(500 * 1000000LL)
#define METER_ANSWER_TIMEOUT_NS	(100 * 1000000LL)

static uint64_t guest_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	return 0;
#endif
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * Map path and check the meter's magic.  0, -ENODEV (not a meter), or
 * -errno; quiet: no message (the caller is looking for the meter).
 */
static int map_page(struct meter *m, const char *path, bool quiet)
{
	struct meter_page *page;
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		if (!quiet)
			fprintf(stderr, "meter: cannot open %s: %s\n", path,
				strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (st.st_size < (off_t)sizeof(struct meter_page)) {
		if (!quiet)
			fprintf(stderr, "meter: %s is %lld bytes, too small for a meter page\n",
				path, (long long)st.st_size);
		close(fd);
		return -ENODEV;
	}
	page = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (page == MAP_FAILED) {
		ret = -errno;
		if (!quiet)
			fprintf(stderr, "meter: cannot map %s: %s\n", path,
				strerror(errno));
		return ret;
	}
	if (__atomic_load_n(&page->magic, __ATOMIC_ACQUIRE) != METER_MAGIC ||
	    page->layout_version != METER_LAYOUT_VERSION) {
		if (!quiet)
			fprintf(stderr, "meter: %s has magic %#x layout %u, expected %#x layout %u\n",
				path, page->magic, page->layout_version,
				METER_MAGIC, METER_LAYOUT_VERSION);
		munmap(page, st.st_size);
		return -ENODEV;
	}
	m->page = page;
	m->size = st.st_size;
	m->seq = __atomic_load_n(&page->request_seq, __ATOMIC_RELAXED);
	m->last_realtime_ns = 0;
	m->realtime_backsteps = 0;
	snprintf(m->where, sizeof(m->where), "%s", path);
	return 0;
}

int meter_open_path(struct meter *m, const char *path)
{
	return map_page(m, path, false);
}

static bool read_hex(const char *dir, const char *name, unsigned int *value)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fscanf(f, "%x", value) == 1;
	fclose(f);
	return ok;
}

/*
 * A device pvtime.ko has bound cannot be mapped (its regions are busy:
 * EINVAL), and others are not meters (-ENODEV): both mean "not this one".
 */
int meter_open(struct meter *m)
{
	unsigned int vendor, device, candidates = 0;
	struct dirent *de;
	DIR *dir;
	int ret = -ENODEV;

	dir = opendir(PCI_DEVICES);
	if (!dir) {
		ret = -errno;
		fprintf(stderr, "meter: cannot list %s: %s\n", PCI_DEVICES,
			strerror(errno));
		return ret;
	}
	while ((de = readdir(dir))) {
		char dev[300], resource[320];

		if (de->d_name[0] == '.')
			continue;
		snprintf(dev, sizeof(dev), "%s/%s", PCI_DEVICES, de->d_name);
		if (!read_hex(dev, "vendor", &vendor) ||
		    !read_hex(dev, "device", &device) ||
		    vendor != IVSHMEM_VENDOR || device != IVSHMEM_DEVICE)
			continue;
		candidates++;
		snprintf(resource, sizeof(resource), "%s/resource2", dev);
		if (!map_page(m, resource, true)) {
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	fprintf(stderr, "meter: no ivshmem device with the meter's magic %#x (%u ivshmem devices looked at); is pvtime-meter's device on the QEMU command line?\n",
		METER_MAGIC, candidates);
	return ret;
}

void meter_close(struct meter *m)
{
	if (m->page)
		munmap(m->page, m->size);
	m->page = NULL;
}

static int64_t guest_realtime(struct meter *m)
{
	int64_t now = clock_ns(CLOCK_REALTIME);

	if (m->last_realtime_ns && now < m->last_realtime_ns)
		m->realtime_backsteps++;
	m->last_realtime_ns = now;
	return now;
}

/*
 * Read the answer to seq if it is there: 1 with the host's clocks, 0 if
 * not (yet), under the meter's seqlock.
 */
static int read_answer(const struct meter_page *page, uint64_t seq,
		       int64_t *host_realtime, int64_t *host_raw)
{
	uint32_t v1, v2;
	uint64_t answered;

	v1 = __atomic_load_n(&page->answer_version, __ATOMIC_ACQUIRE);
	if (v1 & 1)
		return 0;
	answered = __atomic_load_n(&page->answer_seq, __ATOMIC_RELAXED);
	*host_realtime = __atomic_load_n(&page->host_realtime_ns, __ATOMIC_RELAXED);
	*host_raw = __atomic_load_n(&page->host_raw_ns, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	v2 = __atomic_load_n(&page->answer_version, __ATOMIC_RELAXED);
	return v1 == v2 && answered == seq;
}

/*
 * How far the REALTIME bracket may differ from the CLOCK_MONOTONIC_RAW
 * one around it: two clock reads and a 500 ppm NTP slew over the bracket
 * are far less.  More is a step of the guest's REALTIME inside it (or the
 * vCPU lost right between two adjacent reads: one sample less).
 */
#define METER_STEP_IN_BRACKET_NS	5000

/*
 * One request/answer, bracketed by guest CLOCK_REALTIME.  0 or -ETIMEDOUT.
 * A bracket that REALTIME stepped inside gets rtt_ns -1: a backward step
 * of 2 ms inside a 2.05 ms bracket read as a 50 us one, its midpoint a
 * millisecond off (a steps check counted a step missed on it).
 */
static int exchange(struct meter *m, int64_t timeout_ns, struct meter_sample *s)
{
	int64_t deadline = clock_ns(CLOCK_MONOTONIC) + timeout_ns;
	int64_t host_realtime, host_raw, before, after, raw_before, raw_after;
	uint64_t seq = ++m->seq, tsc_before, tsc_after;
	unsigned int spins = 0;

	tsc_before = guest_tsc();
	raw_before = clock_ns(CLOCK_MONOTONIC_RAW);
	before = guest_realtime(m);
	__atomic_store_n(&m->page->request_seq, seq, __ATOMIC_RELEASE);
	while (!read_answer(m->page, seq, &host_realtime, &host_raw)) {
		if (++spins % 64 == 0 && clock_ns(CLOCK_MONOTONIC) > deadline)
			return -ETIMEDOUT;
		cpu_relax();
	}
	after = guest_realtime(m);
	raw_after = clock_ns(CLOCK_MONOTONIC_RAW);
	tsc_after = guest_tsc();
	s->guest_tsc = tsc_before + (tsc_after - tsc_before) / 2;
	s->rtt_ns = after - before;
	if (llabs((raw_after - raw_before) - s->rtt_ns) > METER_STEP_IN_BRACKET_NS)
		s->rtt_ns = -1;
	s->guest_realtime_ns = before + (after - before) / 2;
	s->host_realtime_ns = host_realtime;
	s->host_raw_ns = host_raw;
	s->offset_ns = s->guest_realtime_ns - host_realtime;
	return 0;
}

int meter_exchange(struct meter *m, int64_t timeout_ns, struct meter_sample *s)
{
	s->exchanges = 1;
	return exchange(m, timeout_ns, s);
}

int meter_sample(struct meter *m, unsigned int exchanges,
		 struct meter_sample *s)
{
	struct meter_sample one;
	unsigned int i, usable = 0;

	/* The first request of a burst waits out the meter's idle poll. */
	if (exchange(m, METER_WAKE_TIMEOUT_NS, &one)) {
		fprintf(stderr, "meter: no answer from %s within %lld ms; is pvtime-meter running?\n",
			m->where, METER_WAKE_TIMEOUT_NS / 1000000);
		return -ETIMEDOUT;
	}
	for (i = 0; i < exchanges; i++) {
		if (exchange(m, METER_ANSWER_TIMEOUT_NS, &one)) {
			fprintf(stderr, "meter: no answer from %s within %lld ms inside a burst\n",
				m->where, METER_ANSWER_TIMEOUT_NS / 1000000);
			return -ETIMEDOUT;
		}
		/* A guest clock step inside the bracket: no bracket at all. */
		if (one.rtt_ns < 0)
			continue;
		if (!usable++ || one.rtt_ns < s->rtt_ns)
			*s = one;
	}
	if (!usable)
		return -EIO;
	s->exchanges = usable;
	return 0;
}
