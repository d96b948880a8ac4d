/* The real BPF object, loaded through the skeleton in replay mode and driven
 * with BPF_PROG_TEST_RUN: every event kind from tw_xdp and tw_tc on crafted
 * packets (IPv4, IPv6, VLAN-tagged), asserted field by field; a table of
 * malformed frames asserted against the per-CPU counters; a 9000-byte frame
 * through the xdp.frags path. */
#include "bpf_harness.h"

#define XDP_PASS_ 2
#define MARK(f0) (fails == (f0) ? "ok  " : "FAIL")
#define TC_ACT_OK_ 0

static struct harness H;
static int hook_xdp; /* the hook the current pass drives */

/* ---------------------------------------------------------------- events */

#define ANY32 0x7fffffff /* do not check */

struct ex {
	uint16_t type;
	uint8_t dir;
	uint8_t stage;
	int32_t seq_rel;
	int32_t ack_rel;    /* ANY32: not checked */
	int32_t rcv_window; /* ANY32: not checked */
	uint8_t in_window;
	uint8_t ttl_base;
	uint8_t state;  /* flow state after the packet */
	uint16_t flags; /* flow flags that must be set after the packet */
};

struct step {
	int c2s;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t win;
	uint8_t ttl;
	uint16_t ipid;
	const char *pl; /* payload string, or NULL and plen pattern bytes */
	size_t plen;
	int next; /* IPv6 extension headers on this packet (hop-by-hop, 8 bytes each) */
	int nev;
	struct ex ev[3];
};

struct scenario {
	const char *name;
	int xdp_only;
	struct pb_pkt base; /* client -> server */
	int nsteps;
	struct step s[14];
};

#define GET "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
#define GETLEN ((uint32_t)sizeof(GET) - 1)
#define RESP "HTTP/1.1 200 OK\r\n\r\n"
#define RESPLEN ((uint32_t)sizeof(RESP) - 1)

#define C 1
#define S 0
#define SYN TW_TCP_SYN
#define ACK TW_TCP_ACK
#define RST TW_TCP_RST
#define FIN TW_TCP_FIN
#define PSH TW_TCP_PSH

