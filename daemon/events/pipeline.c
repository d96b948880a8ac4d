#include "events/pipeline.h"
#include "util/jsonbuf.h"
#include "events/proto.h"
#include <tamperwatch/rate_track.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <tamperwatch/classify.h>

void tw_pipeline_init(struct tw_pipeline *pl, const struct tw_pipeline_opts *opt)
{
	memset(pl, 0, sizeof(*pl));
	pl->opt = *opt;
}

int tw_pipeline_add_consumer(struct tw_pipeline *pl, const char *name, tw_event_fn fn, void *arg)
{
	if (pl->nconsumers == TW_PIPELINE_MAX_CONSUMERS)
		return -1;
	pl->consumers[pl->nconsumers].name = name;
	pl->consumers[pl->nconsumers].fn = fn;
	pl->consumers[pl->nconsumers].arg = arg;
	pl->nconsumers++;
	return 0;
}

int tw_pipeline_add_prefetch(struct tw_pipeline *pl, tw_prefetch_fn fn, void *arg)
{
	if (pl->nprefetch == TW_PIPELINE_MAX_CONSUMERS)
		return -1;
	pl->prefetch[pl->nprefetch].fn = fn;
	pl->prefetch[pl->nprefetch].arg = arg;
	pl->nprefetch++;
	return 0;
}

void tw_event_writer_init(struct tw_event_writer *w, const struct tw_pipeline_opts *opt, tw_line_fn fn, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->opt = opt;
	w->ev_on = ~0u;
	w->out.fn = fn;
	w->out.arg = arg;
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
	[TW_EV_FLOW_RATE] = "flow_rate",
};

