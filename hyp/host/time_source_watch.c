// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock/wallclock.h"
#include "core/atomic_file.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "host/time_source_watch.h"

static struct event_source changed = { .fd = -1 };
static char *state_path;
static int64_t saved_offset_ns;
static void (*republish_all)(void);

void time_source_save(void)
{
	int64_t offset = wallclock_hyp_offset_ns();
	char text[64];
	int len, ret;

	if (!state_path || offset == saved_offset_ns)
		return;
	len = snprintf(text, sizeof(text), "hyp_wall_offset_ns %" PRId64 "\n",
		       offset);
	ret = atomic_file_write(state_path, text, (size_t)len);
	if (ret) {
		log_error("%s: %s; a restarted pvtimed would lose the time source's offset",
			  state_path, strerror(-ret));
		return;
	}
	saved_offset_ns = offset;
}

/* One line, "hyp_wall_offset_ns N"; anything else is refused whole. */
static void load_saved_offset(void)
{
	char text[64], extra;
	long long offset;
	ssize_t len;
	int fd;

	fd = open(state_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("%s: %s; the hyp's wall clock starts on the host's",
				 state_path, strerror(errno));
		return;
	}
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (len < 0)
		len = 0;
	text[len] = '\0';
	if (sscanf(text, "hyp_wall_offset_ns %lld%c", &offset, &extra) != 2 ||
	    extra != '\n' || strchr(text, '\n') != text + len - 1 ||
	    offset > WALLCLOCK_MAX_NS || offset < -WALLCLOCK_MAX_NS) {
		log_warn("%s:1: not \"hyp_wall_offset_ns N\" with |N| <= %lld; ignored, the hyp's wall clock starts on the host's",
			 state_path, (long long)WALLCLOCK_MAX_NS);
		return;
	}
	wallclock_set_hyp_offset_ns(offset);
	saved_offset_ns = offset;
	if (offset)
		log_info("hyp wall clock: %lld ns from host CLOCK_REALTIME, as the time source left it (%s)",
			 offset, state_path);
}

static void on_changed(struct event_source *src, uint32_t events)
{
	uint64_t count;

	(void)events;
	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	/* Forced and rung, as after a host step: every guest steps now. */
	republish_all();
	time_source_save();
}

void time_source_wallclock_changed(void)
{
	uint64_t one = 1;

	/* Only EAGAIN (counter full) can fail: a wake-up is pending then. */
	if (changed.fd >= 0 && write(changed.fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		log_error("cannot wake the event loop for a wall-clock change: %s",
			  strerror(errno));
}

int time_source_watch_start(const char *state_dir, void (*republish)(void))
{
	int ret;

	republish_all = republish;
	if (asprintf(&state_path, "%s/%s", state_dir, HYP_WALLCLOCK_FILE) < 0) {
		state_path = NULL;
		return -ENOMEM;
	}
	load_saved_offset();
	changed.handler = on_changed;
	changed.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (changed.fd < 0)
		return -errno;
	ret = event_loop_add(&changed);
	if (ret)
		time_source_watch_stop();
	return ret;
}

void time_source_watch_stop(void)
{
	event_loop_remove(&changed);
	if (changed.fd >= 0)
		close(changed.fd);
	changed.fd = -1;
	free(state_path);
	state_path = NULL;
}