static const struct scenario scenarios[] = {
	{ "IPv4 TCP, client on the high side: handshake, data, 3 injected RSTs, data after RST, FIN",
	  0,
	  { .family = 4, .src = { 192, 168, 1, 10 }, .dst = { 10, 1, 1, 1 }, .sport = 40000, .dport = 80, .df = 1 },
	  11,
	  {
	          { C, SYN, 1000, 0, 64240, 64, 0x100, NULL, 0, 0, 0, { { 0 } } },
	          { S, SYN | ACK, 5000, 1001, 65160, 50, 0, NULL, 0, 0, 0, { { 0 } } },
	          { C,
	            ACK,
	            1001,
	            5001,
	            502,
	            64,
	            0x101,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_HANDSHAKE, TW_DIR_C2S, TW_STAGE_HANDSHAKE, 0, 0, 65160, 1, 64, TW_TCP_ESTABLISHED,
	                0 } } },
	          { C,
	            PSH | ACK,
	            1001,
	            5001,
	            502,
	            64,
	            0x102,
	            GET,
	            GETLEN,
	            0,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_HANDSHAKE, 0, 0, 65160, 1, 64, TW_TCP_ESTABLISHED,
	                TW_FLOW_CLIENT_DATA } } },
	          { S,
	            RST | ACK,
	            5001,
	            1001 + GETLEN,
	            0,
	            61,
	            0x4000,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_RST, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, 502 << 7, 1, 50, TW_TCP_RESET,
	                TW_FLOW_CLIENT_DATA } } },
	          { S,
	            RST,
	            5001 + 1460,
	            0,
	            0,
	            62,
	            0x4001,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_RST, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 1460, -(int32_t)(1001 + GETLEN), 502 << 7, 1, 50,
	                TW_TCP_RESET, 0 } } },
	          { S,
	            RST | ACK,
	            5001 + 200000,
	            1001 + GETLEN,
	            0,
	            63,
	            0x4002,
	            "blocked",
	            7,
	            0,
	            1,
	            { { TW_EV_RST, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 200000, 0, 502 << 7, 0, 50, TW_TCP_RESET, 0 } } },
	          { S,
	            PSH | ACK,
	            5001,
	            1001 + GETLEN,
	            509,
	            50,
	            0,
	            RESP,
	            RESPLEN,
	            0,
	            2,
	            { { TW_EV_SERVER_DATA, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, 502 << 7, 1, 50, TW_TCP_RESET,
	                TW_FLOW_SERVER_DATA | TW_FLOW_DATA_AFTER_RST },
	              { TW_EV_DATA_AFTER_RST, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, 502 << 7, 1, 50, TW_TCP_RESET,
	                TW_FLOW_DATA_AFTER_RST } } },
	          { C,
	            FIN | ACK,
	            1001 + GETLEN,
	            5001 + RESPLEN,
	            502,
	            64,
	            0x103,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_FIN, TW_DIR_C2S, TW_STAGE_SERVER_DATA, 0, 0, 509 << 8, 1, 64, TW_TCP_RESET, 0 } } },
	          { S,
	            FIN | ACK,
	            5001 + RESPLEN,
	            1002 + GETLEN,
	            509,
	            50,
	            0,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_FIN, TW_DIR_S2C, TW_STAGE_SERVER_DATA, 0, 0, 502 << 7, 1, 50, TW_TCP_RESET, 0 } } },
	          { C, ACK, 1002 + GETLEN, 5002 + RESPLEN, 502, 64, 0x104, NULL, 0, 0, 0, { { 0 } } },
	  } },
	{ "IPv6 TCP in two VLAN tags (802.1ad 100 + 802.1Q 200), hop-by-hop on data: handshake, data both ways, FIN "
	  "both ways",
	  0,
	  { .family = 6,
	    .nvlan = 2,
	    .vlan_tci = { 100, 200 },
	    .src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	    .dst = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x80 },
	    .sport = 50000,
	    .dport = 443 },
	  9,
	  {
	          { C, SYN, 0xfffff000u, 0, 65535, 64, 0, NULL, 0, 0, 0, { { 0 } } },
	          { S, SYN | ACK, 77, 0xfffff001u, 65535, 57, 0, NULL, 0, 0, 0, { { 0 } } },
	          { C,
	            ACK,
	            0xfffff001u,
	            78,
	            1000,
	            64,
	            0,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_HANDSHAKE, TW_DIR_C2S, TW_STAGE_HANDSHAKE, 0, 0, 65535, 1, 64, TW_TCP_ESTABLISHED,
	                0 } } },
	          { C,
	            PSH | ACK,
	            0xfffff001u,
	            78,
	            1000,
	            64,
	            0,
	            NULL,
	            600,
	            1,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_HANDSHAKE, 0, 0, 65535, 1, 64, TW_TCP_ESTABLISHED,
	                TW_FLOW_CLIENT_DATA } } },
	          { S,
	            PSH | ACK,
	            78,
	            0xfffff259u,
	            2000,
	            57,
	            0,
	            NULL,
	            1400,
	            2,
	            1,
	            { { TW_EV_SERVER_DATA, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, 1000 << 7, 1, 57, TW_TCP_ESTABLISHED,
	                TW_FLOW_SERVER_DATA } } },
	          { C,
	            FIN | ACK,
	            0xfffff259u,
	            78 + 1400,
	            1000,
	            64,
	            0,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_FIN, TW_DIR_C2S, TW_STAGE_SERVER_DATA, 0, 0, 2000 << 8, 1, 64, TW_TCP_CLOSING, 0 } } },
	          { C, FIN | ACK, 0xfffff259u, 78 + 1400, 1000, 64, 0, NULL, 0, 0, 0, { { 0 } } },
	          { S,
	            FIN | ACK,
	            78 + 1400,
	            0xfffff25au,
	            2000,
	            57,
	            0,
	            NULL,
	            0,
	            0,
	            1,
	            { { TW_EV_FIN, TW_DIR_S2C, TW_STAGE_SERVER_DATA, 0, 0, 1000 << 7, 1, 57, TW_TCP_CLOSED, 0 } } },
	          { C, ACK, 0xfffff25au, 79 + 1400, 1000, 64, 0, NULL, 0, 0, 0, { { 0 } } },
	  } },
	{ "IPv4 UDP/53 in one VLAN tag: query, two responses (the second a forged one)",
	  0,
	  { .family = 4,
	    .l4 = 17,
	    .nvlan = 1,
	    .vlan_tci = { 7 },
	    .src = { 10, 0, 0, 5 },
	    .dst = { 8, 8, 8, 8 },
	    .sport = 33333,
	    .dport = 53 },
	  3,
	  {
	          { C,
	            0,
	            0,
	            0,
	            0,
	            64,
	            0x2222,
	            NULL,
	            33,
	            0,
	            1,
	            { { TW_EV_DNS_QUERY, TW_DIR_C2S, TW_STAGE_SYN, 0, 0, ANY32, 1, 0, TW_TCP_NONE,
	                TW_FLOW_CLIENT_DATA } } },
	          { S,
	            0,
	            0,
	            0,
	            0,
	            120,
	            0x3333,
	            NULL,
	            49,
	            0,
	            1,
	            { { TW_EV_DNS_RESPONSE, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, ANY32, 1, 0, TW_TCP_NONE,
	                TW_FLOW_SERVER_DATA } } },
	          { S,
	            0,
	            0,
	            0,
	            0,
	            55,
	            0x3334,
	            NULL,
	            61,
	            0,
	            1,
	            { { TW_EV_DNS_RESPONSE, TW_DIR_S2C, TW_STAGE_SERVER_DATA, 0, 0, ANY32, 1, 120, TW_TCP_NONE,
	                TW_FLOW_SERVER_DATA } } },
	  } },
	{ "IPv4 UDP/443 (QUIC): the client's 1250-byte first datagram kept whole, the server's cut to 1024, no event "
	  "for the next",
	  0,
	  { .family = 4, .l4 = 17, .src = { 10, 0, 0, 6 }, .dst = { 203, 0, 113, 7 }, .sport = 50000, .dport = 443 },
	  3,
	  {
	          { C,
	            0,
	            0,
	            0,
	            0,
	            64,
	            0x4444,
	            NULL,
	            1250,
	            0,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_SYN, 0, 0, ANY32, 1, 0, TW_TCP_NONE,
	                TW_FLOW_CLIENT_DATA } } },
	          { S,
	            0,
	            0,
	            0,
	            0,
	            50,
	            0x5555,
	            NULL,
	            1250,
	            0,
	            1,
	            { { TW_EV_SERVER_DATA, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, ANY32, 1, 0, TW_TCP_NONE,
	                TW_FLOW_SERVER_DATA } } },
	          { C, 0, 0, 0, 0, 64, 0x4445, NULL, 1250, 0, 0, { { 0 } } },
	  } },
	{ "IPv6 UDP/8443: a 1250-byte client first datagram cut to 1024 (not QUIC's port)",
	  0,
	  { .family = 6,
	    .l4 = 17,
	    .src = { 0xfd, [15] = 6 },
	    .dst = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 },
	    .sport = 50001,
	    .dport = 8443 },
	  1,
	  {
	          { C,
	            0,
	            0,
	            0,
	            0,
	            64,
	            0,
	            NULL,
	            1250,
	            0,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_SYN, 0, 0, ANY32, 1, 0, TW_TCP_NONE,
	                TW_FLOW_CLIENT_DATA } } },
	  } },
	{ "IPv6 UDP/53: query, response",
	  0,
	  { .family = 6,
	    .l4 = 17,
	    .src = { 0xfd, [15] = 9 },
	    .dst = { 0x20, 0x01, 0x48, 0x60, [15] = 0x88 },
	    .sport = 5353,
	    .dport = 53 },
	  2,
	  {
	          { C,
	            0,
	            0,
	            0,
	            0,
	            64,
	            0,
	            NULL,
	            40,
	            0,
	            1,
	            { { TW_EV_DNS_QUERY, TW_DIR_C2S, TW_STAGE_SYN, 0, 0, ANY32, 1, 0, TW_TCP_NONE, 0 } } },
	          { S,
	            0,
	            0,
	            0,
	            0,
	            52,
	            0,
	            NULL,
	            100,
	            0,
	            1,
	            { { TW_EV_DNS_RESPONSE, TW_DIR_S2C, TW_STAGE_CLIENT_DATA, 0, 0, ANY32, 1, 0, TW_TCP_NONE, 0 } } },
	  } },
	{ "IPv4 TCP mid-stream, 1400-byte client payload: snippet capped at 1024",
	  0,
	  { .family = 4, .src = { 10, 0, 0, 9 }, .dst = { 10, 0, 0, 1 }, .sport = 40001, .dport = 443 },
	  1,
	  {
	          { C,
	            PSH | ACK,
	            123456,
	            654321,
	            800,
	            64,
	            9,
	            NULL,
	            1400,
	            0,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_MIDSTREAM, 123456, 654321, 0, 1, 0, TW_TCP_NONE,
	                TW_FLOW_MIDSTREAM | TW_FLOW_CLIENT_DATA } } },
	  } },
	{ "IPv4 TCP mid-stream, 9000-byte frame (xdp.frags): snippet capped at 1024",
	  1,
	  { .family = 4, .src = { 10, 0, 0, 9 }, .dst = { 10, 0, 0, 1 }, .sport = 40002, .dport = 443 },
	  1,
	  {
	          { C,
	            PSH | ACK,
	            1,
	            2,
	            800,
	            64,
	            9,
	            NULL,
	            9000 - 54,
	            0,
	            1,
	            { { TW_EV_CLIENT_DATA, TW_DIR_C2S, TW_STAGE_MIDSTREAM, 1, 2, 0, 1, 0, TW_TCP_NONE,
	                TW_FLOW_MIDSTREAM | TW_FLOW_CLIENT_DATA } } },
	  } },
	{ "IPv6 TCP SYN-ACK first, 9000-byte frame whose payload starts 3146 bytes in (snippet spans the linear part "
	  "and the frags)",
	  1,
	  { .family = 6, .src = { 0xfd, [15] = 1 }, .dst = { 0xfd, [15] = 2 }, .sport = 40003, .dport = 443 },
	  2,
	  {
	          { S, SYN | ACK, 9, 101, 1000, 60, 0, NULL, 0, 0, 0, { { 0 } } },
	          { S,
	            PSH | ACK,
	            10,
	            101,
	            1000,
	            60,
	            0,
	            NULL,
	            0,
	            3,
	            1,
	            { { TW_EV_SERVER_DATA, TW_DIR_S2C, TW_STAGE_HANDSHAKE, 0, 101, 0, 1, 60, TW_TCP_SYN_RCVD,
	                TW_FLOW_SYNACK_FIRST | TW_FLOW_SERVER_DATA } } },
	  } },
};

