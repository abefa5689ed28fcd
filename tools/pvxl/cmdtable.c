// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "cmdtable.h"

#include <stdio.h>
#include <string.h>

#include "commands.h"

const struct pvxl_command pvxl_commands[] = {
	{
		.name = "create",
		.run = pvxl_cmd_create,
		.min_args = 1,
		.max_args = 1,
		.summary = "Create and start a domain from a config file",
		.usage = "CONFIG",
		.details = "CONFIG is an xl.cfg-like file; pvtimed reads it, so pvxl\n"
			   "sends its absolute path.",
	},
	{
		.name = "list",
		.run = pvxl_cmd_forward,
		.options = PVXL_OPT_JSON,
		.min_args = 0,
		.max_args = 0,
		.summary = "List domains",
		.usage = "[--json]",
		.details = "--json   machine-readable output",
	},
	{
		.name = "destroy",
		.run = pvxl_cmd_forward,
		.min_args = 1,
		.max_args = 1,
		.summary = "Terminate a domain immediately",
		.usage = "DOM",
		.details = "DOM is a domain name or numeric domain id.",
	},
	{
		.name = "pause",
		.run = pvxl_cmd_forward,
		.options = PVXL_OPT_JSON,
		.min_args = 1,
		.max_args = 1,
		.summary = "Pause a domain (stop its vCPUs)",
		.usage = "[--json] DOM",
		.details = "QEMU stops the guest's vCPUs (QMP \"stop\"); the guest's TSC\n"
			   "stands still until 'pvxl unpause'.  Shows the QMP round trip,\n"
			   "which bounds when the stop took effect.\n"
			   "--json   machine-readable output",
	},
	{
		.name = "unpause",
		.run = pvxl_cmd_forward,
		.options = PVXL_OPT_JSON,
		.min_args = 1,
		.max_args = 2,
		.summary = "Unpause a paused domain",
		.usage = "[--json] DOM [POLICY]",
		.details = "QEMU continues the guest's vCPUs (QMP \"cont\"); the guest's\n"
			   "clock makes up the paused time per the domain's stopped_time\n"
			   "policy (step, slew:PPM or keep), or per POLICY for this unpause\n"
			   "only.  Shows how long it was paused.\n"
			   "--json   machine-readable output",
	},
	{
		.name = "save",
		.run = pvxl_cmd_save,
		.options = PVXL_OPT_JSON,
		.min_args = 2,
		.max_args = 2,
		.summary = "Save a domain to a file and end it",
		.usage = "[--json] DOM FILE",
		.details = "The guest is stopped (as by 'pvxl pause'), QEMU's migration\n"
			   "stream goes into FILE behind a pvtimed header (its config and\n"
			   "clock, checksummed), and the domain ends, as with xl save.\n"
			   "pvtimed writes FILE (mode 0600, replaced if it exists); its\n"
			   "path may not hold quotes, backslashes or control characters.\n"
			   "If the save fails, FILE is removed and a guest that was\n"
			   "running runs on.\n"
			   "--json   machine-readable output\n"
			   "Example:\n"
			   "  pvxl save guest1 /var/lib/pvtime/guest1.save",
	},
	{
		.name = "restore",
		.run = pvxl_cmd_restore,
		.options = PVXL_OPT_JSON | PVXL_OPT_STOPPED,
		.min_args = 1,
		.max_args = 2,
		.summary = "Restore a domain saved by 'pvxl save'",
		.usage = "[--json] [--stopped-time POLICY] FILE [CONFIG]",
		.details = "The domain is created again from FILE, with the config saved in\n"
			   "it or with CONFIG, and continued.  Its clock shows what it\n"
			   "showed at the save, then makes up the time since per the\n"
			   "domain's stopped_time policy, or per POLICY (step, slew:PPM\n"
			   "or keep).  A file that is not a pvtime save file, truncated,\n"
			   "corrupt (checksums), of a newer format or another pvtime ABI,\n"
			   "or of a domain whose name runs already is refused.\n"
			   "--stopped-time POLICY   policy for this restore\n"
			   "--json                  machine-readable output\n"
			   "Examples:\n"
			   "  pvxl restore /var/lib/pvtime/guest1.save\n"
			   "  pvxl restore --stopped-time slew:1000 guest1.save guest1.cfg",
	},
	{
		.name = "migrate",
		.run = pvxl_cmd_migrate,
		.options = PVXL_OPT_JSON | PVXL_OPT_MIGRATE_MODE,
		.min_args = 2,
		.max_args = 2,
		.summary = "Move a running domain to another pvtimed on this host",
		.usage = "[--json] [--live|--stopped] DOM DEST",
		.details = "DEST is the control socket of another pvtimed on this host (its\n"
			   "own --state-dir and --socket).  That pvtimed starts a QEMU\n"
			   "waiting for the guest, and QEMU's migration stream goes to it.\n"
			   "Live, the guest runs while its memory is sent and stops for\n"
			   "the last part only; stopped, it is paused first and stands\n"
			   "still for the whole stream (about a second for 512 MiB).  By\n"
			   "default a kvm domain goes live and a tcg one stopped: QEMU\n"
			   "7.2's TCG loses guest writes made during a live migration,\n"
			   "and the guest's kernel can crash on the destination.  Then the\n"
			   "destination takes the clock over (GUEST_STOPPED, the time the\n"
			   "guest stood still made up per the domain's stopped_time policy)\n"
			   "and continues it, and the domain ends here, as with xl migrate.\n"
			   "If the migration fails or DEST does not take the domain over,\n"
			   "the guest runs on here with its time intact and DEST keeps\n"
			   "nothing.  Refused: an unknown, shut-down or paused domain, a\n"
			   "DEST that is not a pvtimed, is this pvtimed, cannot receive\n"
			   "migrations, or already runs a domain of that name.\n"
			   "Exit status: 0 moved, 1 refused or failed (the domain runs on\n"
			   "here), 2 usage.\n"
			   "--live      migrate live even on tcg (for a QEMU known to track\n"
			   "            TCG writes during migration)\n"
			   "--stopped   pause the guest for the whole stream, even on kvm\n"
			   "--json      machine-readable output\n"
			   "Examples:\n"
			   "  pvxl migrate guest1 /run/pvtimed-b/control.sock\n"
			   "  pvxl migrate --stopped guest1 /run/pvtimed-b/control.sock",
	},
	{
		.name = "console",
		.run = pvxl_cmd_console,
		.min_args = 1,
		.max_args = 1,
		.summary = "Attach to a domain's serial console",
		.usage = "DOM",
		.details = "On a terminal, type Ctrl-] to detach.  With stdin not a\n"
			   "terminal, input is relayed until EOF and output until the\n"
			   "console closes.",
	},
	{
		.name = "info",
		.run = pvxl_cmd_forward,
		.options = PVXL_OPT_JSON,
		.min_args = 1,
		.max_args = 1,
		.summary = "Show a domain's time state",
		.usage = "[--json] DOM",
		.details = "--json   machine-readable output",
	},
	{
		.name = "drift",
		.run = pvxl_cmd_drift,
		.options = PVXL_OPT_JSON | PVXL_OPT_PLOT,
		.min_args = 1,
		.max_args = 1,
		.summary = "Show how far a domain's clock is behind host time, and what was given back",
		.usage = "[--json] [--plot FILE.svg] DOM",
		.details = "Drift is how far the guest's clock is behind its reference, host\n"
			   "time since the domain was created.  A clock = \"virtual\" domain's\n"
			   "clock advances a nanosecond per instruction its guest executes, so\n"
			   "it falls behind whenever the guest runs slower than that; a\n"
			   "host-time domain falls behind by time it stood still and kept\n"
			   "(stopped_time = keep).\n"
			   "Shows the drift now, what accrued, what skips and slewing gave\n"
			   "back under the domain's drift policy, each skip, and a history\n"
			   "of one sample a second (the last 1024).\n"
			   "--json             machine-readable output\n"
			   "--plot FILE.svg    also write an SVG of drift against time\n"
			   "Exit status: 0 shown, 1 unknown domain or FILE not written,\n"
			   "2 usage.\n"
			   "Examples:\n"
			   "  pvxl drift guest1\n"
			   "  pvxl drift --json guest1 | jq .current_ns\n"
			   "  pvxl drift --plot /tmp/guest1-drift.svg guest1",
	},
	{
		.name = "set-wallclock",
		.run = pvxl_cmd_set_wallclock,
		.options = PVXL_OPT_ALL,
		.min_args = 1,
		.max_args = 2,
		.summary = "Set the wall clock of one domain or of all domains",
		.usage = "{DOM|--all} TIME",
		.details = "TIME is one of:\n"
			   "  now                           follow the hyp's wall clock again (the\n"
			   "                                host's, plus what a time-source domain\n"
			   "                                set); with --all, drop that too\n"
			   "  @SECONDS[.FRACTION]           seconds since 1970-01-01T00:00:00Z\n"
			   "  YYYY-MM-DDTHH:MM:SS[.FRACTION][Z|+HH:MM|-HH:MM]\n"
			   "                                UTC unless a zone is given; ' ' may\n"
			   "                                replace 'T'\n"
			   "  {+|-}NUMBER[.FRACTION]UNIT    step by an offset; UNIT is one of\n"
			   "                                ns us ms s m h d\n"
			   "FRACTION has at most 9 digits.  Examples:\n"
			   "  pvxl set-wallclock guest1 2027-01-01T12:00:00Z\n"
			   "  pvxl set-wallclock --all +2.5s\n"
			   "  pvxl set-wallclock guest1 -1h\n"
			   "  pvxl set-wallclock guest1 now",
	},
	{
		.name = "host-info",
		.run = pvxl_cmd_forward,
		.options = PVXL_OPT_JSON,
		.min_args = 0,
		.max_args = 0,
		.summary = "Show pvtimed's timebase (TSC frequency, precision)",
		.usage = "[--json]",
		.details = "--json   machine-readable output",
	},
	{
		.name = "inject",
		.run = pvxl_cmd_inject,
		.options = PVXL_OPT_JSON,
		.min_args = 2,
		.max_args = 4,
		.summary = "Inject a fault into a domain's time records (tests only)",
		.usage = "[--json] DOM MODE [ARGS]",
		.details = "pvtimed must run with --enable-fault-injection.  MODE is one of:\n"
			   "  storm RATE_HZ DURATION_MS  re-anchor every record at RATE_HZ\n"
			   "                             (1..10000) for DURATION_MS (1..600000)\n"
			   "  skew NS                    vCPU n's records read n*NS ahead\n"
			   "                             (0..1000000000; clears TSC_STABLE; 0 removes)\n"
			   "  freq-step PPM              records run PPM fast (-1000..1000; 0 restores)\n"
			   "  reanchor                   re-anchor every record once, now\n"
			   "  odd VCPU MS                leave VCPU's record version odd for MS\n"
			   "                             (1..5000)\n"
			   "  guest-stopped              set the guest-stopped flag on every record\n"
			   "  clear                      end all injections: true rate, no skew,\n"
			   "                             TSC_STABLE per evidence, clock status shown\n"
			   "  clock-status-off           hide the clock status as a hyp without\n"
			   "                             PVTIME_F_CLOCK_STATUS would (clear shows it)\n"
			   "  clock-status-odd MS        leave the clock-status block odd (torn) for\n"
			   "                             MS (1..5000)\n"
			   "  jump MS                    step the records MS forward (1..10000) with\n"
			   "                             TSC_STABLE withdrawn in the same moment, as\n"
			   "                             a step a guest's fast path missed; they lead\n"
			   "                             the host by MS and are slewed back\n"
			   "Examples:\n"
			   "  pvxl inject guest1 storm 1000 5000\n"
			   "  pvxl inject guest1 freq-step -100\n"
			   "  pvxl inject guest1 clear",
	},
	{
		.name = "help",
		.run = pvxl_cmd_help,
		.min_args = 0,
		.max_args = 1,
		.summary = "Show help for pvxl or for one command",
		.usage = "[COMMAND]",
		.details = NULL,
	},
};

const size_t pvxl_command_count = sizeof(pvxl_commands) / sizeof(pvxl_commands[0]);

const struct pvxl_command *pvxl_command_find(const char *name)
{
	size_t i;

	for (i = 0; i < pvxl_command_count; i++) {
		if (!strcmp(pvxl_commands[i].name, name))
			return &pvxl_commands[i];
	}
	return NULL;
}
