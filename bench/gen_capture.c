/* gen_capture: write a synthetic but realistic capture for the replay
 * benchmark (bench/bench_replay.sh builds and runs this; the output lives in
 * build/bench/ and is never committed).
 *
 *   gen_capture OUT.pcap [PACKETS [SEED [MIX]]]  (default 1200000, seed 1, long)
 *
 * Seen from a client-side edge link: sessions start as a Poisson process
 * (about 330 a second), each one a small script of packets with its own RTT,
 * merged in time order through a heap, so flows overlap as on a real link.
 *   DNS (35%)    A/AAAA query and answer over UDP/53 (v4 or v6 resolver);
 *                a few unanswered; a few answered twice (injected answer
 *                first, with another TTL) as DNS tampering looks
 *   TLS (45%)    handshake with options, a real ClientHello (SNI, ALPN,
 *                key share, padding to 517 bytes), ServerHello flight, CCS +
 *                Finished, request, response of a few KB to a few MB with
 *                slow start and delayed ACKs, then FIN/FIN, client RST abort,
 *                or server-first FIN
 *   HTTP (17%)   GET with Host, a 200/301/404 response with a body, closes
 *                as above
 *   tampered (3%) RST injected after the ClientHello (other TTL, before an
 *                RTT), HTTP block page injected ahead of the real answer,
 *                SYN black hole (SYN retransmitted 3 times, no answer)
 * MIX "short" makes a capture dominated by short flows, as a busy access
 * network's DNS lookups and small fetches: sessions start three times as
 * often, DNS 55%, TLS 25% and HTTP 18% with bodies of 300 B to 8 KB (one
 * request per connection), SYN black holes 2% (the other tampering kinds
 * at the same rates as above).
 * About 20% of sessions are IPv6.  A few ARP frames.  Checksums are right.
 * Timestamps are microseconds (classic pcap, linktype EN10MB). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pktbuild.h"

/* ---- random ------------------------------------------------------------ */
static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}
static double urand(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}
static uint32_t rint_(uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd() % (uint64_t)(hi - lo + 1));
}
static double rexp(double mean)
{
	double u = urand();
	return -mean * __builtin_log(u > 1e-12 ? u : 1e-12);
}
/* log-uniform in [lo, hi] */
static double rlog(double lo, double hi)
{
	return lo * __builtin_exp(urand() * __builtin_log(hi / lo));
}

static uint8_t noise[1 << 16]; /* payload bytes of encrypted / bulk data */

/* ---- packet descriptors --------------------------------------------------- */
#define TW_FIN 0x01
#define TW_SYN 0x02
#define TW_RST 0x04
#define TW_PSH 0x08
#define TW_ACK 0x10
enum kind {
	K_NONE,     /* no payload */
	K_FILL,     /* opaque bytes */
	K_TLS_CH,   /* ClientHello record */
	K_TLS_SH,   /* ServerHello + CCS + first encrypted records */
	K_TLS_CFIN, /* client CCS + Finished */
	K_TLS_APP,  /* application data record start */
	K_HTTP_REQ,
	K_HTTP_RESP,  /* status line + headers (code in flow), then body */
	K_HTTP_BLOCK, /* injected block page */
	K_DNS_Q,
	K_DNS_R,      /* real answer */
	K_DNS_FORGED, /* injected answer */
	K_ARP,
};

struct desc {
	uint64_t ts; /* ns */
	uint32_t seq, ack;
	uint16_t plen;
	uint8_t dir;   /* 0 client -> server */
	uint8_t flags; /* TCP flags */
	uint8_t kind;
	uint8_t ttl_override;
	uint16_t order; /* tie-break: generation order within the flow */
};

struct flow {
	int v6, udp;
	uint8_t cli[16], srv[16];
	uint16_t cport, sport;
	uint8_t cttl, sttl;
	uint16_t cipid, sipid;
	uint16_t mss;
	int http_code;
	uint32_t body_len;
	const char *host;
	char path[64];
	uint16_t dns_id, qtype;
	struct desc *d;
	uint32_t n, cap, cur;
	/* generation state */
	uint32_t cseq, sseq;
	uint16_t nord;
};

static void add(struct flow *f, uint64_t ts, int dir, uint8_t flags, uint32_t plen, uint8_t kind)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->d = realloc(f->d, f->cap * sizeof(*f->d));
		if (!f->d) {
			perror("realloc");
			exit(1);
		}
	}
	struct desc *d = &f->d[f->n++];
	memset(d, 0, sizeof(*d));
	d->ts = ts;
	d->dir = (uint8_t)dir;
	d->flags = flags;
	d->plen = (uint16_t)plen;
	d->kind = kind;
	d->order = f->nord++;
	if (!f->udp) {
		d->seq = dir ? f->sseq : f->cseq;
		d->ack = (flags & TW_ACK) ? (dir ? f->cseq : f->sseq) : 0;
		uint32_t adv = plen + ((flags & (0x02 | 0x01)) ? 1 : 0);
		if (dir)
			f->sseq += adv;
		else
			f->cseq += adv;
	}
}