static uint8_t frame[16384];
static uint8_t payload_buf[16384];

/* Build step st of scenario sc. */
static size_t build_step(const struct scenario *sc, const struct step *st, struct pb_pkt *d)
{
	*d = sc->base;
	if (!st->c2s) {
		memcpy(d->src, sc->base.dst, 16);
		memcpy(d->dst, sc->base.src, 16);
		d->sport = sc->base.dport;
		d->dport = sc->base.sport;
	}
	d->flags = st->flags;
	d->seq = st->seq;
	d->ack = st->ack;
	d->win = st->win;
	d->ttl = st->ttl;
	d->ip_id = st->ipid;
	if (st->flags & TW_TCP_SYN) {
		d->mss = 1460;
		d->has_wscale = 1;
		d->wscale = st->c2s ? 7 : 8;
	}
	if (st->next == 3) {
		/* jumbo: hop-by-hop 2048 + dest opts 1024 bytes, payload to 9000 */
		d->next = 2;
		d->ext[0] = (struct pb_ext){ .type = 0, .hdrlen = 255 };
		d->ext[1] = (struct pb_ext){ .type = 60, .hdrlen = 127 };
		d->payload_len = 9000 - (14 + 40 + 2048 + 1024 + 20);
	} else {
		d->next = st->next;
		for (int i = 0; i < st->next; i++)
			d->ext[i] = (struct pb_ext){ .type = i == 0 ? 0 : 60, .hdrlen = 0 };
		d->payload_len = st->pl ? strlen(st->pl) : st->plen;
	}
	if (st->pl) {
		d->payload = st->pl;
	} else {
		for (size_t i = 0; i < d->payload_len; i++)
			payload_buf[i] = (uint8_t)(i * 7 + st->seq + 1);
		d->payload = payload_buf;
	}
	return pb_build(d, frame, sizeof(frame));
}

