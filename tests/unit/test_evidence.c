/* Unit tests of the evidence pcaps (evidence.c, evpcap.c): event records of
 * tampered flows in, alert lines through the sink, files read back with
 * libpcap: packet order and headers (TTL, IP-ID, flags, seq/ack, window),
 * checksums, the client address nowhere in the file (header or payload),
 * client payload cut, the censor's block page kept, DNS question only,
 * appends on updates, per-alert and per-file bounds, memory eviction and
 * expiry counted. */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outputs/evidence.h"
#include "outputs/evpcap.h"

#include "check.h"

#define S 1000000000ull
#define T0 (1700000000ull * S)

static const uint8_t C4[4] = { 198, 51, 100, 7 }, S4[4] = { 203, 0, 113, 5 };
static const uint8_t C6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 };
static const uint8_t S6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53 };
static char dir[64];

static struct tw_event *ev_buf[1024];
static int nev_buf;

/* an event record as the kernel side writes it */
static struct tw_event *mk(uint64_t fid, int v6, int proto, int type, int dir_, uint64_t ts, uint8_t flags,
                           uint32_t seq, uint32_t ack, uint8_t ttl, uint16_t ipid, const void *snip, size_t sn,
                           uint32_t plen)
{
	struct tw_event *e = calloc(1, sizeof(*e) + sn);
	e->version = TW_EVENT_VERSION;
	e->type = (uint16_t)type;
	e->len = (uint16_t)(sizeof(*e) + sn);
	e->snippet_len = (uint16_t)sn;
	e->ts_ns = ts;
	e->flow_id = fid;
	e->dir = (uint8_t)dir_;
	e->family = v6 ? TW_FAMILY_IPV6 : TW_FAMILY_IPV4;
	e->proto = (uint8_t)proto;
	memcpy(e->caddr, v6 ? C6 : C4, v6 ? 16 : 4);
	memcpy(e->saddr, v6 ? S6 : S4, v6 ? 16 : 4);
	e->cport = (uint16_t)(40000 + fid);
	e->sport = proto == TW_PROTO_TCP ? 80 : 53;
	e->ttl = ttl;
	e->tcp_flags = flags;
	e->seq = seq;
	e->ack = ack;
	e->win = 501;
	e->ip_id = ipid;
	e->payload_len = plen;
	if (sn)
		memcpy(e->snippet, snip, sn);
	/* the flow snapshot: SYN and SYN-ACK */
	if (proto == TW_PROTO_TCP) {
		e->flow.flow_id = fid;
		e->flow.base_ns = T0 + fid * S;
		e->flow.later_us = 10000; /* the SYN-ACK, 10 ms after the SYN */
		e->flow.dir[0] = (struct tw_dir_state){
			.isn = 1000, .ttl_base = 64, .ipid_base = 10, .syn_count = 1, .packets = 1
		};
		e->flow.dir[1] = (struct tw_dir_state){
			.isn = 5000, .ttl_base = 52, .ipid_base = 0, .syn_count = 1, .packets = 1
		};
	}
	ev_buf[nev_buf++] = e;
	return e;
}

static const char REQ[] = "GET /private/user-page HTTP/1.1\r\nHost: blocked.example\r\nCookie: session=SECRET\r\n\r\n";
static const char PAGE[] = "HTTP/1.1 403 Forbidden\r\n\r\n<html>Blocked by order 12. Your address: 198.51.100.7</html>";

/* a TCP flow: handshake, request, forged RST (TTL 118), genuine response
 * after it, FINs; page: the first server payload is a block page instead */