static int cmp_desc(const void *a, const void *b)
{
	const struct desc *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (int)x->order - (int)y->order;
}

/* ---- names and addresses ------------------------------------------------ */
static const char *const hosts[] = {
	"www.google.com",
	"fonts.gstatic.com",
	"www.youtube.com",
	"i.ytimg.com",
	"en.wikipedia.org",
	"upload.wikimedia.org",
	"www.facebook.com",
	"static.xx.fbcdn.net",
	"twitter.com",
	"abs.twimg.com",
	"www.bbc.co.uk",
	"ichef.bbci.co.uk",
	"www.nytimes.com",
	"static01.nyt.com",
	"github.com",
	"avatars.githubusercontent.com",
	"www.reddit.com",
	"www.redditstatic.com",
	"cdn.jsdelivr.net",
	"ajax.googleapis.com",
	"www.amazon.com",
	"m.media-amazon.com",
	"www.netflix.com",
	"api.telegram.org",
	"web.whatsapp.com",
	"www.instagram.com",
	"www.linkedin.com",
	"news.ycombinator.com",
	"www.torproject.org",
	"signal.org",
	"www.dw.com",
	"www.rferl.org",
	"deb.debian.org",
	"security.debian.org",
	"ocsp.digicert.com",
	"clients4.google.com",
	"accounts.google.com",
	"www.cloudflare.com",
	"cdnjs.cloudflare.com",
	"www.mozilla.org",
	"detectportal.firefox.com",
};
#define NHOSTS (sizeof(hosts) / sizeof(hosts[0]))

static void v4(uint8_t *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	memset(a, 0, 16);
	a[0] = x;
	a[1] = y;
	a[2] = z;
	a[3] = w;
}
static void v6(uint8_t *a, uint16_t p0, uint16_t p1, uint16_t p2, uint64_t low)
{
	memset(a, 0, 16);
	pb_put16(a, p0);
	pb_put16(a + 2, p1);
	pb_put16(a + 4, p2);
	for (int i = 0; i < 8; i++)
		a[8 + i] = (uint8_t)(low >> (56 - 8 * i));
}

#define NCLIENTS 1500
static uint16_t next_port[NCLIENTS];

static void endpoints(struct flow *f, int hostidx)
{
	uint32_t c = rint_(0, NCLIENTS - 1);
	if (!next_port[c])
		next_port[c] = (uint16_t)rint_(32768, 50000);
	f->cport = next_port[c]++;
	if (next_port[c] > 60999)
		next_port[c] = 32768;
	if (f->v6) {
		v6(f->cli, 0x2001, 0x0db8, (uint16_t)(0x100 + c / 256),
		   0x021122fffe000000ull | (uint64_t)c * 2654435761u % 0xffffff);
		v6(f->srv, 0x2001, 0x0db8, 0xf000, 0x1000 + (uint64_t)hostidx * 16 + rint_(0, 3));
	} else {
		v4(f->cli, 10, 20, (uint8_t)(c / 250), (uint8_t)(c % 250 + 2));
		uint8_t nets[3][3] = { { 203, 0, 113 }, { 198, 51, 100 }, { 192, 0, 2 } };
		const uint8_t *n = nets[hostidx % 3];
		v4(f->srv, n[0], n[1], n[2], (uint8_t)(10 + (hostidx * 5 + rint_(0, 4)) % 240));
	}
	f->cttl = 64;
	/* a server's IP TTL is a property of its path: fixed per host */
	f->sttl = (uint8_t)(hostidx % 4 == 0 ? 108 + hostidx % 12 : 46 + hostidx % 12);
	f->cipid = (uint16_t)rnd();
	f->sipid = (uint16_t)rnd();
	f->mss = f->v6 ? 1440 : 1460;
}

/* ---- HTTP texts ----------------------------------------------------------- */
static size_t http_req(const struct flow *f, char *b, size_t room)
{
	return (size_t)snprintf(b, room,
	                        "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
	                        "Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n"
	                        "Connection: keep-alive\r\n\r\n",
	                        f->path, f->host);
}

static size_t http_block(char *b, size_t room)
{
	return (size_t)snprintf(b, room,
	                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
	                        "<html><body><h1>Access denied</h1><p>This site is blocked by order of the "
	                        "authority.</p></body></html>");
}

