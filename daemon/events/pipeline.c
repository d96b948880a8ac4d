#include "events/pipeline.h"
#include "util/jsonbuf.h"
#include "events/proto.h"
#include "verdicts/verdict.h"
#include "outputs/evidence.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

void tw_pipeline_init(struct tw_pipeline *pl, struct tw_output *out, const struct tw_pipeline_opts *opt)
{
	memset(pl, 0, sizeof(*pl));
	pl->out = out;
	pl->opt = *opt;
}

/* IPv4 by hand: glibc's inet_ntop formats it through sprintf, once or
 * twice per line written */
static size_t put_u8(char *o, unsigned v)
{
	size_t n = 0;
	if (v >= 100)
		o[n++] = (char)('0' + v / 100);
	if (v >= 10)
		o[n++] = (char)('0' + v / 10 % 10);
	o[n++] = (char)('0' + v % 10);
	return n;
}

void tw_addr_str(int family, const uint8_t *addr, char *out, size_t cap)
{
	if (family != TW_FAMILY_IPV6 && cap >= 16) {
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			if (i)
				out[n++] = '.';
			n += put_u8(out + n, addr[i]);
		}
		out[n] = 0;
		return;
	}
	if (!inet_ntop(family == TW_FAMILY_IPV6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

void tw_prefix_str(int family, const uint8_t *addr, int plen, char *out, size_t cap)
{
	uint8_t masked[16] = { 0 };
	int bytes = family == TW_FAMILY_IPV6 ? 16 : 4;
	int maxlen = bytes * 8;

	if (plen < 0 || plen > maxlen)
		plen = maxlen;
	for (int i = 0; i < bytes; i++) {
		int bits = plen - i * 8;
		uint8_t m = bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
		masked[i] = addr[i] & m;
	}
	tw_addr_str(family, masked, out, cap);
	size_t n = strlen(out);
	if (n + 5 <= cap) {
		out[n++] = '/';
		n += put_u8(out + n, (unsigned)plen);
		out[n] = 0;
	}
}

static const char *const type_names[TW_EV_TYPE_MAX] = {
	[TW_EV_HANDSHAKE] = "handshake",
	[TW_EV_CLIENT_DATA] = "payload",
	[TW_EV_SERVER_DATA] = "payload",
	[TW_EV_RST] = "rst",
	[TW_EV_FIN] = "fin",
	[TW_EV_DATA_AFTER_RST] = "data_after_rst",
	[TW_EV_DNS_QUERY] = "dns",
	[TW_EV_DNS_RESPONSE] = "dns",
	[TW_EV_FLOW_END] = "flow",
};

const char *tw_event_type_name(unsigned type)
{
	return type < TW_EV_TYPE_MAX && type_names[type] ? type_names[type] : "unknown";
}

static const char *stage_name(unsigned s)
{
	switch (s) {
	case TW_STAGE_SYN: return "after_syn";
	case TW_STAGE_HANDSHAKE: return "after_handshake";
	case TW_STAGE_CLIENT_DATA: return "after_request";
	case TW_STAGE_SERVER_DATA: return "after_response";
	case TW_STAGE_MIDSTREAM: return "midstream";
	}
	return "unknown";
}

static const char *state_name(unsigned s)
{
	static const char *const n[] = { "none", "syn_sent", "syn_rcvd", "established", "closing", "closed", "reset" };
	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

static const char *end_reason_name(unsigned r)
{
	static const char *const n[] = { "none", "closed", "idle", "flush" };
	return r < sizeof(n) / sizeof(n[0]) ? n[r] : "unknown";
}

static void tcp_flags_str(uint8_t f, char *out)
{
	static const char letters[] = "FSRPAU";
	int n = 0;
	for (int i = 0; i < 6; i++)
		if (f & (1u << i))
			out[n++] = letters[i];
	out[n] = 0;
}

static void dir_json(struct tw_jb *b, const char *key, const struct tw_dir_state *d)
{
	tw_jb_obj_open(b, key);
	tw_jb_u64(b, "pkts", d->packets);
	tw_jb_u64(b, "bytes", d->bytes);
	tw_jb_u64(b, "payload_bytes", d->payload_bytes);
	tw_jb_u64(b, "retrans", d->retrans);
	tw_jb_u64(b, "syn", d->syn_count);
	tw_jb_u64(b, "fin", d->fin_count);
	tw_jb_u64(b, "rst", d->rst_count);
	if (d->packets) {
		tw_jb_u64(b, "ttl_base", d->ttl_base);
		tw_jb_u64(b, "ttl_min", d->ttl_min);
		tw_jb_u64(b, "ttl_max", d->ttl_max);
	}
	if (d->wscale != 0xff)
		tw_jb_u64(b, "wscale", d->wscale);
	tw_jb_obj_close(b);
}

/* What the snippet says, parsed here rather than in the kernel: the TLS
 * SNI and HTTP Host of a request, the status of a response, a DNS message.
 * Request paths and bodies are user data and are not written. */
static void payload_json(struct tw_jb *b, const struct tw_event *e)
{
	const uint8_t *p = e->snippet;
	size_t n = e->snippet_len;

	if (e->type == TW_EV_DNS_QUERY || e->type == TW_EV_DNS_RESPONSE) {
		struct tw_dns_msg m;
		enum tw_parse_rc rc = tw_parse_dns(p, n, &m);
		tw_jb_obj_open(b, "dns");
		tw_jb_str(b, "type", e->type == TW_EV_DNS_QUERY ? "query" : "answer");
		if (rc == TW_PAYLOAD_MALFORMED || rc == TW_PAYLOAD_NOT_THIS) {
			tw_jb_str(b, "parse", tw_parse_rc_str(rc));
			tw_jb_obj_close(b);
			return;
		}
		tw_jb_u64(b, "id", m.id);
		tw_jb_str(b, "rrname", m.qname);
		tw_jb_u64(b, "rrtype", m.qtype);
		if (e->type == TW_EV_DNS_RESPONSE) {
			tw_jb_u64(b, "rcode", m.rcode);
			tw_jb_arr_open(b, "answers");
			for (int i = 0; i < m.n_answers; i++) {
				char a[INET6_ADDRSTRLEN];
				const struct tw_dns_answer *x = &m.answers[i];
				if (x->family == 4 || x->family == 6) {
					tw_addr_str(x->family == 6 ? TW_FAMILY_IPV6 : TW_FAMILY_IPV4, x->addr, a,
					            sizeof(a));
					tw_jb_str(b, NULL, a);
				} else if (x->cname[0]) {
					tw_jb_str(b, NULL, x->cname);
				}
			}
			tw_jb_arr_close(b);
		}
		if (rc == TW_PAYLOAD_TRUNCATED)
			tw_jb_str(b, "parse", "truncated");
		tw_jb_obj_close(b);
		return;
	}
	if (e->proto != TW_PROTO_TCP)
		return;
	if (e->dir == TW_DIR_C2S) {
		struct tw_tls_hello h;
		struct tw_http_req r;
		if (tw_parse_tls_client_hello(p, n, &h) <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "tls");
			tw_jb_str(b, "sni", h.has_sni ? h.sni : NULL);
			if (h.has_ech)
				tw_jb_bool(b, "ech", 1);
			if (h.has_esni)
				tw_jb_bool(b, "esni", 1);
			tw_jb_obj_close(b);
		} else if (tw_parse_http_request(p, n, &r) <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "http");
			tw_jb_str(b, "hostname", r.host[0] ? r.host : NULL);
			tw_jb_str(b, "http_method", r.method);
			tw_jb_obj_close(b);
		}
	} else {
		struct tw_http_resp r;
		struct tw_tls_server t;
		if (tw_parse_http_response(p, n, &r) <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "http");
			tw_jb_u64(b, "status", (uint64_t)r.status);
			if (r.title[0])
				tw_jb_str(b, "title", r.title);
			if (r.location[0])
				tw_jb_str(b, "redirect", r.location);
			tw_jb_obj_close(b);
		} else if (tw_parse_tls_server_first(p, n, &t) <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "tls");
			if (t.is_alert) {
				tw_jb_u64(b, "alert_level", t.alert_level);
				tw_jb_u64(b, "alert_description", t.alert_desc);
			} else {
				tw_jb_bool(b, "server_hello", t.is_server_hello);
			}
			tw_jb_obj_close(b);
		}
	}
}

