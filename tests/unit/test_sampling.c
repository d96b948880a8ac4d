/* The rule that moves the 1-in-N flow sampling rate (daemon/capture/
 * sampling.c): lost events double it (at most flows.sample_max, at most
 * once per hold), a quiet spell halves it back to flows.sample, and the
 * events lost after a time are what an alert's window reports.  Also the
 * shared core's decision (include/tamperwatch/sample.h): direction-free,
 * nested, about 1/N of keys.  And the weight of a flow: the rate in force
 * when it was admitted, not when its verdict is made (admission(): a flow
 * admitted at 1 in 1 that ends after a raise to 1 in 2 carries 1 in its
 * tamper record and counts as one flow in the alert; one admitted after
 * the raise carries 2 and counts as two). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/sample.h>
#include "alerts/aggregate.h"
#include "capture/engine.h"
#include "capture/sampling.h"
#include "capture/sweep.h"
#include "events/pipeline.h"
#include "verdicts/verdict.h"
#include "pktbuild.h"
#include "check.h"

#define S 1000000000ull

static struct tw_sampling s;

static void rule(void)
{
	uint64_t t = 1000 * S;
	tw_sampling_init(&s, 1, 8, 60);
	CHECK(tw_sampling_rate(&s) == 1, "starts at flows.sample");
	CHECK(tw_sampling_update(&s, t, 0) == 0, "no loss: no change");
	CHECK(tw_sampling_update(&s, t += S, 0) == 0, "no loss");
	/* the first loss comes within the hold after start: the hold counts
	 * from the start too, so wait it out */
	CHECK(tw_sampling_update(&s, t += 5 * S, 10) == 2, "loss: doubled to 2 (rate %u)", tw_sampling_rate(&s));
	CHECK(tw_sampling_update(&s, t += S, 20) == 0 && tw_sampling_rate(&s) == 2,
	      "loss again within the hold: not raised again");
	CHECK(tw_sampling_update(&s, t += 5 * S, 30) == 4, "loss after the hold: 4");
	CHECK(tw_sampling_update(&s, t += 5 * S, 40) == 8, "loss: 8 = flows.sample_max");
	CHECK(tw_sampling_update(&s, t += 5 * S, 50) == 0 && tw_sampling_rate(&s) == 8, "never above the max");
	CHECK(tw_sampling_raises(&s) == 3, "3 raises, got %llu", (unsigned long long)tw_sampling_raises(&s));
	uint64_t last_loss = t;
	CHECK(tw_sampling_update(&s, t += 59 * S, 50) == 0, "59 s quiet: not yet lowered");
	CHECK(tw_sampling_update(&s, t = last_loss + 60 * S, 50) == 4, "60 s quiet: halved to 4");
	CHECK(tw_sampling_update(&s, t += 30 * S, 50) == 0, "30 s after the change: stays");
	CHECK(tw_sampling_update(&s, t += 30 * S, 50) == 2, "another 60 s quiet: 2");
	CHECK(tw_sampling_update(&s, t += 60 * S, 50) == 1, "then 1");
	CHECK(tw_sampling_update(&s, t += 600 * S, 50) == 0 && tw_sampling_rate(&s) == 1, "never below flows.sample");
	CHECK(tw_sampling_lowers(&s) == 3, "3 lowers");
	/* events lost after a time: from the seconds remembered */
	CHECK(tw_sampling_lost_since(&s, 0) == 50, "lost since start: %llu",
	      (unsigned long long)tw_sampling_lost_since(&s, 0));
	CHECK(tw_sampling_lost_since(&s, last_loss - 1) == 10, "lost in the last lossy second: %llu",
	      (unsigned long long)tw_sampling_lost_since(&s, last_loss - 1));
	CHECK(tw_sampling_lost_since(&s, last_loss) == 0, "nothing lost after the last loss");
	CHECK(tw_sampling_lost_since(NULL, 0) == 0 && tw_sampling_rate(NULL) == 1, "NULL: 1, nothing lost");

	/* a change the backend refused: the rate stays, the change uncounted */
	tw_sampling_init(&s, 1, 8, 60);
	tw_sampling_update(&s, t, 0);
	CHECK(tw_sampling_update(&s, t + 10 * S, 3) == 2, "raised");
	tw_sampling_undo(&s, 1);
	CHECK(tw_sampling_rate(&s) == 1 && tw_sampling_raises(&s) == 0, "undone: rate %u, raises %llu",
	      tw_sampling_rate(&s), (unsigned long long)tw_sampling_raises(&s));

	/* max below base: never raised; quiet 0: never lowered */
	tw_sampling_init(&s, 4, 2, 0);
	CHECK(tw_sampling_rate(&s) == 4 && tw_sampling_update(&s, t, 0) == 0 &&
	              tw_sampling_update(&s, t + 10 * S, 5) == 0 && tw_sampling_rate(&s) == 4,
	      "sample_max below sample: the operator's rate stays");
	/* an odd max: doubling stops at it */
	tw_sampling_init(&s, 3, 10, 0);
	tw_sampling_update(&s, t, 0);
	CHECK(tw_sampling_update(&s, t + 10 * S, 1) == 6 && tw_sampling_update(&s, t + 20 * S, 2) == 10 &&
	              tw_sampling_update(&s, t + 1000 * S, 2) == 0,
	      "3 -> 6 -> 10 (max), quiet 0 never lowers");
	/* the history ring wraps: the answer is then at least what is known */
	tw_sampling_init(&s, 1, 1, 0);
	tw_sampling_update(&s, 0, 0);
	for (uint64_t i = 1; i <= TW_SAMPLING_HIST + 10; i++)
		tw_sampling_update(&s, i * S, i);
	CHECK(tw_sampling_lost_since(&s, 0) >= TW_SAMPLING_HIST - 1 &&
	              tw_sampling_lost_since(&s, 0) <= TW_SAMPLING_HIST + 10,
	      "wrapped history: %llu", (unsigned long long)tw_sampling_lost_since(&s, 0));
	CHECK(tw_sampling_lost_since(&s, (TW_SAMPLING_HIST + 5) * S) == 5, "recent seconds exact");
}

