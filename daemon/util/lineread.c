#include "util/lineread.h"
#include <stdio.h>
#include <string.h>

int tw_line_read(FILE *fp, char *buf, size_t cap)
{
	size_t n = 0;
	int c, nul = 0;
	while ((c = getc(fp)) != EOF && c != '\n') {
		if (n + 1 >= cap) {
			buf[n] = 0;
			return TW_LINE_TOO_LONG;
		}
		nul |= c == 0;
		buf[n++] = (char)c;
	}
	buf[n] = 0;
	if (c == EOF && n == 0)
		return TW_LINE_EOF;
	return nul ? TW_LINE_NUL : TW_LINE_OK;
}

void tw_line_escape(const char *s, char *out, size_t outlen)
{
	size_t k = 0;
	if (!outlen)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p && k + 1 < outlen; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			out[k++] = (char)*p;
			continue;
		}
		if (k + 5 >= outlen)
			break;
		k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", *p);
	}
	out[k] = 0;
}
