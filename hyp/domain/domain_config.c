// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * xl.cfg-like parser.  Grammar:
 *
 *   file      := { statement | newline }
 *   statement := key '=' value ( newline | ';' | EOF )
 *   value     := string | number | '[' [ string { ',' string } [ ',' ] ] ']'
 *
 * '#' starts a comment to the end of the line; lists may span lines.
 * Strings are double-quoted with \" and \\ as the only escapes.  Every key
 * appears at most once; unknown keys are errors, not warnings, so a typo
 * never silently boots a different guest.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pvtime_abi.h"
#include "domain/domain_config.h"

#define CFG_STRING_MAX	4096

enum token_type {
	TOK_EOF,
	TOK_NEWLINE,
	TOK_IDENT,
	TOK_STRING,
	TOK_NUMBER,
	TOK_EQUALS,
	TOK_SEMICOLON,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
};

struct token {
	enum token_type type;
	int line;
	char *text;		/* IDENT, STRING, NUMBER: malloc'd */
};

enum value_type {
	VAL_STRING,
	VAL_NUMBER,
	VAL_LIST,
};

struct value {
	enum value_type type;
	int line;
	char *str;		/* VAL_STRING; VAL_NUMBER keeps its spelling */
	uint64_t num;		/* VAL_NUMBER: its magnitude */
	bool negative;		/* VAL_NUMBER spelt with '-' */
	bool sign;		/* VAL_NUMBER spelt with '-' or '+' */
	char **list;
	size_t nr_list;
};

struct parser {
	const char *path;
	const char *pos;
	int line;
	char *err;
	size_t errlen;
	bool failed;
	struct token tok;	/* current token */
	char basedir[PATH_MAX];
	unsigned int seen;	/* bitmask over config_keys */
	int tcg_thread_line;	/* 0 unless tcg_thread was given */
	int clock_line;		/* 0 unless clock was given */
};

__attribute__((format(printf, 3, 4)))
static void parse_error(struct parser *p, int line, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	used = strlen(p->err);
	va_start(ap, fmt);
	vsnprintf(p->err + used, p->errlen - used, fmt, ap);
	va_end(ap);
}

static char *dup_range(const char *start, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		memcpy(s, start, len);
		s[len] = '\0';
	}
	return s;
}

static void token_release(struct token *t)
{
	free(t->text);
	t->text = NULL;
}

static int lex_string(struct parser *p)
{
	char buf[CFG_STRING_MAX];
	size_t len = 0;

	p->pos++;	/* opening quote */
	for (;;) {
		char c = *p->pos;

		if (c == '\0' || c == '\n') {
			parse_error(p, p->line, "unterminated string");
			return -1;
		}
		p->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = *p->pos;
			if (c != '"' && c != '\\') {
				parse_error(p, p->line,
					    "bad escape in string (only \\\" and \\\\ are allowed)");
				return -1;
			}
			p->pos++;
		}
		if (len + 1 >= sizeof(buf)) {
			parse_error(p, p->line, "string longer than %d bytes",
				    CFG_STRING_MAX - 1);
			return -1;
		}
		buf[len++] = c;
	}
	p->tok.type = TOK_STRING;
	p->tok.text = dup_range(buf, len);
	if (!p->tok.text) {
		parse_error(p, p->line, "out of memory");
		return -1;
	}
	return 0;
}

/* Words: identifiers and numbers; anything glued to them joins the word. */
static int lex_word(struct parser *p, enum token_type type)
{
	const char *start = p->pos;

	while (isalnum((unsigned char)*p->pos) || *p->pos == '_' ||
	       *p->pos == '.' || *p->pos == '-' || *p->pos == '+')
		p->pos++;
	p->tok.type = type;
	p->tok.text = dup_range(start, (size_t)(p->pos - start));
	if (!p->tok.text) {
		parse_error(p, p->line, "out of memory");
		return -1;
	}
	return 0;
}