static size_t http_resp(const struct flow *f, char *b, size_t room)
{
	return (size_t)snprintf(b, room,
	                        "HTTP/1.1 %d %s\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
	                        "Content-Length: %u\r\nConnection: keep-alive\r\n%s\r\n",
	                        f->http_code,
	                        f->http_code == 200   ? "OK"
	                        : f->http_code == 301 ? "Moved Permanently"
	                                              : "Not Found",
	                        f->body_len, f->http_code == 301 ? "Location: https://example.org/\r\n" : "");
}

/* ---- session scripts ------------------------------------------------------ */
struct sess_stats {
	uint64_t dns, tls, http, inj_rst, inj_block, blackhole, dns_forged, v6, arp;
};
static struct sess_stats st;
static int short_mix; /* MIX "short": see the top of the file */

#define US 1000ull
#define MS 1000000ull

static uint64_t handshake(struct flow *f, uint64_t t, uint64_t rtt)
{
	f->cseq = (uint32_t)rnd();
	f->sseq = (uint32_t)rnd();
	add(f, t, 0, TW_SYN, 0, K_NONE);
	t += rtt;
	add(f, t, 1, TW_SYN | TW_ACK, 0, K_NONE);
	t += rint_(20, 80) * US;
	add(f, t, 0, TW_ACK, 0, K_NONE);
	return t;
}

/* the server sends len bytes starting with a `first` segment kind; slow
 * start from 10 segments, ACK every second segment; returns the time of the
 * last client ACK */
static uint64_t bulk(struct flow *f, uint64_t t, uint64_t rtt, uint32_t len, uint8_t first, double gap_ns)
{
	uint32_t cwnd = 10, sent = 0, seg = 0;
	uint64_t round = t;
	while (sent < len) {
		uint64_t ts = round;
		for (uint32_t i = 0; i < cwnd && sent < len; i++) {
			uint32_t n = len - sent < f->mss ? len - sent : f->mss;
			uint8_t fl = TW_ACK | (sent + n == len ? TW_PSH : 0);
			add(f, ts, 1, fl, n, sent == 0 ? first : K_FILL);
			sent += n;
			seg++;
			if (seg % 2 == 0 || sent == len)
				add(f, ts + 40 * US + rint_(0, 30) * US, 0, TW_ACK, 0, K_NONE);
			ts += (uint64_t)gap_ns;
		}
		if (cwnd < 128)
			cwnd *= 2;
		round = ts > round + rtt ? ts : round + rtt;
		t = ts + 80 * US;
	}
	return t;
}

static uint64_t tcp_close(struct flow *f, uint64_t t, uint64_t rtt)
{
	double u = urand();
	t += (uint64_t)(rlog(0.02, 3.0) * 1e9); /* idle keep-alive */
	if (u < 0.70) {                         /* client FIN first */
		add(f, t, 0, TW_FIN | TW_ACK, 0, K_NONE);
		t += rtt;
		add(f, t, 1, TW_FIN | TW_ACK, 0, K_NONE);
		t += 40 * US;
		add(f, t, 0, TW_ACK, 0, K_NONE);
	} else if (u < 0.85) { /* browser abort */
		add(f, t, 0, TW_RST | TW_ACK, 0, K_NONE);
	} else { /* server closes idle connection */
		add(f, t, 1, TW_FIN | TW_ACK, 0, K_NONE);
		t += 50 * US;
		add(f, t, 0, TW_FIN | TW_ACK, 0, K_NONE);
		t += rtt;
		add(f, t, 1, TW_ACK, 0, K_NONE);
	}
	return t;
}

static void sess_tls(struct flow *f, uint64_t t, int inject)
{
	uint64_t rtt = (uint64_t)(rlog(4, 180) * MS);
	double gap = rlog(12e3, 1.2e6); /* 1 Gb/s .. 10 Mb/s per segment */
	t = handshake(f, t, rtt);
	t += 60 * US;
	add(f, t, 0, TW_PSH | TW_ACK, 517, K_TLS_CH);
	if (inject) {
		/* the censor's RST arrives before any answer could, with its TTL */
		uint64_t ti = t + rint_(300, 3000) * US;
		uint32_t save = f->sseq;
		add(f, ti, 1, TW_RST | TW_ACK, 0, K_NONE);
		f->d[f->n - 1].ttl_override = (uint8_t)rint_(60, 250);
		f->sseq = save;
		/* the real answer still comes; the client has torn down: RST */
		t += rtt;
		uint32_t flight = rint_(2500, 5000);
		t = bulk(f, t, rtt, flight, K_TLS_SH, gap);
		f->n--; /* drop the last client ACK: it answers with RST */
		add(f, t, 0, TW_RST, 0, K_NONE);
		st.inj_rst++;
		return;
	}
	t += rtt;
	t = bulk(f, t, rtt, rint_(2500, 5000), K_TLS_SH, gap);
	t += 100 * US;
	add(f, t, 0, TW_PSH | TW_ACK, rint_(64, 80), K_TLS_CFIN);
	t += 30 * US;
	add(f, t, 0, TW_PSH | TW_ACK, rint_(200, 900), K_TLS_APP);
	t += rtt;
	double u = urand();
	uint32_t body = short_mix  ? (uint32_t)rlog(300, 8000)
	                : u < 0.80 ? (uint32_t)rlog(800, 20000)
	                : u < 0.98 ? (uint32_t)rlog(20000, 200000)
	                           : (uint32_t)rlog(200000, 2000000);
	t = bulk(f, t, rtt, body, K_TLS_APP, gap);
	/* sometimes a second request on the same connection */
	if (!short_mix && urand() < 0.3) {
		t += (uint64_t)(rlog(0.01, 1.0) * 1e9);
		add(f, t, 0, TW_PSH | TW_ACK, rint_(100, 600), K_TLS_APP);
		t += rtt;
		t = bulk(f, t, rtt, (uint32_t)rlog(500, 40000), K_TLS_APP, gap);
	}
	tcp_close(f, t, rtt);
	st.tls++;
}

