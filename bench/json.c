// SPDX-License-Identifier: GPL-2.0
/*
 * json.c - the JSON writer of ksm_bench.
 *
 * Each workload's result is one JSON object, built in memory and then
 * written as one line to json_out (--out), or to stdout without it;
 * tools/bench-report.py reads the lines.  Numbers that are not finite are
 * written as null.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>

#include "ksm_bench.h"

FILE *json_out;

void json_put(struct json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf");
		if (j->len + n < j->cap)
			break;
		j->cap = 2 * (j->cap + n);
		j->buf = realloc(j->buf, j->cap);
		if (!j->buf)
			die("realloc");
	}
	j->len += n;
}

/* The comma before a member or element, and the key of a member. */
void json_sep(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		json_put(j, ",");
	j->first[j->depth] = false;
	if (key)
		json_put(j, "\"%s\":", key);
}

void json_open(struct json *j, const char *key, char bracket)
{
	if (j->depth >= (int)ARRAY_SIZE(j->first) - 1)
		die("json nesting");
	if (j->depth >= 0)
		json_sep(j, key);
	json_put(j, "%c", bracket);
	j->first[++j->depth] = true;
}

void json_close(struct json *j, char bracket)
{
	json_put(j, "%c", bracket);
	j->depth--;
}

void json_begin(struct json *j)
{
	j->len = 0;
	j->depth = -1;
	json_open(j, NULL, '{');
}

void json_num(struct json *j, const char *key, double v)
{
	json_sep(j, key);
	if (isfinite(v))
		json_put(j, "%.9g", v);
	else
		json_put(j, "null");
}

void json_int(struct json *j, const char *key, long long v)
{
	json_sep(j, key);
	json_put(j, "%lld", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_sep(j, key);
	json_put(j, v ? "true" : "false");
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_sep(j, key);
	json_put(j, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			json_put(j, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			json_put(j, "\\u%04x", *s);
		else
			json_put(j, "%c", *s);
	}
	json_put(j, "\"");
}

/* Close the object and write it out, one line. */
void json_emit(struct json *j)
{
	json_close(j, '}');
	json_put(j, "\n");
	fwrite(j->buf, 1, j->len, json_out ? json_out : stdout);
	fflush(json_out ? json_out : stdout);
}