/* Reject what no producer of ours writes: a record from another version, a
 * length that does not add up, a type we do not know. */
static int valid(const struct tw_event *e, size_t len)
{
	if (len < sizeof(*e) || e->version != TW_EVENT_VERSION)
		return 0;
	if (e->type == 0 || e->type >= TW_EV_TYPE_MAX)
		return 0;
	if (e->snippet_len > TW_SNIPPET_MAX || e->len != sizeof(*e) + e->snippet_len || e->len > len)
		return 0;
	if (e->family != TW_FAMILY_IPV4 && e->family != TW_FAMILY_IPV6)
		return 0;
	return 1;
}

void tw_pipeline_tick(struct tw_pipeline *pl, uint64_t now_ns, int final)
{
	uint64_t wall = (uint64_t)((int64_t)now_ns + pl->opt.clock_offset_ns);
	for (int i = 0; i < pl->nticks; i++)
		pl->ticks[i].fn(pl->ticks[i].arg, wall, final);
}

int tw_pipeline_add_tick(struct tw_pipeline *pl, tw_tick_fn fn, void *arg)
{
	if (pl->nticks == TW_PIPELINE_MAX_TICKS)
		return -1;
	pl->ticks[pl->nticks].fn = fn;
	pl->ticks[pl->nticks].arg = arg;
	pl->nticks++;
	return 0;
}

