// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-hostile: a guest that attacks pvtimed through its own pvtime
 * device, with pvtime.ko not loaded.  It maps the ivshmem BARs through
 * sysfs (BAR0: the doorbell register, BAR2: the shared memory) and runs,
 * each for -d seconds:
 *
 *   doorbells  rings every vector (and peers and vectors that do not
 *              exist) as fast as it can
 *   garbage    random and absurd mailbox requests: bad op codes, bad vCPU
 *              ids, huge TSC values, torn and reused sequence numbers
 *   unanswered posts requests, rings, and never reads an answer nor ends
 *              the session; keeps each session just short of idle
 *   scribble   random bytes over the whole shared memory (records, wall
 *              clock, control page) while ringing
 *
 * The host runner (selftests/hostile_guest.py) measures pvtimed's CPU and
 * a neighbour domain's clock meanwhile.  Output: one line
 * "PVTIME-HOSTILE begin PHASE" and "PVTIME-HOSTILE end PHASE COUNT" around
 * each phase, and TAP.  A userspace program rather than a module: it reaches
 * everything a guest kernel can (the BARs), needs no second kernel module
 * build, and cannot crash its own guest before the test is over.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pvtime_abi.h"

#define PCI_DEVICES	"/sys/bus/pci/devices"
#define BAR0_MAP_SIZE	4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Device memory, written behind the compiler's back: volatile on purpose. */
struct hostile {
	volatile uint32_t *regs;	/* BAR0 */
	volatile uint8_t *shm;		/* BAR2 */
	volatile struct pvtime_mailbox *mb;
	uint32_t host_peer;
	uint64_t rng;
};

static uint64_t next_random(struct hostile *h)
{
	/* xorshift64: reproducible from the fixed seed, no libc state. */
	h->rng ^= h->rng << 13;
	h->rng ^= h->rng >> 7;
	h->rng ^= h->rng << 17;
	return h->rng;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void ring(struct hostile *h, uint32_t peer, uint32_t vector)
{
	h->regs[PVTIME_IVSHMEM_REG_DOORBELL / 4] = (peer << 16) | vector;
}

static int read_hex(const char *dir, const char *name, unsigned int *value)
{
	char path[512];
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "%s/%s/%s", PCI_DEVICES, dir, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%x", value);
	fclose(f);
	return n == 1 ? 0 : -EINVAL;
}

static void *map_resource(const char *dir, int bar, size_t size)
{
	char path[512];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s/resource%d", PCI_DEVICES, dir, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		fprintf(stderr, "# cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "# cannot map %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return p;
}

/* The first ivshmem device; memory decoding switched on through sysfs. */
static int open_device(struct hostile *h)
{
	unsigned int vendor, device;
	const struct pvtime_control *ctl;
	struct dirent *e;
	char path[512];
	DIR *d;
	int fd;

	d = opendir(PCI_DEVICES);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    read_hex(e->d_name, "vendor", &vendor) ||
		    read_hex(e->d_name, "device", &device) ||
		    vendor != PVTIME_PCI_VENDOR_ID || device != PVTIME_PCI_DEVICE_ID)
			continue;
		printf("# hostile: ivshmem device %s\n", e->d_name);
		snprintf(path, sizeof(path), "%s/%s/enable", PCI_DEVICES, e->d_name);
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				fprintf(stderr, "# enable: %s\n", strerror(errno));
			close(fd);
		}
		h->regs = map_resource(e->d_name, 0, BAR0_MAP_SIZE);
		h->shm = map_resource(e->d_name, 2, PVTIME_SHM_SIZE);
		closedir(d);
		if (!h->regs || !h->shm)
			return -EIO;
		ctl = (const struct pvtime_control *)(h->shm + PVTIME_CONTROL_OFFSET);
		if (ctl->magic != PVTIME_MAGIC) {
			fprintf(stderr, "# no pvtime signature (magic %#x)\n",
				ctl->magic);
			return -ENODEV;
		}
		h->host_peer = ctl->host_peer_id;
		h->mb = (volatile struct pvtime_mailbox *)&ctl->mailbox;
		return 0;
	}
	closedir(d);
	return -ENODEV;
}