static void decision(void)
{
	int kept4 = 0, kept2 = 0, split = 0, notnested = 0;
	for (uint32_t i = 0; i < 20000; i++) {
		struct tw_pkt p;
		struct tw_flow_key a, b;
		memset(&p, 0, sizeof(p));
		p.family = i & 1 ? TW_FAMILY_IPV6 : TW_FAMILY_IPV4;
		p.proto = i & 2 ? TW_PROTO_UDP : TW_PROTO_TCP;
		p.saddr[0] = 10, p.saddr[3] = (uint8_t)i, p.saddr[2] = (uint8_t)(i >> 8);
		p.daddr[0] = 203, p.daddr[3] = (uint8_t)(i % 13);
		p.sport = (uint16_t)(1024 + i), p.dport = 443;
		tw_flow_key_make(&p, &a);
		/* the reply */
		uint8_t t[16];
		memcpy(t, p.saddr, 16);
		memcpy(p.saddr, p.daddr, 16);
		memcpy(p.daddr, t, 16);
		p.dport = p.sport;
		p.sport = 443;
		tw_flow_key_make(&p, &b);
		split += tw_flow_sampled(&a, 4) != tw_flow_sampled(&b, 4);
		kept4 += tw_flow_sampled(&a, 4);
		kept2 += tw_flow_sampled(&a, 2);
		notnested += tw_flow_sampled(&a, 4) && !tw_flow_sampled(&a, 2);
		CHECK(tw_flow_sampled(&a, 1) && tw_flow_sampled(&a, 0), "1 and 0 keep every flow");
	}
	CHECK(split == 0, "%d flows whose directions differ", split);
	CHECK(notnested == 0, "%d flows kept at 4 and not at 2", notnested);
	CHECK(kept4 > 4500 && kept4 < 5500 && kept2 > 9500 && kept2 < 10500, "kept %d at 4, %d at 2 of 20000", kept4,
	      kept2);
}

/* ---- admission rate: a verdict and aggregation weigh a flow by it ---- */

#define MS 1000000ull

static char out[1 << 16];
static size_t outlen;
static void sink(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (outlen + len + 2 < sizeof(out)) {
		memcpy(out + outlen, line, len);
		outlen += len;
		out[outlen++] = '\n';
		out[outlen] = 0;
	}
}

static char alert[16384];
static void alert_sink(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (len < sizeof(alert)) {
		memcpy(alert, line, len);
		alert[len] = 0;
	}
}

/* the outcomes' rates, by flow id, and on to aggregation */
static uint32_t weight[16];
static struct tw_agg *agg;
static void on_outcome(void *arg, const struct tw_flow_outcome *o)
{
	(void)arg;
	if (o->flow_id < 16)
		weight[o->flow_id] = o->sampling;
	tw_agg_outcome(agg, o);
}

static struct tw_engine *eng;
static const uint8_t CLI[4] = { 198, 51, 100, 7 }, SRV[4] = { 203, 0, 113, 9 };