static void sess_http(struct flow *f, uint64_t t, int inject)
{
	uint64_t rtt = (uint64_t)(rlog(4, 180) * MS);
	double gap = rlog(12e3, 1.2e6);
	static const char *const paths[] = { "/",
		                             "/index.html",
		                             "/news/",
		                             "/static/app.js",
		                             "/img/logo.png",
		                             "/api/v1/items?page=2",
		                             "/favicon.ico",
		                             "/generate_204" };
	snprintf(f->path, sizeof(f->path), "%s", paths[rint_(0, 7)]);
	t = handshake(f, t, rtt);
	t += 50 * US;
	char tmp[1024];
	uint32_t req = (uint32_t)http_req(f, tmp, sizeof(tmp));
	add(f, t, 0, TW_PSH | TW_ACK, req, K_HTTP_REQ);
	double u = urand();
	f->http_code = u < 0.85 ? 200 : u < 0.95 ? 301 : 404;
	if (inject) {
		/* block page ahead of the real answer, then the injector's RST */
		uint64_t ti = t + rint_(300, 3000) * US;
		uint32_t save = f->sseq;
		add(f, ti, 1, TW_PSH | TW_ACK | TW_FIN, (uint32_t)http_block(tmp, sizeof(tmp)), K_HTTP_BLOCK);
		f->d[f->n - 1].ttl_override = (uint8_t)rint_(60, 250);
		add(f, ti + 5 * US, 1, TW_RST | TW_ACK, 0, K_NONE);
		f->d[f->n - 1].ttl_override = f->d[f->n - 2].ttl_override;
		f->sseq = save;
		t += rtt;
		f->body_len = 1200;
		bulk(f, t, rtt, 1200 + (uint32_t)http_resp(f, tmp, sizeof(tmp)), K_HTTP_RESP, gap);
		st.inj_block++;
		return;
	}
	f->body_len = f->http_code != 200 ? 160 : short_mix ? (uint32_t)rlog(300, 8000) : (uint32_t)rlog(300, 150000);
	t += rtt;
	t = bulk(f, t, rtt, f->body_len + (uint32_t)http_resp(f, tmp, sizeof(tmp)), K_HTTP_RESP, gap);
	tcp_close(f, t, rtt);
	st.http++;
}

static void sess_blackhole(struct flow *f, uint64_t t)
{
	f->cseq = (uint32_t)rnd();
	uint32_t isn = f->cseq;
	for (int i = 0; i < 4; i++) {
		f->cseq = isn;
		add(f, t, 0, TW_SYN, 0, K_NONE);
		t += (1ull << i) * 1000 * MS;
	}
	st.blackhole++;
}

static void sess_dns(struct flow *f, uint64_t t)
{
	uint64_t rtt = (uint64_t)(rlog(2, 60) * MS);
	f->udp = 1;
	f->sport = 53;
	f->dns_id = (uint16_t)rnd();
	f->qtype = f->v6 || urand() < 0.3 ? 28 : 1;
	add(f, t, 0, 0, 0, K_DNS_Q);
	double u = urand();
	if (u < 0.02)
		return; /* unanswered */
	if (u < 0.04) { /* forged answer first */
		add(f, t + rint_(200, 1500) * US, 1, 0, 0, K_DNS_FORGED);
		f->d[f->n - 1].ttl_override = (uint8_t)rint_(60, 250);
		st.dns_forged++;
	}
	add(f, t + rtt, 1, 0, 0, K_DNS_R);
}

