// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memory_check.h"

/* Pass p finds p in every page: pass p - 1 wrote it (a fresh page is 0). */
static void memory_check_page(struct memory_check *mc, size_t page,
			      uint64_t pass)
{
	volatile uint64_t *word = mc->buf + page * mc->page_words;
	uint64_t found = *word;

	if (found != pass && !mc->found.lost_pages++) {
		mc->found.first_lost_page = page;
		mc->found.first_lost_found = found;
		mc->found.first_lost_want = pass;
	}
	*word = pass + 1;
}

static void *memory_check_run(void *arg)
{
	struct memory_check *mc = arg;
	uint64_t pass;
	size_t page;

	for (pass = 0;; pass++) {
		for (page = 0; page < mc->pages; page++)
			memory_check_page(mc, page, pass);
		/* Stopped only between passes: a pass is checked whole. */
		atomic_store(&mc->passes, pass + 1);
		if (atomic_load_explicit(&mc->stop, memory_order_relaxed))
			break;
	}
	return NULL;
}

int memory_check_start(struct memory_check *mc, size_t pages)
{
	long page_size = sysconf(_SC_PAGESIZE);
	void *buf;
	int ret;

	memset(mc, 0, sizeof(*mc));
	if (page_size <= 0 || !pages)
		return -EINVAL;
	buf = mmap(NULL, pages * (size_t)page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		ret = -errno;
		printf("# memory check: mmap of %zu pages: %s\n", pages,
		       strerror(-ret));
		return ret;
	}
	mc->buf = buf;
	mc->pages = pages;
	mc->page_words = (size_t)page_size / sizeof(uint64_t);
	ret = -pthread_create(&mc->thread, NULL, memory_check_run, mc);
	if (ret) {
		printf("# memory check: cannot start its thread: %s\n",
		       strerror(-ret));
		munmap(buf, pages * (size_t)page_size);
		mc->buf = NULL;
	}
	return ret;
}

uint64_t memory_check_passes(struct memory_check *mc)
{
	return atomic_load(&mc->passes);
}

void memory_check_stop(struct memory_check *mc, struct memory_result *res)
{
	memset(res, 0, sizeof(*res));
	if (!mc->buf)
		return;
	atomic_store(&mc->stop, true);
	pthread_join(mc->thread, NULL);
	*res = mc->found;
	res->passes = atomic_load(&mc->passes);
	res->pages = mc->pages;
	munmap((void *)mc->buf, mc->pages * mc->page_words * sizeof(uint64_t));
	mc->buf = NULL;
}
