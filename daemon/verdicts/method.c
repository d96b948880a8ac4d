#include "verdicts/method.h"
#include <string.h>

static const struct tw_method_info methods[TW_METHOD_MAX] = {
	[TW_METHOD_RST_INJECTION] = { "rst_injection", 2001, 1, TW_MCLASS_INJECTION, 1, 1 },
	[TW_METHOD_HTTP_BLOCKPAGE] = { "http_blockpage", 2002, 1, TW_MCLASS_INJECTION, 1, 1 },
	[TW_METHOD_DNS_INJECTION] = { "dns_injection", 2003, 1, TW_MCLASS_INJECTION, 1, 1 },
	[TW_METHOD_TLS_INTERFERENCE] = { "tls_interference", 2004, 1, TW_MCLASS_INJECTION, 1, 1 },
	[TW_METHOD_BLACKHOLE] = { "blackhole", 2005, 2, TW_MCLASS_SILENCE, 1, 1 },
	[TW_METHOD_THROTTLING] = { "throttling", 2006, 1, TW_MCLASS_RATE, 1, 1 },
	[TW_METHOD_SHUTDOWN] = { "shutdown", 0, 0, TW_MCLASS_OUTAGE, 0, 1 },
	[TW_METHOD_HTTP_INJECTION] = { "http_injection", 2008, 1, TW_MCLASS_INJECTION, 1, 0 },
	/* an unanswered Initial ("INITIAL->timeout") is judged as silence by its
	 * signature (aggregate.c); forged answers are injection */
	[TW_METHOD_QUIC_INTERFERENCE] = { "quic_interference", 2009, 1, TW_MCLASS_INJECTION, 1, 1 },
};

const struct tw_method_info *tw_method(int m)
{
	return m > TW_METHOD_NONE && m < TW_METHOD_MAX && methods[m].name ? &methods[m] : NULL;
}

const char *tw_method_name(int m)
{
	const struct tw_method_info *i = tw_method(m);
	return i ? i->name : NULL;
}

enum tw_method tw_method_by_name(const char *name)
{
	for (int m = TW_METHOD_NONE + 1; name && m < TW_METHOD_MAX; m++)
		if (methods[m].name && !strcmp(name, methods[m].name))
			return (enum tw_method)m;
	return TW_METHOD_NONE;
}