static void pkt(uint16_t cport, int from_server, uint8_t flags, uint8_t ttl, uint16_t ipid, uint32_t seq, uint32_t ack,
                const char *payload, uint64_t ts)
{
	static uint8_t frame[2048];
	struct pb_pkt p;
	memset(&p, 0, sizeof(p));
	p.family = 4;
	memcpy(p.src, from_server ? SRV : CLI, 4);
	memcpy(p.dst, from_server ? CLI : SRV, 4);
	p.sport = from_server ? 80 : cport;
	p.dport = from_server ? cport : 80;
	p.ttl = ttl;
	p.ip_id = ipid;
	p.flags = flags;
	p.win = 65535;
	p.seq = seq;
	p.ack = ack;
	p.payload = payload;
	p.payload_len = payload ? strlen(payload) : 0;
	size_t n = pb_build(&p, frame, sizeof(frame));
	struct tw_frame f = { .ts_ns = ts, .caplen = (uint32_t)n, .origlen = (uint32_t)n, .data = frame };
	eng->process(eng, &f);
}

/* the first packet at t0; a forged reset (TTL and IP-ID not the server's)
 * right after the request at t1 */
static void conn_open(uint16_t cport, uint64_t t0)
{
	pkt(cport, 0, 0x02, 64, 100, 1000, 0, NULL, t0);
	pkt(cport, 1, 0x12, 50, 7, 50000, 1001, NULL, t0 + 40 * MS);
	pkt(cport, 0, 0x10, 64, 101, 1001, 50001, NULL, t0 + 41 * MS);
}
static void conn_reset(uint16_t cport, uint64_t t1)
{
	static const char *req = "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n";
	pkt(cport, 0, 0x18, 64, 102, 1001, 50001, req, t1);
	pkt(cport, 1, 0x04, 237, 0x441c, 50001, 0, NULL, t1 + 30 * MS);
}

/* a client port whose flow is kept (want 1) or left out (0) at 1 in n */
static uint16_t port_kept(uint16_t from, uint32_t n, int want)
{
	for (uint16_t cp = from;; cp++) {
		struct tw_pkt p;
		struct tw_flow_key k;
		memset(&p, 0, sizeof(p));
		memcpy(p.saddr, CLI, 4);
		memcpy(p.daddr, SRV, 4);
		p.sport = cp;
		p.dport = 80;
		p.family = TW_FAMILY_IPV4;
		p.proto = TW_PROTO_TCP;
		tw_flow_key_make(&p, &k);
		if (tw_flow_sampled(&k, n) == want)
			return cp;
	}
}

/* the "sampling" of the tamper record of flow id */
static int record_rate(uint64_t id)
{
	char key[64];
	snprintf(key, sizeof(key), "\"flow_id\":%llu,", (unsigned long long)id);
	const char *p = strstr(out, key), *q;
	if (!p || !(q = strstr(p, "\"sampling\":")) || (strchr(p, '\n') && q > strchr(p, '\n')))
		return -1;
	return atoi(q + 11);
}

/* Flow A admitted at 1 in 1, flow B after a raise to 1 in 2, both reset
 * by a censor and judged while 1 in 2 is in force.  Returns 1 when the
 * alert was raised with alerts.min_flows min_flows (-1: no rig). */