static void check_event(const char *what, const struct tw_event *e, size_t len, const struct ex *x,
                        const struct scenario *sc, const struct pb_pkt *d, uint64_t now, uint64_t flow_id,
                        uint64_t since_other, int sender_seen, uint16_t ipid_last)
{
	size_t poff = pb_payload_off(d);
	uint32_t want_snip = 0;
	if (tw_event_wants_snippet(x->type)) {
		/* a QUIC client's first datagram (UDP to 443) has the larger bound */
		uint32_t max = x->type == TW_EV_CLIENT_DATA && e->proto == 17 && sc->base.dport == 443 ? 2048 : 1024;
		want_snip = d->payload_len < max ? (uint32_t)d->payload_len : max;
	}
	const uint8_t *cli = sc->base.src, *srv = sc->base.dst;

	CHECK(e->type == x->type, "%s: type %s want %s", what, ev_name(e->type), ev_name(x->type));
	CHECK(e->version == TW_EVENT_VERSION, "%s: version %u", what, e->version);
	CHECK(e->dir == x->dir, "%s: dir %u want %u", what, e->dir, x->dir);
	CHECK(e->flow_id == flow_id && e->flow.flow_id == flow_id, "%s: flow_id %llu want %llu", what,
	      (unsigned long long)e->flow_id, (unsigned long long)flow_id);
	CHECK(e->ts_ns == now && e->ifindex == 0, "%s: ts %llu ifindex %u", what, (unsigned long long)e->ts_ns,
	      e->ifindex);
	CHECK(e->family == sc->base.family && e->proto == (sc->base.l4 ? sc->base.l4 : 6), "%s: family %u proto %u",
	      what, e->family, e->proto);
	CHECK(memcmp(e->caddr, cli, 16) == 0 && memcmp(e->saddr, srv, 16) == 0 && e->cport == sc->base.sport &&
	              e->sport == sc->base.dport,
	      "%s: tuple oriented wrong: cport %u sport %u", what, e->cport, e->sport);
	CHECK(e->ttl == d->ttl && e->tcp_flags == d->flags && e->seq == d->seq && e->ack == d->ack &&
	              e->win == d->win && e->ip_id == (d->family == 4 ? d->ip_id : 0) &&
	              e->payload_len == d->payload_len,
	      "%s: packet fields ttl %u flags %#x seq %u ack %u win %u ipid %u paylen %u", what, e->ttl, e->tcp_flags,
	      e->seq, e->ack, e->win, e->ip_id, e->payload_len);
	uint8_t want_pflags = (sc->base.nvlan ? TW_PKT_VLAN : 0) |
	                      (sc->base.family == 4 && sc->base.df ? TW_PKT_DF : 0) |
	                      ((d->flags & TW_TCP_SYN) ? TW_PKT_HAS_WSCALE : 0);
	CHECK(e->pflags == want_pflags, "%s: pflags %#x want %#x", what, e->pflags, want_pflags);
	CHECK(e->end_reason == 0 && e->reserved0 == 0 && e->reserved1[0] == 0 && e->reserved1[1] == 0, "%s: reserved",
	      what);
	/* ctx */
	CHECK(e->ctx.stage == x->stage, "%s: stage %u want %u", what, e->ctx.stage, x->stage);
	CHECK(e->ctx.seq_rel == x->seq_rel || sc->base.l4 == 17 || (d->flags & TW_TCP_SYN), "%s: seq_rel %d want %d",
	      what, e->ctx.seq_rel, x->seq_rel);
	CHECK(x->ack_rel == ANY32 || sc->base.l4 == 17 || e->ctx.ack_rel == x->ack_rel, "%s: ack_rel %d want %d", what,
	      e->ctx.ack_rel, x->ack_rel);
	CHECK(x->rcv_window == ANY32 || e->ctx.rcv_window == (uint32_t)x->rcv_window, "%s: rcv_window %u want %d", what,
	      e->ctx.rcv_window, x->rcv_window);
	CHECK(e->ctx.in_window == x->in_window, "%s: in_window %u want %u", what, e->ctx.in_window, x->in_window);
	CHECK(e->ctx.sender_ttl_base == x->ttl_base, "%s: sender_ttl_base %u want %u", what, e->ctx.sender_ttl_base,
	      x->ttl_base);
	CHECK(e->ctx.sender_seen == sender_seen, "%s: sender_seen %u want %d", what, e->ctx.sender_seen, sender_seen);
	CHECK(e->ctx.sender_ipid_last == ipid_last, "%s: sender_ipid_last %#x want %#x", what, e->ctx.sender_ipid_last,
	      ipid_last);
	CHECK(e->ctx.since_other_ns == since_other, "%s: since_other_ns %llu want %llu", what,
	      (unsigned long long)e->ctx.since_other_ns, (unsigned long long)since_other);
	/* flow snapshot */
	CHECK(e->flow.state == x->state, "%s: flow state %u want %u", what, e->flow.state, x->state);
	CHECK((e->flow.flags & x->flags) == x->flags, "%s: flow flags %#x lack %#x", what, e->flow.flags, x->flags);
	/* snippet */
	CHECK(e->snippet_len == want_snip && e->len == sizeof(*e) + want_snip && len >= sizeof(*e) + want_snip,
	      "%s: snippet_len %u len %u (record %zu) want %u", what, e->snippet_len, e->len, len, want_snip);
	CHECK(want_snip == 0 || memcmp(e->snippet, frame + poff, want_snip) == 0,
	      "%s: snippet bytes differ from the payload head", what);
	CHECK(want_snip == 0 || memcmp(e->snippet, d->payload, want_snip) == 0,
	      "%s: snippet bytes differ from the payload", what);
}

