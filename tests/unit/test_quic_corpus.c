/* The QUIC Initial parser on the GFW QUIC-SNI captures of the corpus
 * (gfw-report__usenixsecurity25-quic-sni, SOURCES.md): every capture is
 * read with capture/pcap_in.c, every UDP payload handed to
 * tw_parse_quic_initial, whole and cut as a QUIC client's first-payload
 * event holds it (TW_SNIPPET_QUIC_MAX); and cut to the ordinary
 * TW_SNIPPET_MAX, which these clients' Initials (PADDING first, CRYPTO
 * last) do not fit: the reason for the larger bound.  Expected per capture: how many client Initials there
 * are and their SNI.  SOURCES.md names the SNI of the ttl-location probes
 * (google.com); the others (google.com for the attacker's spoofed
 * trigger, http3check.net for the victim) and the Initial counts were
 * read independently with tshark's QUIC dissector (-d udp.port==53,quic
 * for the probes sent to port 53).  The DNS-only captures must give no
 * Initial at all out of thousands of DNS queries.
 * Run from the repo root; corpus at ${TW_CORPUS:-../shared/corpus}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capture/pcap_in.h"
#include "events/proto.h"
#include <tamperwatch/event.h>
#include <tamperwatch/parse.h>

#include "check.h"

#define DIR "gfw-report__usenixsecurity25-quic-sni/experiments/"

struct expect {
	const char *path;
	int initials;       /* client Initials, all decrypting with the SNI below */
	int in_1024;        /* of them, SNI readable from the first TW_SNIPPET_MAX bytes */
	const char *sni[2]; /* the SNIs, each seen at least once */
};

static const struct expect captures[] = {
	{ DIR "availability-attack/pcap/quic_attacker_client_anon.pcap", 16, 0, { "google.com" } },
	{ DIR "availability-attack/pcap/quic_server_anon.pcap", 12, 0, { "http3check.net", "google.com" } },
	{ DIR "availability-attack/pcap/quic_victim_client_anon.pcap", 42, 0, { "http3check.net" } },
	{ DIR "availability-attack/pcap/dns_attacker_client_anon.pcap", 2, 0, { "google.com" } },
	{ DIR "availability-attack/pcap/dns_server_anon.pcap", 2, 0, { "google.com" } },
	{ DIR "availability-attack/pcap/dns_victim_client_anon.pcap", 0, 0, { NULL } },
	{ DIR "availability-attack/data/ec2/01_22_25/server_pre_anon.pcap", 0, 0, { NULL } },
	{ DIR "availability-attack/data/ec2/01_22_25/server_during_anon.pcap", 0, 0, { NULL } },
	{ DIR "flow-tracking-time/flow-tracking-time.pcap", 10, 0, { "google.com" } },
	{ DIR "ttl-location/data/QUIC/beijing-ttl_anon.pcap", 18, 18, { "google.com" } },
	{ DIR "ttl-location/data/QUIC/guangzhou-ttl_anon.pcap", 18, 18, { "google.com" } },
	{ DIR "ttl-location/data/QUIC/shanghai-ttl_anon.pcap", 90, 90, { "google.com" } },
};

static struct tw_quic_initial q;