static int scenario(int min_flows, uint16_t a, uint16_t b, uint16_t c)
{
	char err[256];
	struct tw_pipeline pl;
	struct tw_pipeline_opts po = { .v4_prefix = 24, .v6_prefix = 48 };
	struct tw_timeouts to;
	struct tw_agg_cfg ac;

	outlen = 0;
	out[0] = alert[0] = 0;
	memset(weight, 0, sizeof(weight));
	tw_sampling_init(&s, 1, 8, 600);
	tw_pipeline_init(&pl, &po);
	pl.sampling = &s;
	tw_timeouts_default(&to);
	struct tw_verdict *v = tw_verdict_new(&pl, NULL, 100000, 30 * S, sink, NULL);
	tw_agg_cfg_default(&ac);
	ac.min_flows = min_flows; /* estimated flows */
	ac.min_prefixes = 1;
	agg = tw_agg_new(&ac, NULL, NULL, alert_sink, NULL, err, sizeof(err));
	struct tw_record_sink rs = { tw_pipeline_record, &pl };
	eng = tw_engine_user_new(&rs, 100000, NULL, err, sizeof(err));
	CHECK(v && agg && eng && eng->set_sampling, "rig: %s", err);
	if (!v || !agg || !eng)
		return -1;
	tw_pipeline_add_consumer(&pl, "verdicts", tw_verdict_event, v);
	tw_verdict_set_hook(v, on_outcome, NULL);

	conn_open(a, 1 * S);
	/* events were lost: the rate doubles, reaches the backend at 3 s and
	 * is stamped just after (main's sampling_tick) */
	tw_sampling_update(&s, 100 * S, 0);
	CHECK(tw_sampling_update(&s, 106 * S, 10) == 2, "raised to 2");
	eng->set_sampling(eng, 2);
	tw_sampling_applied(&s, 3 * S, 2);
	/* B comes in at 1 in 2 (kept at 2); C's first packet is left out */
	conn_open(b, 4 * S);
	conn_open(c, 4 * S + 500 * MS);
	/* both end while 1 in 2 is in force */
	conn_reset(a, 5 * S);
	conn_reset(b, 5 * S + 100 * MS);
	tw_sweep(eng, 60 * S, &to, 1);
	tw_pipeline_tick(&pl, 60 * S, 1);
	tw_agg_tick(agg, 60 * S, 1);

	CHECK(tw_sampling_rate(&s) == 2, "1 in 2 in force at the verdicts");
	CHECK(record_rate(1) == 1, "flow admitted at 1 in 1, ended at 1 in 2: tamper.sampling %d (want 1): %s",
	      record_rate(1), out);
	CHECK(weight[1] == 1, "its outcome weighs 1, got %u", weight[1]);
	CHECK(record_rate(2) == 2 && weight[2] == 2, "flow admitted at 1 in 2: sampling %d, weight %u (want 2)",
	      record_rate(2), weight[2]);
	CHECK(record_rate(3) == -1 && weight[3] == 0, "the flow 1 in 2 left out: no flow, no record");
	int raised = strstr(alert, "\"state\":\"raised\"") != NULL;
	if (raised)
		CHECK(strstr(alert, "\"flows\":2,") && strstr(alert, "\"sampling\":2,"),
		      "the alert counts the 2 flows seen, the highest rate 2: %s", alert);
	eng->destroy(eng);
	tw_verdict_free(v);
	tw_agg_free(agg);
	return raised;
}

static void admission(void)
{
	/* A: 1 in 2 would have left it out; B: kept at 2; C: left out at 2 */
	uint16_t a = port_kept(40000, 2, 0), b = port_kept(41000, 2, 1), c = port_kept((uint16_t)(b + 1), 2, 0);
	/* aggregation estimates 1 + 2 = 3 flows: alerts.min_flows 3 is met,
	 * 4 is not (weighed by the rate at the verdict, A and B would make 4) */
	CHECK(scenario(3, a, b, c) == 1, "min_flows 3: raised (1 + 2 estimated flows)");
	CHECK(scenario(4, a, b, c) == 0, "min_flows 4: not raised (1 + 2 < 4): %s", alert);

	struct tw_event e;
	/* a change stamped after its write: a flow that came in between, at
	 * the new rate, reads as before it; when the old rate would have left
	 * it out, the new one is its rate (here a lowering from 2 to 1) */
	memset(&e, 0, sizeof(e));
	e.family = TW_FAMILY_IPV4;
	e.proto = TW_PROTO_TCP;
	memcpy(e.caddr, CLI, 4);
	memcpy(e.saddr, SRV, 4);
	e.sport = 80;
	tw_sampling_applied(&s, 10 * S, 1);
	e.cport = c; /* not kept at 2 */
	e.flow.base_ns = 9 * S + 999 * MS;
	CHECK(tw_sampling_admitted(&s, &e) == 1, "admitted in the write's moment, left out by 2: 1");
	e.cport = b; /* kept at 2 */
	CHECK(tw_sampling_admitted(&s, &e) == 2, "kept at 2, before the stamp: 2");
	e.flow.base_ns = 10 * S;
	CHECK(tw_sampling_admitted(&s, &e) == 1, "at the stamp: 1");
	e.flow.base_ns = 3 * S - 1;
	CHECK(tw_sampling_admitted(&s, &e) == 1, "before the raise: 1");
	CHECK(tw_sampling_admitted(NULL, &e) == 1, "no sampling: 1");
	/* more changes than remembered: an older flow gets the lowest forgotten */
	tw_sampling_init(&s, 2, 8, 600);
	for (uint32_t i = 1; i <= TW_SAMPLING_CHANGES + 4; i++)
		tw_sampling_applied(&s, i * S, i & 1 ? 4 : 8);
	e.flow.base_ns = 1 * S;
	CHECK(tw_sampling_admitted(&s, &e) == 2, "older than the changes remembered: the lowest forgotten, %u",
	      tw_sampling_admitted(&s, &e));
	printf("ok: a verdict and its weight carry the rate its flow was admitted at\n");
}

int main(void)
{
	rule();
	decision();
	admission();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
