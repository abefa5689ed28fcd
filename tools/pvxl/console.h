/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* 'pvxl console': relay between the terminal and a domain's serial socket. */
#ifndef PVXL_CONSOLE_H
#define PVXL_CONSOLE_H

/* Ctrl-], as in xl console and telnet. */
#define PVXL_CONSOLE_ESCAPE	0x1d

/*
 * Connect to the console socket at 'path' and relay until the console side
 * closes, or, when stdin is a terminal, until the user types Ctrl-].  Stdin
 * reaching EOF stops input only: output keeps flowing until the console
 * closes.  Returns the exit code.
 */
int pvxl_console_relay(const char *domain, const char *path);

#endif /* PVXL_CONSOLE_H */
