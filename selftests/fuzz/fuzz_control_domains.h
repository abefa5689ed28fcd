/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/* The fake domain layer of fuzz_control (no QEMU). */
#ifndef PVTIME_FUZZ_CONTROL_DOMAINS_H
#define PVTIME_FUZZ_CONTROL_DOMAINS_H

void fuzz_domains_init(void);

#endif /* PVTIME_FUZZ_CONTROL_DOMAINS_H */
