/* libFuzzer target: HTTP request and response head parsers, with the
 * truncation contract checked on a prefix (see fuzz_tls.c). */
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

static int terminated(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_http_req q;
	struct tw_http_resp r;
	size_t cut = size ? (data[0] * 13u + size) % size : 0;
	uint8_t *c = malloc(cut ? cut : 1);
	memcpy(c, data, cut);

	enum tw_parse_rc rc = tw_parse_http_request(data, size, &q);
	if (rc > TW_PAYLOAD_NOT_THIS || !terminated(q.method, sizeof(q.method)) ||
	    !terminated(q.host, sizeof(q.host)) || !terminated(q.path, sizeof(q.path)))
		abort();
	if (rc == TW_PAYLOAD_OK || rc == TW_PAYLOAD_TRUNCATED) {
		enum tw_parse_rc rc2 = tw_parse_http_request(c, cut, &q);
		if (rc2 == TW_PAYLOAD_MALFORMED || rc2 == TW_PAYLOAD_NOT_THIS)
			abort();
	}

	rc = tw_parse_http_response(data, size, &r);
	if (rc > TW_PAYLOAD_NOT_THIS || !terminated(r.reason, sizeof(r.reason)) ||
	    !terminated(r.title, sizeof(r.title)) || !terminated(r.location, sizeof(r.location)) ||
	    !terminated(r.server, sizeof(r.server)))
		abort();
	if (r.headers_complete && r.body_off > size)
		abort();
	if (rc == TW_PAYLOAD_OK || rc == TW_PAYLOAD_TRUNCATED) {
		enum tw_parse_rc rc2 = tw_parse_http_response(c, cut, &r);
		if (rc2 == TW_PAYLOAD_MALFORMED || rc2 == TW_PAYLOAD_NOT_THIS)
			abort();
	}
	free(c);
	return 0;
}