/* Advance to the next token.  Returns 0, or -1 after parse_error. */
static int lex_next(struct parser *p)
{
	unsigned char c;

	token_release(&p->tok);
	for (;;) {
		c = (unsigned char)*p->pos;
		if (c == ' ' || c == '\t' || c == '\r') {
			p->pos++;
		} else if (c == '#') {
			while (*p->pos && *p->pos != '\n')
				p->pos++;
		} else {
			break;
		}
	}
	p->tok.line = p->line;
	switch (c) {
	case '\0':
		p->tok.type = TOK_EOF;
		return 0;
	case '\n':
		p->tok.type = TOK_NEWLINE;
		p->pos++;
		p->line++;
		return 0;
	case '=':
		p->tok.type = TOK_EQUALS;
		break;
	case ';':
		p->tok.type = TOK_SEMICOLON;
		break;
	case '[':
		p->tok.type = TOK_LBRACKET;
		break;
	case ']':
		p->tok.type = TOK_RBRACKET;
		break;
	case ',':
		p->tok.type = TOK_COMMA;
		break;
	case '"':
		return lex_string(p);
	default:
		if (isdigit(c) || c == '-' || c == '+')
			return lex_word(p, TOK_NUMBER);
		if (isalpha(c) || c == '_')
			return lex_word(p, TOK_IDENT);
		if (isprint(c))
			parse_error(p, p->line, "unexpected character '%c'", c);
		else
			parse_error(p, p->line, "unexpected byte 0x%02x", c);
		return -1;
	}
	p->pos++;
	return 0;
}

