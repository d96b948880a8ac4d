/* libFuzzer target: where a response sends the client (chunked and
 * gzip/deflate bodies decoded): no read past the input, well-formed
 * strings, a query offset inside the url. */
#include <stdlib.h>
#include <string.h>

#include "events/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_http_redirect r;
	int got = tw_http_redirect(data, size, &r);
	if (!memchr(r.url, 0, sizeof(r.url)) || !memchr(r.host, 0, sizeof(r.host)))
		abort();
	if (got && (r.via == TW_REDIR_NONE || r.query_off > strlen(r.url)))
		abort();
	if (!got && (r.url[0] || r.via))
		abort();
	return 0;
}
