#include "util/textbuf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tw_tb_add(struct tw_tb *b, const void *p, size_t n)
{
	if (b->fail || (b->max && n > b->max - b->n)) {
		b->fail = 1;
		return -1;
	}
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->n + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->fail = 1;
			return -1;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
	return 0;
}

int tw_tb_str(struct tw_tb *b, const char *s)
{
	return tw_tb_add(b, s, strlen(s));
}

void tw_tb_printf(struct tw_tb *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->fail = 1;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		tw_tb_add(b, tmp, (size_t)n);
		return;
	}
	/* longer than the stack buffer: format again into one that fits,
	 * never cut the text short */
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->fail = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	tw_tb_add(b, big, (size_t)n);
	free(big);
}