static void run_scenario(const struct scenario *sc, uint64_t flow_id)
{
	const char *hook = hook_xdp ? "xdp" : "tc";
	uint64_t last[2] = { 0, 0 }; /* per direction (0 = C2S) */
	uint16_t ipid[2] = { 0, 0 };
	int seen[2] = { 0, 0 };
	int total = 0;
	uint64_t cnt[TW_CNT_MAX];

	h_reset(&H);
	H.skel->bss->tw_next_flow_id = flow_id - 1;
	printf("---- [%s] %s\n", hook, sc->name);
	for (int i = 0; i < sc->nsteps; i++) {
		const struct step *st = &sc->s[i];
		int f0 = fails;
		struct pb_pkt d;
		size_t n = build_step(sc, st, &d);
		uint64_t now = 1000000000ull + (uint64_t)i * 1000 + (uint64_t)i * i;
		uint32_t rv = 99;
		H.got.n = 0;
		int err = h_run(&H, hook_xdp, frame, n, now, &rv);
		CHECK(err == 0, "[%s] step %d: test run failed: %s", hook, i, strerror(-err));
		CHECK(rv == (hook_xdp ? XDP_PASS_ : TC_ACT_OK_), "[%s] step %d: verdict %u", hook, i, rv);
		CHECK(H.got.n == st->nev, "[%s] step %d: %d events, want %d", hook, i, H.got.n, st->nev);
		int dir = st->c2s ? 0 : 1;
		for (int k = 0; k < H.got.n && k < st->nev; k++) {
			char what[96];
			snprintf(what, sizeof(what), "[%s] step %d event %d", hook, i, k);
			check_event(what, (const struct tw_event *)H.got.ev[k], H.got.len[k], &st->ev[k], sc, &d, now,
			            flow_id, last[!dir] && now > last[!dir] ? now - last[!dir] : 0, seen[dir],
			            ipid[dir]);
			const struct tw_event *e = (const struct tw_event *)H.got.ev[k];
			printf("%s [%s] step %2d %3zu bytes %-16s dir %s flow %llu seq %u stage %u seq_rel %d in_win "
			       "%u ttl_base %u snippet %u\n",
			       MARK(f0), hook, i, n, ev_name(e->type), e->dir ? "S2C" : "C2S",
			       (unsigned long long)e->flow_id, e->seq, e->ctx.stage, e->ctx.seq_rel, e->ctx.in_window,
			       e->ctx.sender_ttl_base, e->snippet_len);
		}
		if (st->nev == 0 && H.got.n == 0)
			printf("%s [%s] step %2d %3zu bytes no event, verdict %u\n", MARK(f0), hook, i, n, rv);
		total += st->nev;
		last[dir] = now;
		ipid[dir] = d.family == 4 ? d.ip_id : 0;
		seen[dir] = 1;
	}
	h_counters(&H, cnt);
	CHECK(cnt[TW_CNT_PACKETS] == (uint64_t)sc->nsteps && cnt[TW_CNT_TRACKED] == (uint64_t)sc->nsteps &&
	              cnt[TW_CNT_EVENTS] == (uint64_t)total && cnt[TW_CNT_FLOWS_NEW] == 1 &&
	              cnt[TW_CNT_EVENTS_LOST] == 0 && cnt[TW_CNT_SNIPPET_FAIL] == 0,
	      "[%s] counters: packets %llu tracked %llu events %llu (want %d) flows %llu lost %llu snipfail %llu", hook,
	      (unsigned long long)cnt[TW_CNT_PACKETS], (unsigned long long)cnt[TW_CNT_TRACKED],
	      (unsigned long long)cnt[TW_CNT_EVENTS], total, (unsigned long long)cnt[TW_CNT_FLOWS_NEW],
	      (unsigned long long)cnt[TW_CNT_EVENTS_LOST], (unsigned long long)cnt[TW_CNT_SNIPPET_FAIL]);
	CHECK(H.skel->bss->tw_next_flow_id == flow_id, "[%s] next flow id %llu", hook,
	      (unsigned long long)H.skel->bss->tw_next_flow_id);
}