static void value_release(struct value *v)
{
	size_t i;

	free(v->str);
	for (i = 0; i < v->nr_list; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

/*
 * A sign is kept aside (only signed keys take one): strtoull itself would
 * quietly negate "-1" into 2^64 - 1.
 */
static int parse_number(struct parser *p, struct value *v)
{
	const char *text = p->tok.text;
	const char *digits = text;
	unsigned long long n;
	char *end;

	if (text[0] == '-' || text[0] == '+')
		digits++;
	if (!isdigit((unsigned char)digits[0])) {
		parse_error(p, p->tok.line, "bad number '%s' (expected an integer)",
			    text);
		return -1;
	}
	errno = 0;
	n = strtoull(digits, &end, 0);
	if (*end != '\0') {
		parse_error(p, p->tok.line, "bad number '%s'", text);
		return -1;
	}
	if (errno == ERANGE) {
		parse_error(p, p->tok.line, "number '%s' out of range", text);
		return -1;
	}
	v->type = VAL_NUMBER;
	v->num = n;
	v->sign = digits != text;
	v->negative = text[0] == '-';
	v->str = p->tok.text;
	p->tok.text = NULL;
	return 0;
}

static int parse_list(struct parser *p, struct value *v)
{
	v->type = VAL_LIST;
	for (;;) {
		char **grown;

		do {
			if (lex_next(p))
				return -1;
		} while (p->tok.type == TOK_NEWLINE);
		if (p->tok.type == TOK_RBRACKET)
			return 0;
		if (p->tok.type != TOK_STRING) {
			parse_error(p, p->tok.line,
				    p->tok.type == TOK_EOF ? "unterminated list (missing ']')"
				    : "bad list: elements must be quoted strings");
			return -1;
		}
		if (v->nr_list >= DOMAIN_DM_ARGS_MAX) {
			parse_error(p, p->tok.line, "list longer than %d elements",
				    DOMAIN_DM_ARGS_MAX);
			return -1;
		}
		grown = realloc(v->list, (v->nr_list + 1) * sizeof(*grown));
		if (!grown) {
			parse_error(p, p->tok.line, "out of memory");
			return -1;
		}
		v->list = grown;
		v->list[v->nr_list++] = p->tok.text;
		p->tok.text = NULL;

		do {
			if (lex_next(p))
				return -1;
		} while (p->tok.type == TOK_NEWLINE);
		if (p->tok.type == TOK_RBRACKET)
			return 0;
		if (p->tok.type != TOK_COMMA) {
			parse_error(p, p->tok.line,
				    p->tok.type == TOK_EOF ? "unterminated list (missing ']')"
				    : "bad list: expected ',' or ']'");
			return -1;
		}
	}
}

static int parse_value(struct parser *p, struct value *v)
{
	if (lex_next(p))
		return -1;
	v->line = p->tok.line;
	switch (p->tok.type) {
	case TOK_STRING:
		v->type = VAL_STRING;
		v->str = p->tok.text;
		p->tok.text = NULL;
		return 0;
	case TOK_NUMBER:
		return parse_number(p, v);
	case TOK_LBRACKET:
		return parse_list(p, v);
	case TOK_IDENT:
		parse_error(p, p->tok.line,
			    "bad value '%s' (strings must be in double quotes)",
			    p->tok.text);
		return -1;
	default:
		parse_error(p, p->tok.line, "missing value after '='");
		return -1;
	}
}

/* ---- keys ---- */

static const char *value_type_name(enum value_type t)
{
	switch (t) {
	case VAL_STRING:
		return "a string";
	case VAL_NUMBER:
		return "a number";
	default:
		return "a list";
	}
}

static int take_number(struct parser *p, const char *key, struct value *v,
		       uint64_t min, uint64_t max, uint64_t *out)
{
	if (v->sign) {
		parse_error(p, v->line, "bad number '%s' (expected a non-negative integer)",
			    v->str);
		return -1;
	}
	if (v->num < min || v->num > max) {
		parse_error(p, v->line, "%s out of range: %s (allowed %llu..%llu)",
			    key, v->str, (unsigned long long)min,
			    (unsigned long long)max);
		return -1;
	}
	*out = v->num;
	return 0;
}

/* A signed number within -limit..limit. */
static int take_signed(struct parser *p, const char *key, struct value *v,
		       int64_t limit, int64_t *out)
{
	if (v->num > (uint64_t)limit) {
		parse_error(p, v->line, "%s out of range: %s (allowed %lld..%lld)",
			    key, v->str, (long long)-limit, (long long)limit);
		return -1;
	}
	*out = v->negative ? -(int64_t)v->num : (int64_t)v->num;
	return 0;
}

/* 0 or 1, as xl.cfg's booleans. */
static int take_bool(struct parser *p, const char *key, struct value *v,
		     bool *out)
{
	uint64_t n;

	if (take_number(p, key, v, 0, 1, &n))
		return -1;
	*out = n;
	return 0;
}

/* Make a path absolute against the config file's directory; check it. */
static int take_file(struct parser *p, const char *key, struct value *v,
		     char **out)
{
	struct stat st;
	char *path;

	if (v->str[0] == '\0') {
		parse_error(p, v->line, "%s is empty", key);
		return -1;
	}
	if (v->str[0] == '/') {
		path = v->str;
		v->str = NULL;
	} else if (asprintf(&path, "%s/%s", p->basedir, v->str) < 0) {
		parse_error(p, v->line, "out of memory");
		return -1;
	}
	if (stat(path, &st) < 0) {
		parse_error(p, v->line, "%s '%s': %s", key, path, strerror(errno));
		free(path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		parse_error(p, v->line, "%s '%s' is not a regular file", key, path);
		free(path);
		return -1;
	}
	if (access(path, R_OK) < 0) {
		parse_error(p, v->line, "%s '%s': %s", key, path, strerror(errno));
		free(path);
		return -1;
	}
	*out = path;
	return 0;
}

static int key_name(struct parser *p, struct value *v, struct domain_config *c)
{
	if (!domain_name_valid(v->str)) {
		parse_error(p, v->line,
			    "bad name '%s' (1..%d characters from A-Z a-z 0-9 _ . -)",
			    v->str, DOMAIN_NAME_MAX);
		return -1;
	}
	strcpy(c->name, v->str);
	return 0;
}

static int key_vcpus(struct parser *p, struct value *v, struct domain_config *c)
{
	uint64_t n;

	if (take_number(p, "vcpus", v, 1, DOMAIN_VCPUS_MAX, &n))
		return -1;
	c->vcpus = (unsigned int)n;
	return 0;
}

static int key_memory(struct parser *p, struct value *v, struct domain_config *c)
{
	uint64_t n;

	if (take_number(p, "memory", v, DOMAIN_MEMORY_MIN_MIB,
			DOMAIN_MEMORY_MAX_MIB, &n))
		return -1;
	c->memory_mib = (unsigned int)n;
	return 0;
}

static int key_kernel(struct parser *p, struct value *v, struct domain_config *c)
{
	return take_file(p, "kernel", v, &c->kernel);
}

static int key_ramdisk(struct parser *p, struct value *v, struct domain_config *c)
{
	return take_file(p, "ramdisk", v, &c->ramdisk);
}

static int key_extra(struct parser *p, struct value *v, struct domain_config *c)
{
	(void)p;
	free(c->extra);
	c->extra = v->str;
	v->str = NULL;
	return 0;
}

/* One of two words: *second is whether it was the second. */
static int take_choice(struct parser *p, const char *key, struct value *v,
		       const char *first, const char *second, bool *is_second)
{
	*is_second = !strcmp(v->str, second);
	if (!*is_second && strcmp(v->str, first)) {
		parse_error(p, v->line, "bad %s '%s' (expected \"%s\" or \"%s\")",
			    key, v->str, first, second);
		return -1;
	}
	return 0;
}

static int key_accel(struct parser *p, struct value *v, struct domain_config *c)
{
	bool kvm;

	if (take_choice(p, "accel", v, "tcg", "kvm", &kvm))
		return -1;
	c->accel = kvm ? DOMAIN_ACCEL_KVM : DOMAIN_ACCEL_TCG;
	return 0;
}

static int key_tsc_stable(struct parser *p, struct value *v,
			  struct domain_config *c)
{
	bool off;

	if (take_choice(p, "tsc_stable", v, "auto", "off", &off))
		return -1;
	c->tsc_stable = off ? TSC_STABLE_OFF : TSC_STABLE_AUTO;
	return 0;
}

static int key_tcg_thread(struct parser *p, struct value *v,
			  struct domain_config *c)
{
	bool multi;

	if (take_choice(p, "tcg_thread", v, "single", "multi", &multi))
		return -1;
	c->tcg_thread = multi ? TCG_THREAD_MULTI : TCG_THREAD_SINGLE;
	p->tcg_thread_line = v->line;
	return 0;
}

static int key_dm_args(struct parser *p, struct value *v, struct domain_config *c)
{
	(void)p;
	c->dm_args = v->list;
	c->nr_dm_args = v->nr_list;
	v->list = NULL;
	v->nr_list = 0;
	return 0;
}

static int key_qemu(struct parser *p, struct value *v, struct domain_config *c)
{
	if (v->str[0] == '\0') {
		parse_error(p, v->line, "qemu is empty");
		return -1;
	}
	free(c->qemu);
	c->qemu = v->str;
	v->str = NULL;
	return 0;
}

static int key_abi_version(struct parser *p, struct value *v,
			   struct domain_config *c)
{
	uint64_t n;

	if (take_number(p, "pvtime_abi_version", v, 0, UINT32_MAX, &n))
		return -1;
	c->abi_version = (uint32_t)n;
	return 0;
}

static int key_stopped_time(struct parser *p, struct value *v,
			    struct domain_config *c)
{
	char why[160];

	if (stopped_time_policy_parse(v->str, &c->stopped_time,
				      &c->stopped_slew_ppm, why, sizeof(why))) {
		parse_error(p, v->line, "%s", why);
		return -1;
	}
	return 0;
}

static int key_clock(struct parser *p, struct value *v, struct domain_config *c)
{
	bool virtual_time;

	if (take_choice(p, "clock", v, "host", "virtual", &virtual_time))
		return -1;
	c->clock = virtual_time ? CLOCK_MODE_VIRTUAL : CLOCK_MODE_HOST;
	p->clock_line = v->line;
	return 0;
}

static int key_drift(struct parser *p, struct value *v, struct domain_config *c)
{
	char why[200];

	if (drift_policy_parse(v->str, &c->drift, why, sizeof(why))) {
		parse_error(p, v->line, "%s", why);
		return -1;
	}
	return 0;
}

static int key_time_source(struct parser *p, struct value *v,
			   struct domain_config *c)
{
	return take_bool(p, "time_source", v, &c->time_source);
}

static int key_rtc_timeoffset(struct parser *p, struct value *v,
			      struct domain_config *c)
{
	return take_signed(p, "rtc_timeoffset", v, DOMAIN_RTC_TIMEOFFSET_MAX,
			   &c->rtc_timeoffset_s);
}

static int key_localtime(struct parser *p, struct value *v,
			 struct domain_config *c)
{
	return take_bool(p, "localtime", v, &c->localtime);
}

struct config_key {
	const char *name;
	enum value_type type;
	bool required;
	int (*take)(struct parser *p, struct value *v, struct domain_config *c);
};

static const struct config_key config_keys[] = {
	{ "name", VAL_STRING, true, key_name },
	{ "vcpus", VAL_NUMBER, false, key_vcpus },
	{ "memory", VAL_NUMBER, false, key_memory },
	{ "kernel", VAL_STRING, true, key_kernel },
	{ "ramdisk", VAL_STRING, false, key_ramdisk },
	{ "extra", VAL_STRING, false, key_extra },
	{ "accel", VAL_STRING, false, key_accel },
	{ "device_model_args", VAL_LIST, false, key_dm_args },
	{ "qemu", VAL_STRING, false, key_qemu },
	{ "pvtime_abi_version", VAL_NUMBER, false, key_abi_version },
	{ "stopped_time", VAL_STRING, false, key_stopped_time },
	{ "tsc_stable", VAL_STRING, false, key_tsc_stable },
	{ "tcg_thread", VAL_STRING, false, key_tcg_thread },
	{ "time_source", VAL_NUMBER, false, key_time_source },
	{ "rtc_timeoffset", VAL_NUMBER, false, key_rtc_timeoffset },
	{ "localtime", VAL_NUMBER, false, key_localtime },
	{ "clock", VAL_STRING, false, key_clock },
	{ "drift", VAL_STRING, false, key_drift },
};

#define NR_CONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static int parse_statement(struct parser *p, struct domain_config *cfg)
{
	const struct config_key *key = NULL;
	struct value v = { 0 };
	int line = p->tok.line;
	size_t i;
	int ret = -1;

	for (i = 0; i < NR_CONFIG_KEYS; i++)
		if (!strcmp(config_keys[i].name, p->tok.text))
			key = &config_keys[i];
	if (!key) {
		parse_error(p, line, "unknown key '%s'", p->tok.text);
		return -1;
	}
	if (p->seen & (1u << (key - config_keys))) {
		parse_error(p, line, "duplicate key '%s'", key->name);
		return -1;
	}
	p->seen |= 1u << (key - config_keys);

	if (lex_next(p))
		return -1;
	if (p->tok.type != TOK_EQUALS) {
		parse_error(p, line, "expected '=' after '%s'", key->name);
		return -1;
	}
	if (parse_value(p, &v))
		goto out;
	if (v.type != key->type) {
		parse_error(p, v.line, "%s must be %s, not %s", key->name,
			    value_type_name(key->type), value_type_name(v.type));
		goto out;
	}
	if (key->take(p, &v, cfg))
		goto out;
	if (lex_next(p))
		goto out;
	if (p->tok.type != TOK_NEWLINE && p->tok.type != TOK_EOF &&
	    p->tok.type != TOK_SEMICOLON) {
		parse_error(p, p->tok.line, "unexpected text after the value of '%s'",
			    key->name);
		goto out;
	}
	ret = 0;
out:
	value_release(&v);
	return ret;
}

static void set_basedir(struct parser *p, const char *path)
{
	char copy[PATH_MAX];
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (dir[0] == '/' || getcwd(p->basedir, sizeof(p->basedir)) == NULL)
		snprintf(p->basedir, sizeof(p->basedir), "%s", dir);
	else if (strcmp(dir, ".")) {
		size_t len = strlen(p->basedir);

		snprintf(p->basedir + len, sizeof(p->basedir) - len, "/%s", dir);
	}
}

int domain_config_parse(const char *path, const char *text,
			struct domain_config *cfg, char *err, size_t errlen)
{
	struct parser p = {
		.path = path, .pos = text, .line = 1, .err = err, .errlen = errlen,
	};
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->vcpus = 1;
	cfg->memory_mib = 512;
	cfg->accel = DOMAIN_ACCEL_TCG;
	cfg->tcg_thread = TCG_THREAD_SINGLE;
	cfg->abi_version = PVTIME_ABI_VERSION;
	set_basedir(&p, path);

	while (!p.failed) {
		if (lex_next(&p))
			break;
		if (p.tok.type == TOK_EOF)
			break;
		if (p.tok.type == TOK_NEWLINE || p.tok.type == TOK_SEMICOLON)
			continue;
		if (p.tok.type != TOK_IDENT) {
			parse_error(&p, p.tok.line, "expected a key");
			break;
		}
		parse_statement(&p, cfg);
	}
	token_release(&p.tok);

	for (i = 0; i < NR_CONFIG_KEYS && !p.failed; i++)
		if (config_keys[i].required && !(p.seen & (1u << i)))
			parse_error(&p, p.line, "missing required key '%s'",
				    config_keys[i].name);
	/*
	 * A thread mode that cannot take effect is a mistake in the file, not
	 * something to drop silently: the user believes the TSC is protected.
	 */
	if (!p.failed && p.tcg_thread_line && cfg->accel != DOMAIN_ACCEL_TCG)
		parse_error(&p, p.tcg_thread_line,
			    "tcg_thread applies only to accel = \"tcg\"");
	/* Virtual time is QEMU's instruction counter: TCG, one thread. */
	if (!p.failed && cfg->clock == CLOCK_MODE_VIRTUAL &&
	    cfg->accel != DOMAIN_ACCEL_TCG)
		parse_error(&p, p.clock_line,
			    "clock = \"virtual\" needs accel = \"tcg\" (QEMU -icount counts the instructions TCG executes; KVM runs the guest natively)");
	if (!p.failed && cfg->clock == CLOCK_MODE_VIRTUAL &&
	    cfg->tcg_thread == TCG_THREAD_MULTI)
		parse_error(&p, p.clock_line,
			    "clock = \"virtual\" needs tcg_thread = \"single\" (QEMU -icount does not work with multi-threaded TCG)");
	if (!p.failed && !cfg->extra)
		cfg->extra = strdup("");
	if (!p.failed && !cfg->qemu)
		cfg->qemu = strdup(DOMAIN_DEFAULT_QEMU);
	if (!p.failed && (!cfg->extra || !cfg->qemu))
		parse_error(&p, p.line, "out of memory");
	if (p.failed) {
		domain_config_free(cfg);
		return -1;
	}
	return 0;
}

char *domain_config_read(const char *path, char *err, size_t errlen)
{
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	text = malloc(DOMAIN_CONFIG_MAX_BYTES + 1);
	if (!text) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	while ((n = read(fd, text + len, DOMAIN_CONFIG_MAX_BYTES + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > DOMAIN_CONFIG_MAX_BYTES)
			break;
	}
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else if (len > DOMAIN_CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 DOMAIN_CONFIG_MAX_BYTES);
	} else if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte (not a text file)", path);
	} else {
		text[len] = '\0';
		return text;
	}
	free(text);
	return NULL;
}

int domain_config_load(const char *path, struct domain_config *cfg,
		       char *err, size_t errlen)
{
	char *text;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	text = domain_config_read(path, err, errlen);
	if (!text)
		return -1;
	ret = domain_config_parse(path, text, cfg, err, errlen);
	free(text);
	return ret;
}

void domain_config_free(struct domain_config *cfg)
{
	size_t i;

	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->extra);
	free(cfg->qemu);
	for (i = 0; i < cfg->nr_dm_args; i++)
		free(cfg->dm_args[i]);
	free(cfg->dm_args);
	memset(cfg, 0, sizeof(*cfg));
}

int64_t domain_config_create_offset_s(const struct domain_config *cfg,
				      time_t now, int64_t *utc_offset_s)
{
	struct tm tm;

	*utc_offset_s = 0;
	if (cfg->localtime && localtime_r(&now, &tm))
		*utc_offset_s = tm.tm_gmtoff;
	return cfg->rtc_timeoffset_s + *utc_offset_s;
}

const char *tcg_thread_mode_name(enum tcg_thread_mode mode)
{
	return mode == TCG_THREAD_MULTI ? "multi" : "single";
}

const char *domain_accel_name(enum domain_accel accel)
{
	return accel == DOMAIN_ACCEL_KVM ? "kvm" : "tcg";
}

int domain_name_valid(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (len < 1 || len > DOMAIN_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return 0;
	}
	/* Names become file names in the state dir. */
	return strcmp(name, ".") && strcmp(name, "..");
}
