/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* pvtimed logging: stderr or syslog, filtered by level. */
#ifndef PVTIMED_LOG_H
#define PVTIMED_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Parse "error|warn|info|debug"; returns -1 for anything else. */
int log_level_parse(const char *name);

/* Select the sink.  Safe to call before any message is logged. */
void log_setup(bool use_syslog, enum log_level level);
void log_close(void);

bool log_enabled(enum log_level level);

__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif /* PVTIMED_LOG_H */