/* -------------------------------------------------------------- malformed */

struct bad_case {
	const char *name;
	struct pb_pkt pkt;
	int cut;        /* >0: only this many bytes */
	int want;       /* parse result counted; 0 = refused by the kernel (EINVAL) */
	int tc_refused; /* the skb test run refuses it (IP header shorter than its base
			  size for the ethertype): EINVAL at TC only */
};

static const struct bad_case bad_cases[] = {
	{ "empty frame", { .family = 4 }, -1, 0, 0 },
	{ "13-byte frame (shorter than Ethernet)", { .family = 4 }, 13, 0, 0 },
	{ "truncated VLAN tag", { .family = 4, .nvlan = 1 }, 14, TW_PARSE_TRUNC_L2, 0 },
	{ "truncated 2nd VLAN tag", { .family = 4, .nvlan = 2 }, 20, TW_PARSE_TRUNC_L2, 0 },
	{ "ARP", { .family = 4, .ethertype = 0x0806 }, 42, TW_PARSE_NOT_IP, 0 },
	{ "IPv4 header cut (eth + 19)", { .family = 4 }, 33, TW_PARSE_TRUNC_L3, 1 },
	{ "IPv4 IHL 15, options cut", { .family = 4, .ip_opt_len = 40 }, 14 + 40, TW_PARSE_TRUNC_L3, 0 },
	{ "IPv6 header cut (eth + 39)", { .family = 6 }, 53, TW_PARSE_TRUNC_L3, 1 },
	{ "IPv4 IHL 4", { .family = 4, .ihl = 4 }, 0, TW_PARSE_BAD_L3, 0 },
	{ "IPv4 IHL 0", { .family = 4, .ihl = 0 + 16 }, 0, TW_PARSE_BAD_L3, 0 },
	{ "IPv6 version 4", { .family = 6, .ip_ver = 4 }, 0, TW_PARSE_BAD_L3, 0 },
	{ "IPv4 non-first fragment", { .family = 4, .frag_off = 100, .mf = 1 }, 0, TW_PARSE_FRAGMENT, 0 },
	{ "IPv6 fragment header offset 10",
	  { .family = 6, .next = 1, .ext = { { .type = 44, .frag_off = 10 } } },
	  0,
	  TW_PARSE_FRAGMENT,
	  0 },
	{ "IPv6 7 extension headers",
	  { .family = 6,
	    .next = 7,
	    .ext = { { .type = 0 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 },
	             { .type = 60 } } },
	  0,
	  TW_PARSE_IPV6_EXT_LIMIT,
	  0 },
	{ "ICMP", { .family = 4, .l4 = 1, .payload_len = 8 }, 0, TW_PARSE_OTHER_L4, 0 },
	{ "TCP header cut (19 bytes)", { .family = 4 }, 14 + 20 + 19, TW_PARSE_TRUNC_L4, 0 },
	{ "UDP header cut (7 bytes)", { .family = 6, .l4 = 17 }, 14 + 40 + 7, TW_PARSE_TRUNC_L4, 0 },
	{ "TCP data offset 4", { .family = 4, .doff = 4, .flags = TW_TCP_SYN }, 0, TW_PARSE_BAD_L4, 0 },
	{ "TCP data offset 0, VLAN",
	  { .family = 6, .nvlan = 1, .doff = 0 + 16, .flags = TW_TCP_ACK, .payload_len = 10 },
	  0,
	  TW_PARSE_BAD_L4,
	  0 },
};

