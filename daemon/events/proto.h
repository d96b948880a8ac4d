/* Payload parsers for flow snippets captured by the kernel side.
 *
 * Snippets are hostile and may be cut at any byte.  Every parser:
 *   - never reads p[len] or beyond, bounds every loop by len;
 *   - returns TW_PAYLOAD_TRUNCATED when the bytes present are consistent but
 *     end before the message does, TW_PAYLOAD_MALFORMED when they contradict
 *     the protocol, TW_PAYLOAD_NOT_THIS when the bytes are not this protocol;
 *   - zeroes *out first and fills it as far as parsing got, so a TRUNCATED
 *     result still carries every field seen before the cut.
 *
 * Names (SNI, Host:, DNS names) are NUL-terminated, lower-cased and
 * ESCAPED: every byte outside [a-z0-9._*-] (after lower-casing) becomes
 * "%hh" (two lower-case hex digits), including '%' itself and, in DNS
 * names, a '.' inside a label.  So the output alphabet is [a-z0-9._*%-] and
 * escaping is reversible.  A name whose escaped form does not fit in
 * TW_NAME_MAX-1 bytes is cut at an escape boundary and the parser's
 * *_cut / name_cut flag is set.
 */
#ifndef TW_PROTO_H
#define TW_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Named TW_PAYLOAD_* to stay apart from <tamperwatch/parse.h>'s packet parse results. */
enum tw_parse_rc {
	TW_PAYLOAD_OK = 0,
	TW_PAYLOAD_TRUNCATED = 1,
	TW_PAYLOAD_MALFORMED = 2,
	TW_PAYLOAD_NOT_THIS = 3, /* not this protocol */
};

#define TW_NAME_MAX 256

/* Helpers are inline so that each proto_*.c stays self-contained. */
static inline const char *tw_parse_rc_str(enum tw_parse_rc rc)
{
	switch (rc) {
	case TW_PAYLOAD_OK: return "ok";
	case TW_PAYLOAD_TRUNCATED: return "truncated";
	case TW_PAYLOAD_MALFORMED: return "malformed";
	case TW_PAYLOAD_NOT_THIS: return "not_this";
	}
	return "?";
}

/* Escape name bytes into out (outsz >= 1) as described above; '.' is kept
 * only if dot_ok.  Returns the output length; sets *cut (if non-NULL) when
 * the input did not fit. */
static inline size_t tw_name_escape_ex(const uint8_t *in, size_t inlen, int dot_ok, char *out, size_t outsz, int *cut)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		uint8_t c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c + 32);
		int plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*' ||
		            (c == '.' && dot_ok);
		size_t need = plain ? 1 : 3;
		if (o + need >= outsz) {
			if (cut)
				*cut = 1;
			break;
		}
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outsz)
		out[o < outsz ? o : outsz - 1] = '\0';
	return o;
}

static inline size_t tw_name_escape(const uint8_t *in, size_t inlen, char *out, size_t outsz, int *cut)
{
	return tw_name_escape_ex(in, inlen, 1, out, outsz, cut);
}

/* ---- TLS ---------------------------------------------------------------- */

struct tw_tls_hello {
	char sni[TW_NAME_MAX]; /* first host_name entry of server_name */
	int has_sni;
	int sni_cut;             /* sni did not fit TW_NAME_MAX-1 after escaping */
	int has_ech;             /* encrypted_client_hello 0xfe0d */
	int has_esni;            /* draft encrypted_server_name 0xffce */
	uint16_t legacy_version; /* ClientHello.legacy_version */
	uint16_t record_version; /* first record header version */
	char alpn_first[32];     /* first ALPN protocol, escaped like names */
	int n_extensions;        /* extensions fully seen */
	int n_records;           /* TLS records the hello spans (so far) */
};

/* Parse a client's first payload.  The ClientHello may span several
 * handshake records; one cut by the snippet (even before the SNI, which
 * modern clients may put after a >1 KiB key_share) is TRUNCATED. */
enum tw_parse_rc tw_parse_tls_client_hello(const uint8_t *p, size_t len, struct tw_tls_hello *out);

#define TW_TLS_CT_CCS 20
#define TW_TLS_CT_ALERT 21
#define TW_TLS_CT_HANDSHAKE 22
#define TW_TLS_CT_APPDATA 23

/* Server's first payload.  OK for any well-formed TLS record header with
 * content type 20..24; is_alert/is_server_hello say which of the two
 * interesting cases it is.  NOT_THIS when it is not TLS at all (e.g. an
 * injected HTTP block page on port 443: try tw_parse_http_response). */
