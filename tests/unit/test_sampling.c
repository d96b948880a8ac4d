/* The rule that moves the 1-in-N flow sampling rate (daemon/capture/
 * sampling.c): lost events double it (at most flows.sample_max, at most
 * once per hold), a quiet spell halves it back to flows.sample, and the
 * events lost after a time are what an alert's window reports.  Also the
 * shared core's decision (include/tamperwatch/sample.h): direction-free,
 * nested, about 1/N of keys. */
#include <stdio.h>
#include <string.h>
#include <tamperwatch/classify.h>
#include <tamperwatch/sample.h>
#include "capture/sampling.h"
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

int main(void)
{
	rule();
	decision();
	printf("%d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
