// SPDX-License-Identifier: GPL-2.0
/*
 * pvtime-monotonic: watch CLOCK_MONOTONIC on every CPU while a command
 * runs (e.g. rmmod pvtime, which switches the clocksource away).
 *
 *   pvtime-monotonic [-t SECONDS] [-- COMMAND [ARG...]]
 *
 * Samples for SECONDS (default 1) before and after COMMAND.  Exits 0 if
 * no reading went backwards and COMMAND succeeded, 1 otherwise, 2 on
 * usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monotonic_check.h"

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t SECONDS] [-- COMMAND [ARG...]]\n", prog);
	exit(2);
}

static void sleep_sec(double sec)
{
	struct timespec ts = {
		.tv_sec = (time_t)sec,
		.tv_nsec = (long)((sec - (double)(time_t)sec) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Run argv, return 0 if it exited 0. */
static int run_command(char **argv)
{
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("pvtime-monotonic: fork");
		return -1;
	}
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "pvtime-monotonic: %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("pvtime-monotonic: waitpid");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "pvtime-monotonic: %s failed (status %#x)\n",
			argv[0], status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct monotonic_result res;
	struct monotonic_check mc;
	double seconds = 1.0;
	char *end;
	int opt, cmd_ret = 0;

	while ((opt = getopt(argc, argv, "t:h")) != -1) {
		switch (opt) {
		case 't':
			seconds = strtod(optarg, &end);
			if (*end || end == optarg || !(seconds > 0) ||
			    seconds > 3600) {
				fprintf(stderr, "%s: -t wants seconds in (0, 3600], got '%s'\n",
					argv[0], optarg);
				usage(argv[0]);
			}
			break;
		default:
			usage(argv[0]);
		}
	}

	if (monotonic_check_start(&mc))
		return 1;
	sleep_sec(seconds);
	if (optind < argc)
		cmd_ret = run_command(&argv[optind]);
	sleep_sec(seconds);
	monotonic_check_stop(&mc, &res);

	printf("%" PRIu64 " readings on %u CPUs, %" PRIu64
	       " steps back (worst %" PRIu64 " ns)\n",
	       res.samples, res.threads, res.backsteps, res.worst_backstep_ns);
	return res.backsteps || !res.samples || cmd_ret ? 1 : 0;
}