static void tcp_flow(struct tw_evidence *ev, uint64_t fid, int page, const char *method, int end)
{
	uint64_t t = T0 + fid * S;
	tw_evidence_event(
	        ev, mk(fid, 0, TW_PROTO_TCP, TW_EV_HANDSHAKE, 0, t + 11000000, 0x10, 1001, 5001, 64, 11, NULL, 0, 0));
	tw_evidence_event(ev, mk(fid, 0, TW_PROTO_TCP, TW_EV_CLIENT_DATA, 0, t + 12000000, 0x18, 1001, 5001, 64, 12,
	                         REQ, sizeof(REQ) - 1, sizeof(REQ) - 1));
	if (page)
		tw_evidence_event(ev, mk(fid, 0, TW_PROTO_TCP, TW_EV_SERVER_DATA, 1, t + 13000000, 0x19, 5001,
		                         1001 + sizeof(REQ) - 1, 118, 54321, PAGE, sizeof(PAGE) - 1, sizeof(PAGE) - 1));
	else
		tw_evidence_event(ev, mk(fid, 0, TW_PROTO_TCP, TW_EV_RST, 1, t + 14000000, 0x14, 5001,
		                         1001 + sizeof(REQ) - 1, 118, 54321, NULL, 0, 0));
	/* the genuine answer after the RST: the same packet makes two events */
	struct tw_event *a = mk(fid, 0, TW_PROTO_TCP, TW_EV_SERVER_DATA, 1, t + 24000000, 0x18, 5001,
	                        1001 + sizeof(REQ) - 1, 52, 1, "HTTP/1.1 200 OK\r\n\r\nyour private page", 36, 1400);
	tw_evidence_event(ev, a);
	struct tw_event *b = mk(fid, 0, TW_PROTO_TCP, TW_EV_DATA_AFTER_RST, 1, t + 24000000, 0x18, 5001,
	                        1001 + sizeof(REQ) - 1, 52, 1, "HTTP/1.1 200 OK\r\n\r\nyour private page", 36, 1400);
	if (!page)
		tw_evidence_event(ev, b);
	if (method) {
		struct tw_tamper tm = { .method = method, .signature = "PSH->RST", .confidence = 0.9 };
		struct tw_flow_outcome o = { .flow_id = fid,
			                     .client_prefix = "198.51.100.0/24",
			                     .server_ip = "203.0.113.5",
			                     .server_port = 80,
			                     .proto = "tcp",
			                     .tamper = &tm };
		tw_evidence_outcome(ev, &o);
	}
	if (end)
		tw_evidence_event(ev,
		                  mk(fid, 0, TW_PROTO_TCP, TW_EV_FLOW_END, 0, t + 40 * S, 0, 0, 0, 0, 0, NULL, 0, 0));
}

static void alert(struct tw_evidence *ev, const char *id, const char *state, const char *ids)
{
	char line[512];
	snprintf(line, sizeof(line),
	         "{\"event_type\":\"alert\",\"alert\":{\"id\":\"%s\",\"state\":\"%s\"},\"evidence\":{\"flow_ids\":[%s]}"
	         "}\n",
	         id, state, ids);
	struct json_object *o = json_tokener_parse(line);
	CHECK(o != NULL, "test line not JSON");
	tw_evidence_sink(ev, line, strlen(line), o);
	json_object_put(o);
}

struct pk {
	uint32_t caplen, len;
	uint8_t d[1600];
	uint64_t ts;
};

