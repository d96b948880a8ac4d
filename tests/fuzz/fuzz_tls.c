/* libFuzzer target: TLS ClientHello and first-server-record parsers.
 * Beyond "no crash", checks the truncation contract: if the whole input
 * is consistent (OK/TRUNCATED), no prefix of it may be MALFORMED/NOT_THIS. */
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

static void check_hello(const struct tw_tls_hello *h)
{
	if (!memchr(h->sni, 0, sizeof(h->sni)) || !memchr(h->alpn_first, 0, sizeof(h->alpn_first)))
		abort();
	if (h->has_sni != 0 && h->has_sni != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_tls_hello h;
	struct tw_tls_server s;

	enum tw_parse_rc rc = tw_parse_tls_client_hello(data, size, &h);
	if (rc > TW_PAYLOAD_NOT_THIS)
		abort();
	check_hello(&h);
	if (size > 0 && (rc == TW_PAYLOAD_OK || rc == TW_PAYLOAD_TRUNCATED)) {
		/* exact-size copy so ASan sees reads past the cut */
		size_t cut = (data[size - 1] * 7u + size / 3) % size;
		uint8_t *c = malloc(cut ? cut : 1);
		memcpy(c, data, cut);
		enum tw_parse_rc rc2 = tw_parse_tls_client_hello(c, cut, &h);
		free(c);
		if (rc2 == TW_PAYLOAD_MALFORMED || rc2 == TW_PAYLOAD_NOT_THIS)
			abort();
		check_hello(&h);
	}
	rc = tw_parse_tls_server_first(data, size, &s);
	if (rc > TW_PAYLOAD_NOT_THIS)
		abort();
	if (s.is_alert && s.is_server_hello)
		abort();
	return 0;
}
