// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * pvtimed logging.  Messages are single lines; on stderr they carry a
 * CLOCK_REALTIME timestamp and the level, on syslog the priority.  Several
 * threads (mailbox servers) log, so each message is formatted first and then
 * written with one call.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "core/log.h"

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int level_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

static bool log_to_syslog;
static enum log_level log_threshold = LOG_LEVEL_INFO;

int log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(name, level_names[i]))
			return (int)i;
	return -1;
}

void log_setup(bool use_syslog, enum log_level level)
{
	log_threshold = level;
	log_to_syslog = use_syslog;
	if (use_syslog)
		openlog("pvtimed", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (log_to_syslog)
		closelog();
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	if (log_to_syslog) {
		syslog(level_priorities[level], "%s", text);
	} else {
		struct timespec now;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%06ldZ pvtimed: %s: %s\n", stamp,
			now.tv_nsec / 1000, level_names[level], text);
	}
}