static int read_pcap(const char *id, struct pk *out, int max, uint8_t *file, size_t *flen)
{
	char path[256], err[PCAP_ERRBUF_SIZE];
	snprintf(path, sizeof(path), "%s/%s.pcap", dir, id);
	FILE *f = fopen(path, "rb");
	*flen = f ? fread(file, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(p != NULL, "%s: %s", path, err);
	if (!p)
		return 0;
	CHECK(pcap_datalink(p) == DLT_RAW || pcap_datalink(p) == 12 /* DLT_RAW on some systems */, "link type %d",
	      pcap_datalink(p));
	struct pcap_pkthdr *h;
	const u_char *d;
	int n = 0;
	while (n < max && pcap_next_ex(p, &h, &d) == 1) {
		out[n].caplen = h->caplen;
		out[n].len = h->len;
		out[n].ts = (uint64_t)h->ts.tv_sec * S + (uint64_t)h->ts.tv_usec;
		memcpy(out[n].d, d, h->caplen < sizeof(out[n].d) ? h->caplen : sizeof(out[n].d));
		n++;
	}
	pcap_close(p);
	return n;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	return tw_csum_fold(tw_csum_add(0, p, n));
}

/* 0 if the L4 checksum verifies (pseudo-header included) */
static uint16_t l4_verify(const uint8_t *ip, size_t caplen)
{
	int v6 = ip[0] >> 4 == 6;
	size_t iph = v6 ? 40 : 20, alen = v6 ? 16 : 4;
	size_t l4len = v6 ? (size_t)(ip[4] << 8 | ip[5]) : (size_t)((ip[2] << 8 | ip[3]) - 20);
	uint8_t ph[4] = { 0, v6 ? ip[6] : ip[9], (uint8_t)(l4len >> 8), (uint8_t)l4len };
	uint32_t s = tw_csum_add(0, ip + (v6 ? 8 : 12), 2 * alen);
	s = tw_csum_add(s, ph, 4);
	s = tw_csum_add(s, ip + iph, caplen - iph);
	return tw_csum_fold(s);
}

static int contains(const uint8_t *h, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(h + i, needle, m))
			return 1;
	return 0;
}

static struct tw_evidence *make(struct tw_evidence_cfg *c, struct tw_pseudonym *pn)
{
	char err[256];
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	struct tw_evidence *ev = tw_evidence_new(c, pn, 0, err, sizeof(err));
	CHECK(ev != NULL, "new: %s", err);
	return ev;
}

static uint8_t file[1 << 20];
static struct pk pk[64];