/* ---- payload bytes ------------------------------------------------------- */
static size_t dns_msg(const struct flow *f, int resp, int forged, uint8_t *b)
{
	size_t n = 12;
	pb_put16(b, f->dns_id);
	pb_put16(b + 2, resp ? 0x8180 : 0x0100);
	pb_put16(b + 4, 1);
	pb_put16(b + 6, resp ? (forged ? 1 : 2) : 0);
	pb_put16(b + 8, 0);
	pb_put16(b + 10, 1); /* OPT */
	const char *h = f->host;
	while (*h) {
		const char *dot = strchr(h, '.');
		size_t l = dot ? (size_t)(dot - h) : strlen(h);
		b[n++] = (uint8_t)l;
		memcpy(b + n, h, l);
		n += l;
		h += l + (dot ? 1 : 0);
	}
	b[n++] = 0;
	pb_put16(b + n, f->qtype);
	pb_put16(b + n + 2, 1);
	n += 4;
	int answers = resp ? (forged ? 1 : 2) : 0;
	for (int i = 0; i < answers; i++) {
		pb_put16(b + n, 0xc00c);
		pb_put16(b + n + 2, f->qtype);
		pb_put16(b + n + 4, 1);
		pb_put32(b + n + 6, forged ? 60 : rint_(30, 3600));
		n += 10;
		if (f->qtype == 28) {
			pb_put16(b + n, 16);
			uint8_t a[16];
			v6(a, 0x2001, 0x0db8, 0xf000, 0x1000 + rnd() % 4096);
			memcpy(b + n + 2, a, 16);
			n += 18;
		} else {
			pb_put16(b + n, 4);
			if (forged) {
				b[n + 2] = 10;
				b[n + 3] = 10;
				b[n + 4] = 34;
				b[n + 5] = 35;
			} else {
				b[n + 2] = 203;
				b[n + 3] = 0;
				b[n + 4] = 113;
				b[n + 5] = (uint8_t)rint_(1, 254);
			}
			n += 6;
		}
	}
	/* OPT: udp size 1232 */
	b[n++] = 0;
	pb_put16(b + n, 41);
	pb_put16(b + n + 2, 1232);
	pb_put32(b + n + 4, 0);
	pb_put16(b + n + 8, 0);
	n += 10;
	return n;
}

static void ext(uint8_t *b, size_t *n, uint16_t type, const uint8_t *data, size_t len)
{
	pb_put16(b + *n, type);
	pb_put16(b + *n + 2, (uint16_t)len);
	memcpy(b + *n + 4, data, len);
	*n += 4 + len;
}