const char *tw_event_type_name(unsigned type)
{
	return type < TW_EV_TYPE_MAX && type_names[type] ? type_names[type] : "unknown";
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
	tw_jb_u64(b, "bytes", tw_dir_bytes(d));
	tw_jb_u64(b, "payload_bytes", tw_dir_payload_bytes(d));
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

/* Rate evidence of one direction's data (include/tamperwatch/rate.h) */
static void rate_json(struct tw_jb *b, const char *key, const struct tw_flow *f, int dir)
{
	const struct tw_rate_dir *r = &f->rate[dir];
	tw_jb_obj_open(b, key);
	if (f->flags & (dir == TW_DIR_C2S ? TW_FLOW_CLIENT_DATA : TW_FLOW_SERVER_DATA))
		tw_jb_u64(b, "delivered", tw_rate_delivered(f, dir));
	if (r->rtt_min) {
		tw_jb_u64(b, "rtt_min_us", ((uint64_t)r->rtt_min << TW_RATE_RTT_SHIFT) / 1000);
		tw_jb_u64(b, "rtt_max_us", ((uint64_t)r->rtt_max << TW_RATE_RTT_SHIFT) / 1000);
	}
	tw_jb_u64(b, "loss_episodes", r->loss_eps);
	tw_jb_u64(b, "dupacks", r->dupacks);
	tw_jb_u64(b, "window_full", r->win_full);
	tw_jb_u64(b, "idle_sends", r->idle_sends);
	tw_jb_obj_close(b);
}

/* What the snippet says, parsed in userspace rather than in the kernel,
 * once per event for every consumer (pipeline.h). */
static void decode(struct tw_decoded_event *d, const struct tw_event *e)
{
	const uint8_t *p = e->snippet;
	size_t n = e->snippet_len;

	d->ev = e;
	d->view = TW_VIEW_NONE;
	if (!n && e->type != TW_EV_CLIENT_DATA && e->type != TW_EV_SERVER_DATA && e->type != TW_EV_DNS_RESPONSE)
		return;
	if (e->type == TW_EV_DNS_QUERY || e->type == TW_EV_DNS_RESPONSE) {
		d->view = TW_VIEW_DNS;
		d->dns.rc = tw_parse_dns(p, n, &d->dns.msg);
	} else if (e->type == TW_EV_CLIENT_DATA && e->proto == TW_PROTO_UDP && e->sport == 443) {
		d->view = TW_VIEW_QUIC;
		d->quic.st = tw_parse_quic_initial(p, n, e->payload_len, &d->quic.q);
	} else if (e->proto != TW_PROTO_TCP) {
		return;
	} else if (e->dir == TW_DIR_C2S) {
		d->view = TW_VIEW_REQUEST;
		d->req.tls_rc = tw_parse_tls_client_hello(p, n, &d->req.tls);
		d->req.http_rc = d->req.tls_rc <= TW_PAYLOAD_TRUNCATED ? TW_PAYLOAD_NOT_THIS
		                                                       : tw_parse_http_request(p, n, &d->req.http);
	} else {
		d->view = TW_VIEW_RESPONSE;
		d->resp.http_rc = tw_parse_http_response_head(p, n, &d->resp.http); /* title: payload_json */
		d->resp.tls_rc = d->resp.http_rc <= TW_PAYLOAD_TRUNCATED
		                         ? TW_PAYLOAD_NOT_THIS
		                         : tw_parse_tls_server_first(p, n, &d->resp.tls);
	}
}

/* A QUIC client's first datagram: the Initial's version and, decrypted,
 * its ClientHello's SNI and ALPN; authenticated says whether the AES-GCM
 * tag was checked (the whole packet was in the snippet).  Nothing for a
 * short header: not QUIC, or not a first flight. */
static void quic_json(struct tw_jb *b, enum tw_quic_status st, const struct tw_quic_initial *q)
{
	char ver[16], alpn[sizeof(q->hello.alpn)];

	if (st == TW_QUIC_SHORT_HEADER)
		return;
	tw_jb_obj_open(b, "quic");
	if (q->version == TW_QUIC_V1 || q->version == TW_QUIC_V2)
		snprintf(ver, sizeof(ver), "%u", q->version == TW_QUIC_V1 ? 1 : 2);
	else if (q->version == TW_QUIC_DRAFT29)
		snprintf(ver, sizeof(ver), "draft-29");
	else
		snprintf(ver, sizeof(ver), "0x%08x", q->version);
	if (st != TW_QUIC_MALFORMED || q->version) /* a datagram too short has no version */
		tw_jb_str(b, "version", ver);
	if (st == TW_QUIC_OK || st == TW_QUIC_TRUNCATED) {
		tw_jb_str(b, "sni", q->hello.has_sni ? q->hello.sni : NULL);
		tw_jb_arr_open(b, "alpn");
		/* the list is comma-separated; a ',' inside a protocol is escaped.
		 * Split a copy: the decoded event is shared by every consumer. */
		snprintf(alpn, sizeof(alpn), "%s", q->hello.alpn);
		for (char *save = NULL, *a = strtok_r(alpn, ",", &save); a; a = strtok_r(NULL, ",", &save))
			tw_jb_str(b, NULL, a);
		tw_jb_arr_close(b);
		tw_jb_bool(b, "authenticated", q->authenticated);
	}
	if (st != TW_QUIC_OK)
		tw_jb_str(b, "parse", tw_quic_status_str(st));
	tw_jb_obj_close(b);
}

/* What the snippet says: the TLS SNI and HTTP Host of a request, the
 * status of a response, a DNS message, a QUIC Initial.  Request paths and bodies are user
 * data and are not written. */
static void payload_json(struct tw_jb *b, const struct tw_decoded_event *d)
{
	const struct tw_event *e = d->ev;

	if (d->view == TW_VIEW_DNS) {
		const struct tw_dns_msg *m = &d->dns.msg;
		enum tw_parse_rc rc = d->dns.rc;
		tw_jb_obj_open(b, "dns");
		tw_jb_str(b, "type", e->type == TW_EV_DNS_QUERY ? "query" : "answer");
		if (rc == TW_PAYLOAD_MALFORMED || rc == TW_PAYLOAD_NOT_THIS) {
			tw_jb_str(b, "parse", tw_parse_rc_str(rc));
			tw_jb_obj_close(b);
			return;
		}
		tw_jb_u64(b, "id", m->id);
		tw_jb_str(b, "rrname", m->qname);
		tw_jb_u64(b, "rrtype", m->qtype);
		if (e->type == TW_EV_DNS_RESPONSE) {
			tw_jb_u64(b, "rcode", m->rcode);
			tw_jb_arr_open(b, "answers");
			for (int i = 0; i < m->n_answers; i++) {
				char a[INET6_ADDRSTRLEN];
				const struct tw_dns_answer *x = &m->answers[i];
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
	if (d->view == TW_VIEW_QUIC) {
		quic_json(b, d->quic.st, &d->quic.q);
		return;
	}
	if (d->view == TW_VIEW_REQUEST) {
		const struct tw_tls_hello *h = &d->req.tls;
		const struct tw_http_req *r = &d->req.http;
		if (d->req.tls_rc <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "tls");
			tw_jb_str(b, "sni", h->has_sni ? h->sni : NULL);
			if (h->has_ech)
				tw_jb_bool(b, "ech", 1);
			if (h->has_esni)
				tw_jb_bool(b, "esni", 1);
			tw_jb_obj_close(b);
		} else if (d->req.http_rc <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "http");
			tw_jb_str(b, "hostname", r->host[0] ? r->host : NULL);
			tw_jb_str(b, "http_method", r->method);
			tw_jb_obj_close(b);
		}
	} else if (d->view == TW_VIEW_RESPONSE) {
		const struct tw_http_resp *r = &d->resp.http;
		const struct tw_tls_server *t = &d->resp.tls;
		if (d->resp.http_rc <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "http");
			tw_jb_u64(b, "status", (uint64_t)r->status);
			/* the title, read here only: decode() leaves it out */
			char title[sizeof(r->title)] = "";
			if (r->headers_complete)
				tw_http_title(e->snippet + r->body_off, e->snippet_len - r->body_off, title,
				              sizeof(title));
			if (title[0])
				tw_jb_str(b, "title", title);
			if (r->location[0])
				tw_jb_str(b, "redirect", r->location);
			tw_jb_obj_close(b);
		} else if (d->resp.tls_rc <= TW_PAYLOAD_TRUNCATED) {
			tw_jb_obj_open(b, "tls");
			if (t->is_alert) {
				tw_jb_u64(b, "alert_level", t->alert_level);
				tw_jb_u64(b, "alert_description", t->alert_desc);
			} else {
				tw_jb_bool(b, "server_hello", t->is_server_hello);
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
	if (e->snippet_len > tw_event_snippet_max(e->type, e->proto, e->sport) ||
	    e->len != sizeof(*e) + e->snippet_len || e->len > len)
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

void tw_pipeline_event(struct tw_pipeline *pl, const struct tw_event *e, size_t len)
{
	if (!valid(e, len)) {
		pl->malformed++;
		return;
	}
	pl->events[e->type]++;
	for (int i = 0; i < pl->nprefetch; i++)
		pl->prefetch[i].fn(pl->prefetch[i].arg, e);
	decode(&pl->dec, e);
	for (int i = 0; i < pl->nconsumers; i++)
		pl->consumers[i].fn(pl->consumers[i].arg, &pl->dec);
}

void tw_pipeline_record(void *pl, const struct tw_event *e, size_t len)
{
	tw_pipeline_event(pl, e, len);
}

void tw_event_write(void *writer, const struct tw_decoded_event *d)
{
	static char buf[16384];
	struct tw_event_writer *w = writer;
	const struct tw_pipeline_opts *opt = w->opt;
	const struct tw_event *e = d->ev;
	struct tw_jb b;
	char a[INET6_ADDRSTRLEN + 8], flags[8];
	int fam = e->family;

	if (!(w->ev_on & (1u << e->type))) { /* valid: type < TW_EV_TYPE_MAX */
		w->not_selected++;
		return;
	}
	tw_jb_init(&b, buf, sizeof(buf));
	tw_jb_obj_open(&b, NULL);
	tw_jb_time(&b, "timestamp", (uint64_t)((int64_t)e->ts_ns + opt->clock_offset_ns));
	tw_jb_str(&b, "event_type", tw_event_type_name(e->type));
	tw_jb_u64(&b, "flow_id", e->flow_id);
	if (e->ifindex) {
		char ifn[IF_NAMESIZE] = "";
		if (if_indextoname(e->ifindex, ifn))
			tw_jb_str(&b, "in_iface", ifn);
	}
	/* privacy: the client is only ever named by its prefix */
	tw_prefix_str(fam, e->caddr, fam == TW_FAMILY_IPV6 ? opt->v6_prefix : opt->v4_prefix, a, sizeof(a));
	tw_jb_str(&b, "src_prefix", a);
	tw_jb_u64(&b, "src_port", e->cport);
	tw_addr_str(fam, e->saddr, a, sizeof(a));
	tw_jb_str(&b, "dest_ip", a);
	tw_jb_u64(&b, "dest_port", e->sport);
	tw_jb_str(&b, "proto", e->proto == TW_PROTO_TCP ? "TCP" : "UDP");

	int summary = e->type == TW_EV_FLOW_END || e->type == TW_EV_FLOW_RATE;
	if (!summary) {
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
			tw_jb_str(&b, "stage", tw_stage_name(c->stage));
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
			payload_json(&b, d);
			tw_jb_u64(&b, "snippet_len", e->snippet_len);
			if (opt->events_payload)
				tw_jb_base64(&b, "snippet", e->snippet, e->snippet_len);
		}
	}

	const struct tw_flow *f = &e->flow;
	tw_jb_obj_open(&b, "flow");
	if (e->proto == TW_PROTO_TCP)
		tw_jb_str(&b, "state", state_name(f->state));
	if (summary) {
		if (e->type == TW_EV_FLOW_END)
			tw_jb_str(&b, "end_reason", end_reason_name(e->end_reason));
		uint64_t f0 = tw_flow_first_ns(f, 0), f1 = tw_flow_first_ns(f, 1);
		uint64_t first = f0 && (!f1 || f0 < f1) ? f0 : f1;
		tw_jb_time(&b, "start", (uint64_t)((int64_t)first + opt->clock_offset_ns));
		tw_jb_time(&b, "end", (uint64_t)((int64_t)e->ts_ns + opt->clock_offset_ns));
	}
	if (f->flags & TW_FLOW_MIDSTREAM)
		tw_jb_bool(&b, "midstream", 1);
	if (f->flags & TW_FLOW_SYNACK_FIRST)
		tw_jb_bool(&b, "syn_missed", 1);
	if (!f->dir[0].packets || !f->dir[1].packets)
		tw_jb_bool(&b, "one_way", 1);
	if (f->flags & TW_FLOW_DATA_AFTER_RST)
		tw_jb_bool(&b, "data_after_rst", 1);
	if (summary || e->type == TW_EV_RST) {
		dir_json(&b, "to_server", &f->dir[TW_DIR_C2S]);
		dir_json(&b, "to_client", &f->dir[TW_DIR_S2C]);
	}
	tw_jb_obj_close(&b);
	if (summary && e->proto == TW_PROTO_TCP && (f->flags & (TW_FLOW_CLIENT_DATA | TW_FLOW_SERVER_DATA))) {
		tw_jb_obj_open(&b, "rate");
		rate_json(&b, "to_server", f, TW_DIR_C2S);
		rate_json(&b, "to_client", f, TW_DIR_S2C);
		tw_jb_obj_close(&b);
	}
	tw_jb_obj_close(&b);

	long n = tw_jb_end(&b);
	if (n < 0)
		w->lines_too_long++;
	else
		tw_line_put(&w->out, buf, (size_t)n);
}