static unsigned long phase_doorbells(struct hostile *h, double until)
{
	unsigned long n = 0;

	while (now_s() < until) {
		for (uint32_t v = 0; v < 16; v++, n++)
			ring(h, h->host_peer, v);
		/* Peers that do not exist, and ourselves. */
		ring(h, (uint32_t)next_random(h) & 0xffff, PVTIME_VEC_MAILBOX);
		ring(h, 1, PVTIME_VEC_MAILBOX);
		n += 2;
	}
	return n;
}

static unsigned long phase_garbage(struct hostile *h, double until)
{
	volatile struct pvtime_mailbox *mb = h->mb;
	unsigned long n = 0;

	while (now_s() < until) {
		uint64_t r = next_random(h);

		mb->request = (r & 1) ? (uint32_t)(r >> 32) : (uint32_t)(r % 6);
		mb->vcpu = (r & 2) ? 0xffffffffu : (uint32_t)(r >> 40);
		mb->sample_flags = (uint32_t)next_random(h);
		mb->guest_tsc_before = next_random(h);
		mb->guest_tsc_after = (r & 4) ? 0 : ~0ull;
		/* An echo that may or may not be a value the hyp handed out. */
		mb->host_tsc = (r & 8) ? mb->host_tsc + (r & 0xffff) : next_random(h);
		switch (r >> 60) {
		case 0:		/* torn: the sequence back */
			mb->request_seq -= 1;
			break;
		case 1:		/* a jump */
			mb->request_seq = (uint32_t)next_random(h);
			break;
		case 2:		/* the answer's own number */
			mb->request_seq = mb->response_seq;
			break;
		default:
			mb->request_seq += 1;
			break;
		}
		/* The hyp's fields are guest memory too. */
		if ((r & 0xf0) == 0)
			mb->response_seq = (uint32_t)next_random(h);
		if ((n & 0xff) == 0)
			ring(h, h->host_peer, PVTIME_VEC_MAILBOX);
		n++;
	}
	return n;
}

static unsigned long phase_unanswered(struct hostile *h, double until)
{
	volatile struct pvtime_mailbox *mb = h->mb;
	const struct timespec almost_idle = { .tv_nsec = 40 * 1000 * 1000 };
	unsigned long n = 0;

	while (now_s() < until) {
		/* A request whose answer nobody reads; never an END. */
		mb->request = PVTIME_REQ_REALTIME_PROBE;
		mb->request_seq += 1;
		ring(h, h->host_peer, PVTIME_VEC_MAILBOX);
		n++;
		nanosleep(&almost_idle, NULL);
	}
	return n;
}

static unsigned long phase_scribble(struct hostile *h, double until)
{
	unsigned long n = 0;

	while (now_s() < until) {
		for (unsigned int i = 0; i < PVTIME_SHM_SIZE / 8; i++)
			((volatile uint64_t *)h->shm)[i] = next_random(h);
		ring(h, h->host_peer, PVTIME_VEC_MAILBOX);
		ring(h, h->host_peer, PVTIME_VEC_WALLCLOCK);
		n++;
	}
	return n;
}

struct phase {
	const char *name;
	unsigned long (*run)(struct hostile *h, double until);
};

static const struct phase phases[] = {
	{ "doorbells", phase_doorbells },
	{ "garbage", phase_garbage },
	{ "unanswered", phase_unanswered },
	{ "scribble", phase_scribble },
};

int main(int argc, char **argv)
{
	struct hostile h = { .rng = 0x9e3779b97f4a7c15ull };
	double seconds = 8;
	unsigned int i;
	int opt, ret;

	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt == 'd')
			seconds = atof(optarg);
		if (opt != 'd' || seconds <= 0) {
			fprintf(stderr, "usage: %s [-d SECONDS_PER_PHASE]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = open_device(&h);
	if (ret) {
		printf("not ok 1 hostile: map the pvtime device: %s\n",
		       strerror(-ret));
		return 1;
	}
	printf("ok 1 hostile: pvtime device mapped, host peer %u\n", h.host_peer);
	for (i = 0; i < ARRAY_SIZE(phases); i++) {
		unsigned long count;

		printf("PVTIME-HOSTILE begin %s\n", phases[i].name);
		count = phases[i].run(&h, now_s() + seconds);
		printf("PVTIME-HOSTILE end %s %lu\n", phases[i].name, count);
		printf("ok %u hostile: %s for %.0f s (%lu)\n", i + 2,
		       phases[i].name, seconds, count);
	}
	return 0;
}