static size_t client_hello(const struct flow *f, uint8_t *b, size_t total)
{
	uint8_t e[600];
	size_t n = 0, hl = strlen(f->host);
	/* record + handshake headers filled in at the end */
	b[0] = 0x16;
	b[1] = 3;
	b[2] = 1;
	size_t p = 9;
	b[p++] = 3;
	b[p++] = 3;
	for (int i = 0; i < 32; i++)
		b[p++] = (uint8_t)rnd();
	b[p++] = 32;
	for (int i = 0; i < 32; i++)
		b[p++] = (uint8_t)rnd();
	static const uint16_t suites[] = { 0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030,
		                           0xc00a, 0xc009, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
	pb_put16(b + p, sizeof(suites));
	p += 2;
	for (size_t i = 0; i < sizeof(suites) / 2; i++, p += 2)
		pb_put16(b + p, suites[i]);
	b[p++] = 1;
	b[p++] = 0;
	/* server_name */
	pb_put16(e, (uint16_t)(hl + 3));
	e[2] = 0;
	pb_put16(e + 3, (uint16_t)hl);
	memcpy(e + 5, f->host, hl);
	uint8_t exts[520];
	ext(exts, &n, 0x0000, e, hl + 5);
	ext(exts, &n, 0x0017, NULL, 0); /* extended master secret */
	static const uint8_t reneg[] = { 0 };
	ext(exts, &n, 0xff01, reneg, 1);
	static const uint8_t groups[] = { 0, 8, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19 };
	ext(exts, &n, 0x000a, groups, sizeof(groups));
	static const uint8_t pf[] = { 1, 0 };
	ext(exts, &n, 0x000b, pf, 2);
	static const uint8_t alpn[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	ext(exts, &n, 0x0010, alpn, sizeof(alpn));
	static const uint8_t sig[] = { 0, 16, 4, 3, 5, 3, 6, 3, 8, 4, 8, 5, 8, 6, 4, 1, 5, 1 };
	ext(exts, &n, 0x000d, sig, sizeof(sig));
	uint8_t ks[38] = { 0, 36, 0, 0x1d, 0, 32 };
	for (int i = 6; i < 38; i++)
		ks[i] = (uint8_t)rnd();
	ext(exts, &n, 0x0033, ks, sizeof(ks));
	static const uint8_t sv[] = { 4, 3, 4, 3, 3 };
	ext(exts, &n, 0x002b, sv, sizeof(sv));
	static const uint8_t psk[] = { 1, 1 };
	ext(exts, &n, 0x002d, psk, 2);
	/* padding up to the total */
	size_t fixed = p + 2 + n + 4;
	if (fixed < total) {
		uint8_t zero[512] = { 0 };
		size_t pad = total - fixed;
		ext(exts, &n, 0x0015, zero, pad > 512 ? 512 : pad);
	}
	pb_put16(b + p, (uint16_t)n);
	p += 2;
	memcpy(b + p, exts, n);
	p += n;
	pb_put16(b + 3, (uint16_t)(p - 5));
	b[5] = 1;
	b[6] = (uint8_t)((p - 9) >> 16);
	pb_put16(b + 7, (uint16_t)(p - 9));
	return p;
}

static size_t server_hello(uint8_t *b, size_t room)
{
	size_t p = 0;
	b[p++] = 0x16;
	b[p++] = 3;
	b[p++] = 3;
	pb_put16(b + p, 122);
	p += 2;
	b[p++] = 2;
	b[p++] = 0;
	b[p++] = 0;
	b[p++] = 118;
	b[p++] = 3;
	b[p++] = 3;
	for (int i = 0; i < 32; i++)
		b[p++] = (uint8_t)rnd();
	b[p++] = 32;
	for (int i = 0; i < 32; i++)
		b[p++] = (uint8_t)rnd();
	pb_put16(b + p, 0x1301);
	p += 2;
	b[p++] = 0;
	pb_put16(b + p, 46);
	p += 2;
	pb_put16(b + p, 0x002b);
	pb_put16(b + p + 2, 2);
	pb_put16(b + p + 4, 0x0304);
	p += 6;
	pb_put16(b + p, 0x0033);
	pb_put16(b + p + 2, 36);
	pb_put16(b + p + 4, 0x001d);
	pb_put16(b + p + 6, 32);
	p += 8;
	for (int i = 0; i < 32; i++)
		b[p++] = (uint8_t)rnd();
	static const uint8_t ccs[] = { 0x14, 3, 3, 0, 1, 1 };
	memcpy(b + p, ccs, 6);
	p += 6;
	/* encrypted extensions, certificate, ... as one application-data record */
	b[p++] = 0x17;
	b[p++] = 3;
	b[p++] = 3;
	pb_put16(b + p, (uint16_t)(room > p + 2 ? 4000 : 0));
	p += 2;
	return p;
}

static size_t payload(const struct flow *f, const struct desc *d, uint8_t *b)
{
	size_t n = 0, want = d->plen;
	char tmp[1024];
	int text = d->kind == K_HTTP_REQ || d->kind == K_HTTP_RESP || d->kind == K_HTTP_BLOCK;
	switch (d->kind) {
	case K_TLS_CH: n = client_hello(f, b, want); break;
	case K_TLS_SH: n = server_hello(b, want); break;
	case K_TLS_CFIN: {
		static const uint8_t ccs[] = { 0x14, 3, 3, 0, 1, 1, 0x17, 3, 3 };
		memcpy(b, ccs, sizeof(ccs));
		pb_put16(b + 9, (uint16_t)(want - 11));
		n = 11;
		break;
	}
	case K_TLS_APP:
		b[0] = 0x17;
		b[1] = 3;
		b[2] = 3;
		pb_put16(b + 3, (uint16_t)(want > 16389 ? 16384 : want - 5));
		n = 5;
		break;
	case K_HTTP_REQ: n = http_req(f, tmp, sizeof(tmp)); break;
	case K_HTTP_RESP: n = http_resp(f, tmp, sizeof(tmp)); break;
	case K_HTTP_BLOCK: n = http_block(tmp, sizeof(tmp)); break;
	default: break;
	}
	if (text) {
		if (n > want)
			n = want;
		memcpy(b, tmp, n);
	}
	/* the rest: opaque bytes from a random place of the noise table */
	if (n < want) {
		size_t off = rnd() & (sizeof(noise) - 1);
		size_t left = want - n;
		while (left) {
			size_t c = sizeof(noise) - off < left ? sizeof(noise) - off : left;
			memcpy(b + n, noise + off, c);
			n += c;
			left -= c;
			off = 0;
		}
	}
	return n;
}

/* ---- heap of active flows, by next packet time ---------------------------- */
static struct flow **heap;
static size_t hn, hcap;

static uint64_t key(const struct flow *f)
{
	return f->d[f->cur].ts;
}

static void hpush(struct flow *f)
{
	if (hn == hcap) {
		hcap = hcap ? hcap * 2 : 1024;
		heap = realloc(heap, hcap * sizeof(*heap));
	}
	size_t i = hn++;
	while (i && key(heap[(i - 1) / 2]) > key(f)) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = f;
}

static void hfix(void)
{
	size_t i = 0;
	struct flow *f = heap[0];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		uint64_t km = key(f);
		if (l < hn && key(heap[l]) < km) {
			m = l;
			km = key(heap[l]);
		}
		if (r < hn && key(heap[r]) < km)
			m = r;
		if (m == i)
			break;
		heap[i] = heap[m];
		i = m;
	}
	heap[i] = f;
}

static void hpop(void)
{
	heap[0] = heap[--hn];
	if (hn)
		hfix();
}

/* ---- pcap writer ---------------------------------------------------------- */
static FILE *out;
static uint64_t npk, nbytes;

static void put_u32le(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static void write_rec(uint64_t ts_ns, const uint8_t *frame, size_t len)
{
	uint8_t h[16];
	put_u32le(h, (uint32_t)(ts_ns / 1000000000ull));
	put_u32le(h + 4, (uint32_t)(ts_ns % 1000000000ull / 1000));
	put_u32le(h + 8, (uint32_t)len);
	put_u32le(h + 12, (uint32_t)len);
	if (fwrite(h, 1, 16, out) != 16 || fwrite(frame, 1, len, out) != len) {
		perror("write");
		exit(1);
	}
	npk++;
	nbytes += len;
}

static void emit(struct flow *f, const struct desc *d)
{
	static uint8_t frame[2048], pl[2048];
	size_t plen = 0;
	struct pb_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = f->v6 ? 6 : 4;
	int c2s = d->dir == 0;
	memcpy(p.src, c2s ? f->cli : f->srv, 16);
	memcpy(p.dst, c2s ? f->srv : f->cli, 16);
	memcpy(p.smac,
	       c2s ? (const uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 }
	           : (const uint8_t[6]){ 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc },
	       6);
	memcpy(p.dmac,
	       c2s ? (const uint8_t[6]){ 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc }
	           : (const uint8_t[6]){ 0x52, 0x54, 0, 0x12, 0x34, 0x56 },
	       6);
	p.ttl = d->ttl_override ? d->ttl_override : c2s ? f->cttl : f->sttl;
	if (!f->v6) {
		p.ip_id = c2s ? f->cipid++ : f->sipid++;
		if (d->ttl_override)
			p.ip_id = (uint16_t)rnd();
		p.df = 1;
	}
	p.sport = c2s ? f->cport : f->sport;
	p.dport = c2s ? f->sport : f->cport;
	if (f->udp) {
		p.l4 = 17;
		plen = dns_msg(f, !c2s, d->kind == K_DNS_FORGED, pl);
	} else {
		p.l4 = 6;
		p.seq = d->seq;
		p.ack = d->ack;
		p.flags = d->flags;
		p.win = d->flags & TW_SYN ? (c2s ? 64240 : 65160) : (uint16_t)(c2s ? 502 + (d->seq & 63) : 501);
		if (d->flags & TW_SYN) {
			p.mss = f->mss;
			p.has_wscale = 1;
			p.wscale = c2s ? 7 : 9;
			static const uint8_t sackok[] = { 1, 1, 4, 2 };
			p.opt_raw = sackok;
			p.opt_raw_len = 4;
		}
		if (d->flags & TW_RST)
			p.win = 0;
		if (d->plen)
			plen = payload(f, d, pl);
	}
	p.payload = pl;
	p.payload_len = plen;
	size_t n = pb_build(&p, frame, sizeof(frame));
	if (!n) {
		fprintf(stderr, "gen_capture: BUG: frame too large (%zu payload)\n", plen);
		exit(1);
	}
	write_rec(d->ts, frame, n);
}

static void emit_arp(uint64_t ts)
{
	uint8_t f[60];
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	static const uint8_t mac[6] = { 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc };
	memcpy(f + 6, mac, 6);
	pb_put16(f + 12, 0x0806);
	static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4, 0, 1 };
	memcpy(f + 14, hdr, 8);
	memcpy(f + 22, mac, 6);
	f[28] = 10;
	f[29] = 20;
	f[30] = 0;
	f[31] = 1;
	f[38] = 10;
	f[39] = 20;
	f[40] = (uint8_t)rint_(0, 5);
	f[41] = (uint8_t)rint_(2, 251);
	write_rec(ts, f, 60);
	st.arp++;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 5 || (argc > 4 && strcmp(argv[4], "short") && strcmp(argv[4], "long"))) {
		fprintf(stderr, "usage: gen_capture OUT.pcap [PACKETS [SEED [long|short]]]\n");
		return 2;
	}
	short_mix = argc > 4 && !strcmp(argv[4], "short");
	/* session shares: DNS below p_dns, TLS below p_tls, HTTP below p_http,
	 * SYN black hole above */
	const double p_dns = short_mix ? 0.55 : 0.35, p_tls = 0.80, p_http = short_mix ? 0.98 : 0.97;
	const double sess_gap_ms = short_mix ? 1.0 : 3.0;
	uint64_t target = argc > 2 ? strtoull(argv[2], NULL, 10) : 1200000;
	if (argc > 3)
		rs ^= strtoull(argv[3], NULL, 10) * 0x2545f4914f6cdd1dull;
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)rnd();
	out = fopen(argv[1], "wb");
	if (!out) {
		perror(argv[1]);
		return 1;
	}
	static char obuf[1 << 20];
	setvbuf(out, obuf, _IOFBF, sizeof(obuf));
	uint8_t gh[24];
	put_u32le(gh, 0xa1b2c3d4);
	gh[4] = 2;
	gh[5] = 0;
	gh[6] = 4;
	gh[7] = 0;
	memset(gh + 8, 0, 8);
	put_u32le(gh + 16, 65535);
	put_u32le(gh + 20, 1);
	fwrite(gh, 1, sizeof(gh), out);

	uint64_t t0 = 1717243200ull * 1000000000ull; /* 2024-06-01 12:00 UTC */
	uint64_t next_sess = t0, next_arp = t0 + 500 * MS, scheduled = 0, flows = 0;
	int starting = 1;

	while (starting || hn) {
		if (starting && (!hn || next_sess <= key(heap[0]))) {
			struct flow *f = calloc(1, sizeof(*f));
			if (!f) {
				perror("calloc");
				return 1;
			}
			double u = urand();
			int hostidx = (int)rint_(0, NHOSTS - 1);
			f->host = hosts[hostidx];
			f->v6 = urand() < 0.2;
			st.v6 += (uint64_t)f->v6;
			if (u < p_dns) {
				endpoints(f, hostidx);
				uint32_t r = rint_(0, 2);
				static const uint8_t res4[3] = { 8, 1, 9 };
				static const uint16_t res6[3][3] = { { 0x2001, 0x4860, 0x4860 },
					                             { 0x2606, 0x4700, 0x4700 },
					                             { 0x2620, 0x00fe, 0x0000 } };
				if (f->v6)
					v6(f->srv, res6[r][0], res6[r][1], res6[r][2],
					   r == 2 ? 0xfe : 0x8888 >> (4 * (r == 1)));
				else
					v4(f->srv, res4[r], res4[r], res4[r], res4[r]);
				/* one resolver, one path: its IP TTL is stable */
				f->sttl = (uint8_t)(57 - 3 * r);
				sess_dns(f, next_sess);
				st.dns++;
			} else {
				endpoints(f, hostidx);
				if (u < p_tls) {
					f->sport = 443;
					sess_tls(f, next_sess, urand() < 0.02);
				} else if (u < p_http) {
					f->sport = 80;
					sess_http(f, next_sess, urand() < 0.03);
				} else {
					f->sport = 443;
					sess_blackhole(f, next_sess);
				}
			}
			qsort(f->d, f->n, sizeof(*f->d), cmp_desc);
			scheduled += f->n;
			flows++;
			hpush(f);
			next_sess += (uint64_t)rexp(sess_gap_ms * MS);
			if (scheduled >= target)
				starting = 0;
			continue;
		}
		struct flow *f = heap[0];
		const struct desc *d = &f->d[f->cur];
		if (d->ts >= next_arp) {
			emit_arp(next_arp);
			next_arp += (uint64_t)rexp(2000 * MS);
		}
		emit(f, d);
		if (++f->cur == f->n) {
			hpop();
			free(f->d);
			free(f);
		} else {
			hfix();
		}
	}
	if (fclose(out) != 0) {
		perror("close");
		return 1;
	}
	fprintf(stderr,
	        "gen_capture: %llu packets, %.1f MB, %s mix, %llu sessions (dns %llu, tls %llu, http %llu; tampered: "
	        "rst-after-clienthello %llu, http-block-page %llu, syn-blackhole %llu, forged-dns %llu); "
	        "ipv6 sessions %llu; arp %llu\n",
	        (unsigned long long)npk, nbytes / 1e6, short_mix ? "short-flow" : "long-flow",
	        (unsigned long long)flows, (unsigned long long)st.dns, (unsigned long long)st.tls,
	        (unsigned long long)st.http, (unsigned long long)st.inj_rst, (unsigned long long)st.inj_block,
	        (unsigned long long)st.blackhole, (unsigned long long)st.dns_forged, (unsigned long long)st.v6,
	        (unsigned long long)st.arp);
	return 0;
}