static void test_rst(struct tw_pseudonym *pn)
{
	struct tw_evidence_cfg c;
	tw_evidence_cfg_default(&c);
	struct tw_evidence *ev = make(&c, pn);
	size_t flen;
	tcp_flow(ev, 1, 0, "rst_injection", 1);
	tcp_flow(ev, 2, 0, NULL, 1); /* no verdict: forgotten at flow end */
	CHECK(tw_evidence_stats(ev)->flows == 1, "flows held %lu", (unsigned long)tw_evidence_stats(ev)->flows);
	alert(ev, "a1", "raised", "1");
	int n = read_pcap("a1", pk, 64, file, &flen);
	/* SYN, SYN-ACK, ACK, request, RST, answer after the RST (once) */
	CHECK(n == 6, "packets %d", n);
	uint8_t want_flags[] = { 0x02, 0x12, 0x10, 0x18, 0x14, 0x18 };
	for (int i = 0; i < n && i < 6; i++) {
		const uint8_t *ip = pk[i].d;
		CHECK(ip[0] == 0x45 && ip[9] == 6, "pkt %d not IPv4/TCP", i);
		CHECK(csum(ip, 20) == 0, "pkt %d: bad IP checksum", i);
		CHECK(ip[33] == want_flags[i], "pkt %d flags %02x want %02x", i, ip[33], want_flags[i]);
		CHECK(i == 0 || pk[i].ts >= pk[i - 1].ts, "pkt %d out of order", i);
		int c2s = i == 0 || i == 2 || i == 3;
		const uint8_t *cl = ip + (c2s ? 12 : 16), *sv = ip + (c2s ? 16 : 12);
		CHECK(!memcmp(sv, S4, 4), "pkt %d server address changed", i);
		CHECK(!memcmp(cl, C4, 3) && cl[3] != C4[3], "pkt %d client not pseudonymised in its /24", i);
	}
	if (n == 6) {
		const uint8_t *rst = pk[4].d;
		CHECK(rst[8] == 118 && (rst[4] << 8 | rst[5]) == 54321, "RST TTL %u IP-ID %u", rst[8],
		      rst[4] << 8 | rst[5]);
		CHECK(l4_verify(rst, pk[4].caplen) == 0, "RST TCP checksum");
		CHECK((uint32_t)(rst[24] << 24 | rst[25] << 16 | rst[26] << 8 | rst[27]) == 5001, "RST seq");
		CHECK((rst[34] << 8 | rst[35]) == 501, "RST window");
		CHECK(pk[4].ts == T0 + S + 14000000, "RST time %lu", (unsigned long)pk[4].ts);
		/* SYN-ACK from the snapshot: TTL baseline 52 against the RST's 118 */
		CHECK(pk[1].d[8] == 52 && pk[0].d[8] == 64, "handshake TTLs %u %u", pk[0].d[8], pk[1].d[8]);
		/* request: on-wire length kept, payload cut */
		CHECK(pk[3].caplen == 40 && pk[3].len == 40 + sizeof(REQ) - 1, "request cap %u len %u", pk[3].caplen,
		      pk[3].len);
		CHECK(pk[5].caplen == 40 && pk[5].len == 1440, "answer after RST cap %u len %u", pk[5].caplen,
		      pk[5].len);
		CHECK(l4_verify(pk[2].d, pk[2].caplen) == 0, "ACK TCP checksum");
	}
	CHECK(!contains(file, flen, C4, 4), "client address bytes in the file");
	CHECK(!contains(file, flen, "Cookie", 6) && !contains(file, flen, "private", 7), "user payload in the file");
	/* an update naming one more flow appends it; a flow without verdict is missing */
	tcp_flow(ev, 3, 0, "rst_injection", 1);
	alert(ev, "a1", "updated", "1,3,2");
	CHECK(read_pcap("a1", pk, 64, file, &flen) == 12, "after update: %d packets",
	      read_pcap("a1", pk, 64, file, &flen));
	const struct tw_evidence_stats *s = tw_evidence_stats(ev);
	CHECK(s->flows_written == 2 && s->flows_missing == 1, "written %lu missing %lu",
	      (unsigned long)s->flows_written, (unsigned long)s->flows_missing);
	CHECK(s->flows == 0 && s->memory_bytes == 0, "store not empty: %lu flows %lu bytes", (unsigned long)s->flows,
	      (unsigned long)s->memory_bytes);
	alert(ev, "a1", "resolved", "1,3,2");
	CHECK(read_pcap("a1", pk, 64, file, &flen) == 12, "resolved line changed the file");
	/* an id that is no file name is refused */
	alert(ev, "../x", "raised", "1");
	CHECK(access("/tmp/x.pcap", F_OK) != 0, "path traversal");
	tw_evidence_free(ev);
}

static void test_blockpage(struct tw_pseudonym *pn)
{
	struct tw_evidence_cfg c;
	tw_evidence_cfg_default(&c);
	struct tw_evidence *ev = make(&c, pn);
	size_t flen;
	tcp_flow(ev, 7, 1, "http_blockpage", 1);
	alert(ev, "bp", "raised", "7");
	int n = read_pcap("bp", pk, 64, file, &flen);
	CHECK(n == 6, "block page flow: %d packets", n);
	CHECK(contains(file, flen, "Blocked by order 12", 19), "block page not kept");
	CHECK(!contains(file, flen, "198.51.100.7", 12), "client address text in the kept page");
	CHECK(!contains(file, flen, C4, 4), "client address bytes in the file");
	CHECK(tw_evidence_stats(ev)->redacted == 1, "redacted %lu", (unsigned long)tw_evidence_stats(ev)->redacted);
	if (n == 6) {
		CHECK(pk[4].caplen == 40 + sizeof(PAGE) - 1 && pk[4].len == pk[4].caplen, "page cap %u", pk[4].caplen);
		CHECK(l4_verify(pk[4].d, pk[4].caplen) == 0, "block page TCP checksum after redaction");
		CHECK(pk[4].d[8] == 118, "page TTL");
	}
	tw_evidence_free(ev);
}

