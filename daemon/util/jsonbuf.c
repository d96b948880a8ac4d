#include "util/jsonbuf.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

void tw_jb_init(struct tw_jb *b, char *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->overflow = cap < 2;
	b->need_comma = 0;
	if (cap)
		buf[0] = 0;
}

static void put(struct tw_jb *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (b->len + n + 2 > b->cap) { /* keep room for "\n\0" */
		b->overflow = 1;
		return;
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = 0;
}

void tw_jb_raw(struct tw_jb *b, const char *s)
{
	put(b, s, strlen(s));
}

static void put_escaped(struct tw_jb *b, const char *s, size_t n)
{
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		size_t run = i;
		/* a run of bytes that need no escaping goes in one copy */
		while (run < n && (unsigned char)s[run] >= 0x20 && (unsigned char)s[run] < 0x7f && s[run] != '"' &&
		       s[run] != '\\')
			run++;
		if (run > i) {
			put(b, s + i, run - i);
			i = run - 1;
			continue;
		}
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			put(b, tmp, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			/* non-ASCII bytes are escaped one by one: the output stays
			 * valid JSON whatever a hostile payload holds */
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			put(b, tmp, 6);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
	put(b, "\"", 1);
}

static void key(struct tw_jb *b, const char *k)
{
	if (b->need_comma)
		put(b, ",", 1);
	b->need_comma = 1;
	if (k) {
		/* keys are our own ASCII constants: no escaping needed */
		size_t n = strlen(k);
		put(b, "\"", 1);
		put(b, k, n);
		put(b, "\":", 2);
	}
}

void tw_jb_obj_open(struct tw_jb *b, const char *k)
{
	if (b->len == 0 && !k) {
		put(b, "{", 1);
		b->need_comma = 0;
		return;
	}
	key(b, k);
	put(b, "{", 1);
	b->need_comma = 0;
}

void tw_jb_obj_close(struct tw_jb *b)
{
	put(b, "}", 1);
	b->need_comma = 1;
}

void tw_jb_arr_open(struct tw_jb *b, const char *k)
{
	key(b, k);
	put(b, "[", 1);
	b->need_comma = 0;
}

void tw_jb_arr_close(struct tw_jb *b)
{
	put(b, "]", 1);
	b->need_comma = 1;
}

void tw_jb_str(struct tw_jb *b, const char *k, const char *v)
{
	if (!v) {
		tw_jb_null(b, k);
		return;
	}
	key(b, k);
	put_escaped(b, v, strlen(v));
}

void tw_jb_strn(struct tw_jb *b, const char *k, const char *v, size_t n)
{
	key(b, k);
	put_escaped(b, v, strnlen(v, n));
}

void tw_jb_u64(struct tw_jb *b, const char *k, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	key(b, k);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(b, tmp + i, sizeof(tmp) - i);
}

void tw_jb_i64(struct tw_jb *b, const char *k, int64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	key(b, k);
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	put(b, tmp + i, sizeof(tmp) - i);
}

void tw_jb_bool(struct tw_jb *b, const char *k, int v)
{
	key(b, k);
	tw_jb_raw(b, v ? "true" : "false");
}

void tw_jb_dbl(struct tw_jb *b, const char *k, double v, int decimals)
{
	char tmp[64];
	key(b, k);
	if (v != v) { /* NaN has no JSON form */
		tw_jb_raw(b, "null");
		return;
	}
	int n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
	put(b, tmp, n > 0 && (size_t)n < sizeof(tmp) ? (size_t)n : 0);
}

void tw_jb_null(struct tw_jb *b, const char *k)
{
	key(b, k);
	tw_jb_raw(b, "null");
}

void tw_jb_base64(struct tw_jb *b, const char *k, const uint8_t *p, size_t n)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[4];
	key(b, k);
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[0] = tbl[(v >> 18) & 63];
		out[1] = tbl[(v >> 12) & 63];
		out[2] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
		out[3] = i + 2 < n ? tbl[v & 63] : '=';
		put(b, out, 4);
	}
	put(b, "\"", 1);
}

void tw_jb_time(struct tw_jb *b, const char *k, uint64_t ns)
{
	/* the date part changes once a second: format it once */
	static __thread time_t cached_secs = -1;
	static __thread char date[40];
	char tmp[64];
	time_t secs = (time_t)(ns / 1000000000ull);
	if (secs != cached_secs) {
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_secs = secs;
	}
	unsigned us = (unsigned)((ns / 1000ull) % 1000000ull);
	size_t n = strlen(date);
	memcpy(tmp, date, n);
	tmp[n++] = '.';
	for (int i = 5; i >= 0; i--, us /= 10)
		tmp[n + (size_t)i] = (char)('0' + us % 10);
	n += 6;
	memcpy(tmp + n, "+0000", 6);
	key(b, k);
	put(b, "\"", 1);
	put(b, tmp, n + 5);
	put(b, "\"", 1);
}

long tw_jb_end(struct tw_jb *b)
{
	if (b->overflow)
		return -1;
	b->buf[b->len++] = '\n';
	b->buf[b->len] = 0;
	return (long)b->len;
}

void tw_time_format(char *out, size_t cap, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char date[32];
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%.20s.%06u+0000", date, (unsigned)((ns / 1000ull) % 1000000ull));
}