static void one(const char *corpus, const struct expect *x)
{
	char path[1024], err[256];
	struct tw_pcap_in *in;
	struct tw_frame fr;
	int initials = 0, snippet_ok = 0, in_1024 = 0, authenticated = 0, wrong = 0, seen[2] = { 0, 0 }, rc;
	unsigned long udp = 0;

	snprintf(path, sizeof(path), "%s/%s", corpus, x->path);
	if (tw_pcap_open(&in, path, err, sizeof(err))) {
		CHECK(0, "%s", err);
		return;
	}
	while ((rc = tw_pcap_next(in, &fr, err, sizeof(err))) == 1) {
		struct tw_pkt p;
		memset(&p, 0, sizeof(p));
		if (tw_parse(fr.data, fr.data + fr.caplen, &p) != TW_PARSE_OK || p.proto != TW_PROTO_UDP ||
		    p.payload_off > fr.caplen)
			continue;
		udp++;
		size_t have = fr.caplen - p.payload_off;
		if (have > p.payload_len)
			have = p.payload_len;
		const uint8_t *pl = fr.data + p.payload_off;
		enum tw_quic_status st = tw_parse_quic_initial(pl, have, p.payload_len, &q);
		if (st != TW_QUIC_OK && st != TW_QUIC_TRUNCATED)
			continue; /* DNS, "Hello World!", other UDP */
		initials++;
		authenticated += q.authenticated;
		int known = 0;
		for (int i = 0; i < 2; i++)
			if (x->sni[i] && strcmp(q.hello.sni, x->sni[i]) == 0)
				seen[i]++, known = 1;
		if (st != TW_QUIC_OK || !known || strcmp(q.hello.alpn, "h3") != 0 || q.version != TW_QUIC_V1) {
			if (wrong++ < 3)
				printf("     %s: %s sni '%s' alpn '%s' version %08x\n", x->path, tw_quic_status_str(st),
				       q.hello.sni, q.hello.alpn, q.version);
		}
		/* the same datagram as a QUIC client's first-payload event holds
		 * it: whole, so authenticated */
		char sni[TW_NAME_MAX];
		snprintf(sni, sizeof(sni), "%s", q.hello.sni);
		size_t cut = have < TW_SNIPPET_QUIC_MAX ? have : TW_SNIPPET_QUIC_MAX;
		st = tw_parse_quic_initial(pl, cut, p.payload_len, &q);
		snippet_ok += st == TW_QUIC_OK && strcmp(q.hello.sni, sni) == 0 && q.authenticated;
		/* ... and as the ordinary bound would: these clients put the
		 * PADDING before the CRYPTO frame, the SNI comes after byte 1024 */
		cut = have < TW_SNIPPET_MAX ? have : TW_SNIPPET_MAX;
		tw_parse_quic_initial(pl, cut, p.payload_len, &q);
		in_1024 += strcmp(q.hello.sni, sni) == 0;
	}
	CHECK(rc == 0, "%s", err);
	tw_pcap_close(in);
	CHECK(initials == x->initials && authenticated == initials && wrong == 0,
	      "%s: %d Initials (want %d), %d authenticated, %d with another status/SNI/ALPN/version", x->path, initials,
	      x->initials, authenticated, wrong);
	CHECK(snippet_ok == initials, "%s: %d of %d Initials read the same from a %d-byte snippet", x->path, snippet_ok,
	      initials, TW_SNIPPET_QUIC_MAX);
	CHECK(in_1024 == x->in_1024, "%s: SNI of %d Initials within %d bytes, want %d", x->path, in_1024,
	      TW_SNIPPET_MAX, x->in_1024);
	for (int i = 0; i < 2; i++)
		CHECK(!x->sni[i] || seen[i] > 0, "%s: no Initial for %s", x->path, x->sni[i]);
	printf("%s %-32s %6lu UDP, %3d Initials OK+authenticated (%s%s%s), same from the snippet, %d with the SNI "
	       "in 1024 bytes\n",
	       fails ? "FAIL" : "ok  ", strrchr(x->path, '/') + 1, udp, initials, x->sni[0] ? x->sni[0] : "-",
	       x->sni[1] ? ", " : "", x->sni[1] ? x->sni[1] : "", in_1024);
}

int main(void)
{
	const char *corpus = getenv("TW_CORPUS") ? getenv("TW_CORPUS") : "../shared/corpus";
	struct stat st;

	if (stat(corpus, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("corpus %s is missing (set TW_CORPUS)\n", corpus);
		return 77;
	}
	for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++)
		one(corpus, &captures[i]);
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