static void test_dns6(struct tw_pseudonym *pn)
{
	struct tw_evidence_cfg c;
	tw_evidence_cfg_default(&c);
	struct tw_evidence *ev = make(&c, pn);
	size_t flen;
	/* query blocked.example A with an EDNS client-subnet option carrying the client */
	uint8_t q[128], r[128];
	size_t qn = 0;
	const uint8_t hdr[12] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1 };
	memcpy(q, hdr, 12);
	qn = 12;
	memcpy(q + qn, "\7blocked\7example\0\0\1\0\1", 21);
	qn += 21;
	const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 24, 0, 8, 0, 20, 0, 2, 64, 0 };
	memcpy(q + qn, opt, sizeof(opt));
	qn += sizeof(opt);
	memcpy(q + qn, C6, 16); /* the client address inside the additional section */
	qn += 16;
	memcpy(r, q, 33);
	r[2] = 0x81;
	r[3] = 0x80;
	r[7] = 1;
	r[11] = 0;
	const uint8_t ans[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 10, 34, 34 };
	memcpy(r + 33, ans, sizeof(ans));
	size_t rn = 33 + sizeof(ans);
	tw_evidence_event(ev, mk(9, 1, TW_PROTO_UDP, TW_EV_DNS_QUERY, 0, T0, 0, 0, 0, 64, 0, q, qn, (uint32_t)qn));
	tw_evidence_event(
	        ev, mk(9, 1, TW_PROTO_UDP, TW_EV_DNS_RESPONSE, 1, T0 + 2000000, 0, 0, 0, 37, 0, r, rn, (uint32_t)rn));
	struct tw_tamper tm = { .method = "dns_injection", .confidence = 0.9 };
	struct tw_flow_outcome o = { .flow_id = 9, .tamper = &tm };
	tw_evidence_outcome(ev, &o);
	tw_evidence_event(ev, mk(9, 1, TW_PROTO_UDP, TW_EV_FLOW_END, 0, T0 + 30 * S, 0, 0, 0, 0, 0, NULL, 0, 0));
	alert(ev, "dns", "raised", "9");
	int n = read_pcap("dns", pk, 64, file, &flen);
	CHECK(n == 2, "dns packets %d", n);
	if (n == 2) {
		CHECK(pk[0].d[0] >> 4 == 6 && pk[0].d[6] == 17, "not IPv6/UDP");
		CHECK(!memcmp(pk[0].d + 8, C6, 6) && memcmp(pk[0].d + 8, C6, 16),
		      "client not pseudonymised in its /48");
		CHECK(pk[0].caplen == 40 + 8 + 33 && pk[0].len == 40 + 8 + qn, "query cap %u len %u", pk[0].caplen,
		      pk[0].len);
		CHECK(pk[1].caplen == 40 + 8 + rn && l4_verify(pk[1].d, pk[1].caplen) == 0,
		      "answer kept with a good checksum");
		CHECK(pk[1].d[7] == 37, "answer hop limit");
		CHECK(!memcmp(pk[1].d + 24, pk[0].d + 8, 16), "same pseudonym both ways");
	}
	CHECK(!contains(file, flen, C6, 16), "client IPv6 address in the file");
	tw_evidence_free(ev);
}

