/* libFuzzer target: DNS message parser, with the truncation contract
 * checked on a prefix (see fuzz_tls.c). */
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

static struct tw_dns_msg m; /* ~8 KiB: keep off the stack */

static void check(void)
{
	if (m.n_answers < 0 || m.n_answers > TW_DNS_MAX_ANS || !memchr(m.qname, 0, sizeof(m.qname)))
		abort();
	for (int i = 0; i < m.n_answers; i++)
		if (!memchr(m.answers[i].name, 0, TW_NAME_MAX) || !memchr(m.answers[i].cname, 0, TW_NAME_MAX))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum tw_parse_rc rc = tw_parse_dns(data, size, &m);
	if (rc > TW_PAYLOAD_NOT_THIS)
		abort();
	check();
	if (size > 0 && (rc == TW_PAYLOAD_OK || rc == TW_PAYLOAD_TRUNCATED)) {
		size_t cut = (data[size - 1] * 11u + size / 2) % size;
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, data, cut);
		enum tw_parse_rc rc2 = tw_parse_dns(c, cut, &m);
		free(c);
		if (rc2 != TW_PAYLOAD_TRUNCATED && rc2 != TW_PAYLOAD_OK)
			abort();
		check();
	}
	return 0;
}