static void run_bad(const struct bad_case *c)
{
	const char *hook = hook_xdp ? "xdp" : "tc";
	int f0 = fails;
	struct pb_pkt d = c->pkt;
	if (d.ihl == 16)
		d.ihl = 0; /* the raw IHL nibble 0 is written below */
	size_t n = pb_build(&d, frame, sizeof(frame));
	if (c->pkt.ihl == 16)
		frame[14] = 0x40; /* version 4, IHL 0 */
	if (c->pkt.doff == 16)
		frame[14 + 4 + 40 + 12] = 0x00; /* data offset 0 */
	if (c->cut > 0)
		n = (size_t)c->cut;
	else if (c->cut < 0)
		n = 0;

	h_reset(&H);
	uint32_t rv = 99;
	int err = h_run(&H, hook_xdp, n ? frame : NULL, n, 5, &rv);
	uint64_t cnt[TW_CNT_MAX];
	h_counters(&H, cnt);
	uint64_t sum = 0;
	for (int i = 0; i < TW_CNT_MAX; i++)
		sum += cnt[i];
	if (c->want == 0 || (c->tc_refused && !hook_xdp)) {
		CHECK(err == -EINVAL, "[%s] %s: test run %s, want EINVAL", hook, c->name,
		      err ? strerror(-err) : "succeeded");
		CHECK(sum == 0 && H.got.n == 0, "[%s] %s: refused run touched counters/events", hook, c->name);
		printf("%s [%s] malformed %-40s %4zu bytes: refused with EINVAL, no counter, no event\n", MARK(f0),
		       hook, c->name, n);
		return;
	}
	/* the userspace parser agrees on the verdict */
	struct tw_pkt p;
	memset(&p, 0, sizeof(p));
	int urc = tw_parse(frame, frame + n, &p);
	CHECK(urc == c->want, "[%s] %s: userspace parse says %s", hook, c->name, parse_name(urc));
	CHECK(err == 0 && rv == (hook_xdp ? XDP_PASS_ : TC_ACT_OK_), "[%s] %s: err %d verdict %u", hook, c->name, err,
	      rv);
	CHECK(cnt[TW_CNT_PARSE_BASE + c->want] == 1, "[%s] %s: counter %s = %llu", hook, c->name, parse_name(c->want),
	      (unsigned long long)cnt[TW_CNT_PARSE_BASE + c->want]);
	CHECK(cnt[TW_CNT_PACKETS] == 1 && cnt[TW_CNT_BYTES] == n && cnt[TW_CNT_TRACKED] == 0 &&
	              cnt[TW_CNT_EVENTS] == 0 && cnt[TW_CNT_FLOWS_NEW] == 0,
	      "[%s] %s: packets %llu bytes %llu tracked %llu events %llu", hook, c->name,
	      (unsigned long long)cnt[TW_CNT_PACKETS], (unsigned long long)cnt[TW_CNT_BYTES],
	      (unsigned long long)cnt[TW_CNT_TRACKED], (unsigned long long)cnt[TW_CNT_EVENTS]);
	CHECK(sum == 2 + n, "[%s] %s: other counters moved (sum %llu)", hook, c->name, (unsigned long long)sum);
	CHECK(H.got.n == 0, "[%s] %s: %d events", hook, c->name, H.got.n);
	CHECK(h_flow_count(&H, NULL, NULL) == 0, "[%s] %s: a flow was created", hook, c->name);
	printf("%s [%s] malformed %-40s %4zu bytes: verdict %u, counted %s, no event\n", MARK(f0), hook, c->name, n, rv,
	       parse_name(c->want));
}