static void test_bounds(struct tw_pseudonym *pn)
{
	struct tw_evidence_cfg c;
	size_t flen;
	struct stat sb;
	char path[256];
	tw_evidence_cfg_default(&c);
	c.max_flows_per_alert = 2;
	struct tw_evidence *ev = make(&c, pn);
	for (uint64_t f = 20; f < 24; f++)
		tcp_flow(ev, f, 0, "rst_injection", 1);
	alert(ev, "cap", "raised", "20,21,22");
	alert(ev, "cap", "updated", "20,21,22,23");
	CHECK(read_pcap("cap", pk, 64, file, &flen) == 12, "2 flows of 6 packets expected");
	CHECK(tw_evidence_stats(ev)->flows_over_limit == 2, "over limit %lu",
	      (unsigned long)tw_evidence_stats(ev)->flows_over_limit);
	tw_evidence_free(ev);

	tw_evidence_cfg_default(&c);
	c.max_bytes_per_file = 300;
	ev = make(&c, pn);
	tcp_flow(ev, 30, 0, "rst_injection", 1);
	alert(ev, "small", "raised", "30");
	snprintf(path, sizeof(path), "%s/small.pcap", dir);
	CHECK(stat(path, &sb) == 0 && sb.st_size <= 300, "file size %ld", (long)sb.st_size);
	CHECK(tw_evidence_stats(ev)->packets_over_size > 0, "packets over size not counted");
	CHECK(tw_evidence_stats(ev)->packets_written + tw_evidence_stats(ev)->packets_over_size == 6, "packets lost");
	tw_evidence_free(ev);

	/* memory: old live flows go first, then tampered ones; all counted */
	tw_evidence_cfg_default(&c);
	c.memory = 20000;
	c.retain = 60;
	ev = make(&c, pn);
	tcp_flow(ev, 40, 0, "rst_injection", 1);
	for (uint64_t f = 41; f < 80; f++)
		tcp_flow(ev, f, 0, NULL, 0); /* live, no verdict yet */
	const struct tw_evidence_stats *s = tw_evidence_stats(ev);
	CHECK(s->memory_bytes <= 20000, "memory %lu over budget", (unsigned long)s->memory_bytes);
	CHECK(s->evicted_live > 0, "no live eviction counted");
	CHECK(s->evicted_tampered == 0 && s->flows_missing == 0, "the tampered flow must outlive live churn");
	alert(ev, "kept", "raised", "40");
	CHECK(s->flows_written == 1, "tampered flow not written after churn");
	tw_evidence_free(ev);
	/* only tampered flows: the oldest go */
	ev = make(&c, pn);
	s = tw_evidence_stats(ev);
	for (uint64_t f = 100; f < 120; f++)
		tcp_flow(ev, f, 0, "rst_injection", 1);
	CHECK(s->memory_bytes <= 20000 && s->evicted_tampered > 0 && s->evicted_live == 0, "tampered eviction: %lu",
	      (unsigned long)s->evicted_tampered);
	CHECK(tw_evidence_evictions(ev) == s->evicted_tampered, "getter");
	alert(ev, "gone", "raised", "100,119");
	CHECK(s->flows_missing == 1 && s->flows_written == 1, "oldest evicted, newest written: missing %lu written %lu",
	      (unsigned long)s->flows_missing, (unsigned long)s->flows_written);
	tw_evidence_free(ev);

	/* expiry: a tampered flow no alert names within evidence.retain */
	ev = make(&c, pn);
	tcp_flow(ev, 90, 0, "rst_injection", 1);
	tw_evidence_tick(ev, T0 + 90 * S + 40 * S + 59 * S, 0);
	CHECK(tw_evidence_stats(ev)->expired == 0, "expired early");
	tw_evidence_tick(ev, T0 + 90 * S + 40 * S + 60 * S, 0);
	CHECK(tw_evidence_stats(ev)->expired == 1 && tw_evidence_stats(ev)->flows == 0, "not expired");
	tw_evidence_free(ev);
}

int main(void)
{
	uint8_t key[32];
	struct tw_pseudonym pn;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 3 + 11);
	tw_pseudonym_init_key(&pn, key, 24, 48);
	snprintf(dir, sizeof(dir), "/tmp/tw-evid.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	test_rst(&pn);
	test_blockpage(&pn);
	test_dns6(&pn);
	test_bounds(&pn);
	for (int i = 0; i < nev_buf; i++)
		free(ev_buf[i]);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fails++;
	printf("test_evidence: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
