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
	char alpn[128];          /* every ALPN protocol, comma-separated; ',' inside one is escaped */
	int alpn_cut;            /* alpn did not hold the whole list */
	int n_extensions;        /* extensions fully seen */
	int n_records;           /* TLS records the hello spans (so far) */
};

/* Parse a client's first payload.  The ClientHello may span several
 * handshake records; one cut by the snippet (even before the SNI, which
 * modern clients may put after a >1 KiB key_share) is TRUNCATED. */
enum tw_parse_rc tw_parse_tls_client_hello(const uint8_t *p, size_t len, struct tw_tls_hello *out);
/* The same on a bare handshake message (no record layer), as QUIC's CRYPTO
 * frames carry it: record_version and n_records stay 0. */
enum tw_parse_rc tw_parse_tls_client_hello_msg(const uint8_t *b, size_t len, struct tw_tls_hello *out);

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

/* ---- QUIC --------------------------------------------------------------- */

#define TW_QUIC_V1 0x00000001u
#define TW_QUIC_V2 0x6b3343cfu
#define TW_QUIC_DRAFT29 0xff00001du
#define TW_QUIC_CID_MAX 20       /* v1/v2/draft-29 connection IDs */
#define TW_QUIC_VN_MAX 8         /* versions kept from a version negotiation */
#define TW_QUIC_CRYPTO_MAX 4096  /* CRYPTO stream bytes reassembled from offset 0 */
#define TW_QUIC_PACKET_MAX 16384 /* protected payload bytes decrypted at most */

enum tw_quic_status {
	TW_QUIC_OK = 0,             /* ClientHello complete in the CRYPTO data */
	TW_QUIC_TRUNCATED = 1,      /* consistent, but the bytes end before the ClientHello (or header) does */
	TW_QUIC_MALFORMED = 2,      /* contradicts the protocol */
	TW_QUIC_SHORT_HEADER = 3,   /* no long header: 1-RTT, a stateless reset, or not QUIC; not parsed */
	TW_QUIC_VERSION_NEG = 4,    /* version negotiation (version 0): versions[] filled */
	TW_QUIC_BAD_VERSION = 5,    /* long header of a version we have no keys for */
	TW_QUIC_NOT_INITIAL = 6,    /* 0-RTT, Handshake or Retry */
	TW_QUIC_DECRYPT_FAILED = 7, /* whole packet present but the AEAD tag is wrong: not a client Initial */
};

/* Long-header packet types, in v1 numbering whatever the version. */
enum { TW_QUIC_PT_INITIAL = 0, TW_QUIC_PT_0RTT = 1, TW_QUIC_PT_HANDSHAKE = 2, TW_QUIC_PT_RETRY = 3 };

struct tw_quic_keys {
	uint8_t key[16], iv[12], hp[16];
};

struct tw_quic_initial {
	enum tw_quic_status status;
	uint32_t version;
	uint8_t first_byte; /* header protection removed when decrypted */
	uint8_t type;       /* TW_QUIC_PT_* */
	uint8_t dcid_len, scid_len;
	uint8_t dcid[TW_QUIC_CID_MAX], scid[TW_QUIC_CID_MAX];
	uint64_t token_len;
	uint64_t length;   /* the Length field: packet number + payload + tag */
	size_t packet_len; /* bytes of this packet in the datagram (coalesced ones follow) */
	uint32_t pn;       /* packet number as sent */
	uint8_t pn_len;
	int authenticated;                 /* 1: AES-GCM tag verified on the whole packet; 0: read without it */
	int n_frames;                      /* frames walked */
	uint8_t stop_frame;                /* type of the unknown frame that stopped the walk, 0 if none */
	uint32_t versions[TW_QUIC_VN_MAX]; /* version negotiation: first versions listed */
	int n_versions;                    /* ... and how many it lists in all */
	size_t crypto_len;                 /* contiguous CRYPTO bytes from offset 0 in crypto[] */
	uint8_t crypto[TW_QUIC_CRYPTO_MAX];
	enum tw_parse_rc tls_rc;   /* tw_parse_tls_client_hello on crypto[] */
	struct tw_tls_hello hello; /* SNI and ALPN */
};

static inline const char *tw_quic_status_str(enum tw_quic_status st)
{
	switch (st) {
	case TW_QUIC_OK: return "ok";
	case TW_QUIC_TRUNCATED: return "truncated";
	case TW_QUIC_MALFORMED: return "malformed";
	case TW_QUIC_SHORT_HEADER: return "short_header";
	case TW_QUIC_VERSION_NEG: return "version_negotiation";
	case TW_QUIC_BAD_VERSION: return "bad_version";
	case TW_QUIC_NOT_INITIAL: return "not_initial";
	case TW_QUIC_DECRYPT_FAILED: return "decrypt_failed";
	}
	return "?";
}

/* Client Initial keys for a version, from the client's first Destination
 * Connection ID (RFC 9001 5.2, RFC 9369 3.3).  0, or -1 for an unknown
 * version or a libcrypto failure. */
int tw_quic_client_initial_keys(uint32_t version, const uint8_t *dcid, size_t dcid_len, struct tw_quic_keys *k);

/* Parse the first QUIC packet of a UDP payload and, when it is a client
 * Initial, decrypt it and parse its ClientHello.  p holds len bytes of a
 * datagram of wire_len bytes (a snippet may hold only its head; wire_len <
 * len is taken as len).  Out is zeroed and filled as far as parsing got;
 * out->status is returned.  See proto_quic.c for the unauthenticated read
 * of a packet cut by the snippet. */
enum tw_quic_status tw_parse_quic_initial(const uint8_t *p, size_t len, size_t wire_len, struct tw_quic_initial *out);

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
/* The same but for the title, left "" (the body is not searched): the
 * pipeline decodes so, and the event writer, the one reader of a title,
 * takes it with tw_http_title when it writes the line. */
enum tw_parse_rc tw_parse_http_response_head(const uint8_t *p, size_t len, struct tw_http_resp *out);
/* The first <title> of a body (from body_off), as tw_parse_http_response
 * fills title. */
void tw_http_title(const uint8_t *body, size_t n, char *out, size_t outsz);
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
#define TW_DNS_HTTPS 65 /* RFC 9460 */
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
	int h3;                /* an HTTPS record (answers, class IN, ServiceMode) whose alpn lists "h3" */
	uint32_t h3_ttl;       /* the smallest TTL of those records */
	int https_bad;         /* HTTPS records whose RDATA is broken (skipped; the message parses on) */
	size_t trailing;       /* bytes after the last section */
};

/* Whole UDP DNS message.  Only the first question is stored; all sections
 * are walked so that a cut anywhere gives TRUNCATED.  Compression pointers
 * are followed with a hop limit; names longer than 255 octets, reserved
 * label types and pointer loops are MALFORMED.  answers[] is the one
 * exception to "zeroes *out first": its entries below n_answers are written
 * whole, the others hold whatever they held (8 KiB not cleared per message). */
enum tw_parse_rc tw_parse_dns(const uint8_t *p, size_t len, struct tw_dns_msg *out);

#endif