/* a valid 9000-byte frame of a non-TCP/UDP protocol and a valid jumbo UDP
 * without payload event interest: the frags path accounts them */
static void run_jumbo_counters(void)
{
	int f0 = fails;
	struct pb_pkt d = { .family = 4, .l4 = 17, .sport = 40000, .dport = 4000, .payload_len = 9000 - 42 };
	size_t n = pb_build(&d, frame, sizeof(frame));
	h_reset(&H);
	uint32_t rv = 99;
	int err = h_run(&H, 1, frame, n, 5, &rv);
	uint64_t cnt[TW_CNT_MAX];
	h_counters(&H, cnt);
	CHECK(err == 0 && rv == XDP_PASS_, "jumbo UDP: err %d rv %u", err, rv);
	CHECK(cnt[TW_CNT_BYTES] == 9000 && cnt[TW_CNT_TRACKED] == 1 && H.got.n == 1, "jumbo UDP: bytes %llu events %d",
	      (unsigned long long)cnt[TW_CNT_BYTES], H.got.n);
	if (H.got.n == 1) {
		const struct tw_event *e = (const struct tw_event *)H.got.ev[0];
		CHECK(e->type == TW_EV_CLIENT_DATA && e->snippet_len == 1024 && e->payload_len == 9000 - 42 &&
		              memcmp(e->snippet, frame + 42, 1024) == 0 && tw_dir_bytes(&e->flow.dir[0]) == 9000,
		      "jumbo UDP event type %u snippet %u", e->type, e->snippet_len);
	}
	printf("%s [xdp] 9000-byte UDP frame: verdict PASS, bytes counted 9000 (whole frags buffer), CLIENT_DATA "
	       "snippet 1024\n",
	       MARK(f0));

	/* TC: the kernel's skb test run takes at most about a page */
	f0 = fails;
	err = h_run(&H, 0, frame, n, 6, &rv);
	CHECK(err == -EINVAL, "tc 9000-byte test run: %s", err ? strerror(-err) : "accepted");
	printf("%s [tc]  9000-byte frame refused by the skb test run (EINVAL): jumbo covered through XDP only\n",
	       MARK(f0));
}

int main(void)
{
	h_open(&H);
	for (hook_xdp = 1; hook_xdp >= 0; hook_xdp--) {
		uint64_t fid = hook_xdp ? 1 : 101;
		for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
			if (scenarios[i].xdp_only && !hook_xdp)
				continue;
			run_scenario(&scenarios[i], fid++);
		}
		for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
			run_bad(&bad_cases[i]);
	}
	run_jumbo_counters();
	if (H.overflow)
		CHECK(0, "ring buffer callback overflowed %d times", H.overflow);
	h_close(&H);
	printf("%s: %d checks, %d failures\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