struct tw_tls_server {
	int is_alert;
	uint8_t alert_level, alert_desc;
	int is_server_hello;
	int is_hello_retry;  /* ServerHello carrying the HRR magic random */
	uint8_t record_type; /* content type of the first record */
	uint16_t record_version;
	uint16_t server_version; /* ServerHello.legacy_version */
	uint16_t cipher_suite;   /* ServerHello.cipher_suite */
};
enum tw_parse_rc tw_parse_tls_server_first(const uint8_t *p, size_t len, struct tw_tls_server *out);

/* ---- HTTP --------------------------------------------------------------- */

struct tw_http_req {
	char method[16];
	char host[TW_NAME_MAX]; /* port stripped; IPv6 literal without [] */
	char path[256];         /* request-target, truncated ones end in "..." */
	int host_from_target;   /* host taken from an absolute-form target */
	int host_cut;
	int http_minor; /* 0 or 1 for HTTP/1.x, -1 for HTTP/0.9 style */
	int headers_complete;
};
/* OK once the header block is complete; TRUNCATED before that (host and
 * path are filled if seen).  Lines without a colon are ignored. */
enum tw_parse_rc tw_parse_http_request(const uint8_t *p, size_t len, struct tw_http_req *out);

/* Text fields below are printable ASCII (other bytes become '?'); title
 * keeps valid UTF-8 since block pages are often localised. */
struct tw_http_resp {
	int status;
	int http_minor;
	char reason[64];
	char title[128]; /* first <title>, whitespace collapsed, trimmed */
	char location[256];
	char server[64];
	long content_length; /* -1 unknown or invalid */
	int connection_close;
	int content_encoding; /* TW_HTTP_CE_*: the first Content-Encoding coding */
	int chunked;          /* Transfer-Encoding ends in chunked */
	size_t body_off;      /* offset of body in p, if headers complete */
	int headers_complete;
	int n_headers;
	int n_bad_lines; /* header lines without ':' (ignored) */
};
enum tw_parse_rc tw_parse_http_response(const uint8_t *p, size_t len, struct tw_http_resp *out);
#define TW_HTTP_CE_NONE 0
#define TW_HTTP_CE_GZIP 1
#define TW_HTTP_CE_DEFLATE 2
#define TW_HTTP_CE_OTHER 3

/* Where a response sends the client (proto_redirect.c): the Location of a
 * 3xx, or the url of a <meta http-equiv="refresh"> among the first
 * TW_REDIR_BODY_MAX bytes of the body, after undoing chunked transfer
 * coding and gzip/deflate (both bounded: hostile lengths and streams stop
 * the decoding, never the caller).  Returns 1 and fills *out when there is
 * a target, 0 when there is none (or the bytes are not an HTTP response). */
#define TW_REDIR_BODY_MAX 4096
enum { TW_REDIR_NONE = 0, TW_REDIR_LOCATION = 1, TW_REDIR_META_REFRESH = 2 };
struct tw_http_redirect {
	int via; /* TW_REDIR_* */
	int status;
	int body_decoded;       /* the url came from a decompressed body */
	char url[512];          /* printable ASCII (others '?'), cut ones end in "..." */
	char host[TW_NAME_MAX]; /* its host, escaped like names, port dropped; "" if relative */
	size_t query_off;       /* offset of the '?' in url, or strlen(url) if none */
};
int tw_http_redirect(const uint8_t *p, size_t len, struct tw_http_redirect *out);

/* ---- DNS ---------------------------------------------------------------- */

#define TW_DNS_MAX_ANS 16
#define TW_DNS_A 1
#define TW_DNS_CNAME 5
#define TW_DNS_AAAA 28
#define TW_DNS_RCODE_NXDOMAIN 3

struct tw_dns_answer {
	uint16_t type;
	uint32_t ttl;
	uint8_t family; /* 4 or 6 for A/AAAA, 0 else */
	uint8_t addr[16];
	char cname[TW_NAME_MAX];
	char name[TW_NAME_MAX]; /* owner name, to follow CNAME chains */
};

struct tw_dns_msg {
	uint16_t id;
	int is_response;
	uint8_t rcode;
	uint8_t opcode;
	int aa, tc, rd, ra;
	uint16_t qdcount, ancount, nscount, arcount;
	char qname[TW_NAME_MAX]; /* root is "." */
	uint16_t qtype, qclass;
	int n_answers; /* A, AAAA, CNAME records of class IN in answers[] */
	struct tw_dns_answer answers[TW_DNS_MAX_ANS];
	int answers_truncated; /* more than TW_DNS_MAX_ANS such records */
	int name_cut;          /* some name was cut to fit TW_NAME_MAX */
	size_t trailing;       /* bytes after the last section */
};

/* Whole UDP DNS message.  Only the first question is stored; all sections
 * are walked so that a cut anywhere gives TRUNCATED.  Compression pointers
 * are followed with a hop limit; names longer than 255 octets, reserved
 * label types and pointer loops are MALFORMED. */
enum tw_parse_rc tw_parse_dns(const uint8_t *p, size_t len, struct tw_dns_msg *out);

#endif