/* Detector lines (alerts, stats, link and gap records) are few and go to
 * the file at once, with the events queued before them: an alert is in the
 * log before a state file can record it (aggregate.c), and a consumer sees
 * it without waiting for the next flush. */
void tw_pipeline_line(struct tw_pipeline *pl, const char *line, size_t len)
{
	tw_output_write(pl->out, line, len);
	tw_output_flush(pl->out);
	if (pl->tap)
		pl->tap(pl->tap_arg, line, len);
}

void tw_pipeline_event(struct tw_pipeline *pl, const struct tw_event *e, size_t len)
{
	static char buf[16384];
	struct tw_jb b;
	char a[INET6_ADDRSTRLEN + 8], flags[8];
	int fam = e->family;

	if (!valid(e, len)) {
		pl->malformed++;
		return;
	}
	pl->events[e->type]++;

	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", (uint64_t)((int64_t)e->ts_ns + pl->opt.clock_offset_ns));
	tw_jb_str(&b, "event_type", tw_event_type_name(e->type));
	tw_jb_u64(&b, "flow_id", e->flow_id);
	if (e->ifindex) {
		char ifn[IF_NAMESIZE] = "";
		if (if_indextoname(e->ifindex, ifn))
			tw_jb_str(&b, "in_iface", ifn);
	}
	/* privacy: the client is only ever named by its prefix */
	tw_prefix_str(fam, e->caddr, fam == TW_FAMILY_IPV6 ? pl->opt.v6_prefix : pl->opt.v4_prefix, a, sizeof(a));
	tw_jb_str(&b, "src_prefix", a);
	tw_jb_u64(&b, "src_port", e->cport);
	tw_addr_str(fam, e->saddr, a, sizeof(a));
	tw_jb_str(&b, "dest_ip", a);
	tw_jb_u64(&b, "dest_port", e->sport);
	tw_jb_str(&b, "proto", e->proto == TW_PROTO_TCP ? "TCP" : "UDP");

	if (e->type != TW_EV_FLOW_END) {
		tw_jb_str(&b, "direction", e->dir == TW_DIR_C2S ? "to_server" : "to_client");
		tw_jb_obj_open(&b, "packet");
		tw_jb_u64(&b, "ttl", e->ttl);
		if (fam == TW_FAMILY_IPV4)
			tw_jb_u64(&b, "ip_id", e->ip_id);
		if (e->proto == TW_PROTO_TCP) {
			tcp_flags_str(e->tcp_flags, flags);
			tw_jb_str(&b, "tcp_flags", flags);
			tw_jb_u64(&b, "seq", e->seq);
			tw_jb_u64(&b, "ack", e->ack);
			tw_jb_u64(&b, "win", e->win);
		}
		tw_jb_u64(&b, "payload_len", e->payload_len);
		tw_jb_obj_close(&b);
		if (e->proto == TW_PROTO_TCP) {
			const struct tw_pkt_ctx *c = &e->ctx;
			tw_jb_obj_open(&b, "context");
			tw_jb_str(&b, "stage", stage_name(c->stage));
			if (c->sender_seen) {
				tw_jb_i64(&b, "seq_rel", c->seq_rel);
				tw_jb_bool(&b, "in_window", c->in_window);
				tw_jb_u64(&b, "sender_ttl_base", c->sender_ttl_base);
				tw_jb_u64(&b, "sender_ttl_prev", c->sender_ttl_last);
				if (fam == TW_FAMILY_IPV4)
					tw_jb_u64(&b, "sender_ipid_prev", c->sender_ipid_last);
			} else {
				tw_jb_bool(&b, "sender_seen", 0);
			}
			tw_jb_i64(&b, "ack_rel", c->ack_rel);
			tw_jb_u64(&b, "since_other_us", c->since_other_ns / 1000);
			tw_jb_obj_close(&b);
		}
		if (e->snippet_len) {
			payload_json(&b, e);
			tw_jb_u64(&b, "snippet_len", e->snippet_len);
			if (pl->opt.events_payload)
				tw_jb_base64(&b, "snippet", e->snippet, e->snippet_len);
		}
	}

	const struct tw_flow *f = &e->flow;
	tw_jb_obj_open(&b, "flow");
	if (e->proto == TW_PROTO_TCP)
		tw_jb_str(&b, "state", state_name(f->state));
	if (e->type == TW_EV_FLOW_END) {
		tw_jb_str(&b, "end_reason", end_reason_name(e->end_reason));
		uint64_t first = f->dir[0].first_ns && (!f->dir[1].first_ns || f->dir[0].first_ns < f->dir[1].first_ns)
		                         ? f->dir[0].first_ns
		                         : f->dir[1].first_ns;
		tw_jb_time(&b, "start", (uint64_t)((int64_t)first + pl->opt.clock_offset_ns));
		tw_jb_time(&b, "end", (uint64_t)((int64_t)e->ts_ns + pl->opt.clock_offset_ns));
	}
	if (f->flags & TW_FLOW_MIDSTREAM)
		tw_jb_bool(&b, "midstream", 1);
	if (f->flags & TW_FLOW_SYNACK_FIRST)
		tw_jb_bool(&b, "syn_missed", 1);
	if (!f->dir[0].packets || !f->dir[1].packets)
		tw_jb_bool(&b, "one_way", 1);
	if (f->flags & TW_FLOW_DATA_AFTER_RST)
		tw_jb_bool(&b, "data_after_rst", 1);
	if (e->type == TW_EV_FLOW_END || e->type == TW_EV_RST) {
		dir_json(&b, "to_server", &f->dir[TW_DIR_C2S]);
		dir_json(&b, "to_client", &f->dir[TW_DIR_S2C]);
	}
	tw_jb_obj_close(&b);
	tw_jb_obj_close(&b);

	long n = tw_jb_end(&b);
	if (n < 0)
		pl->json_overflow++;
	else
		tw_output_write(pl->out, buf, (size_t)n);
	if (pl->verdict)
		tw_verdict_event(pl->verdict, e);
	if (pl->evidence)
		tw_evidence_event(pl->evidence, e);
}
