/* The share computation's counts (alerts/share.c) against its reference
 * scan: many random sequences of flows entering and leaving a window (a
 * sliding window plus random departures, several client prefixes in a few
 * regions, sampling weights, both classes, dark prefixes), and after every
 * step every decision (class x grouping x thresholds), the weighted hits
 * and the per-method counts compared with the scan over the flows in the
 * window.  Both are the real code; the scan is what aggregate.c falls back
 * to and what the counts replaced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts/share.h"
#include "check.h"

static uint64_t rs = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* which prefixes' silent flows count: a fixed function of its arguments
 * (as prefix_dark is within one decision), some prefixes never, some
 * depending on their flows; calls counted */
static uint64_t dark_salt;
static long ncalls;
static int counts(void *arg, uint64_t pfx, size_t flows, size_t answered)
{
	(void)arg;
	ncalls++;
	uint64_t h = (pfx ^ dark_salt) * 0x100000001b3ull;
	if ((h >> 20) % 5 == 0)
		return 0; /* dark whatever its flows */
	if ((h >> 24) % 3 == 0)
		return answered * 2 >= flows; /* depends on this target's flows */
	return 1;
}

#define NPFX 12
#define CAP 400

static struct tw_share_flow win[CAP], scratch[CAP];
static size_t nwin;

static void mkflow(struct tw_share_flow *f, int nregion, int wmax)
{
	unsigned p = rn(NPFX);
	f->pfx = 0x1000 + p * 0x9e3779b97f4a7c15ull;
	f->group = nregion ? 0x77 + (p % (unsigned)nregion) : f->pfx; /* a region: a function of the prefix */
	f->w = wmax > 1 ? 1 + rn((unsigned)wmax) : rn(2);             /* 0 counts as 1 */
	f->tampered = rn(100) < 55;
	f->silent = rn(2);
	f->answered = rn(3) == 0;
	f->method = f->tampered ? (uint8_t)(1 + rn(TW_METHOD_MAX - 1)) : 0;
}

static int scan(int silent, int by, int mf, int mp, double ratio)
{
	memcpy(scratch, win, nwin * sizeof(*win));
	return tw_share_scan(scratch, nwin, silent, by, mf, mp, ratio, counts, NULL);
}

static long agree, yes, no;
static void compare(struct tw_share *s, const double *ratio, int step, int seq)
{
	static const int mfs[] = { 1, 2, 3, 5, 9 }, mps[] = { 1, 2, 3 };
	for (int c = 0; c < 2; c++)
		for (int by = TW_SHARE_ALL; by <= TW_SHARE_REGION; by++)
			for (size_t i = 0; i < sizeof(mfs) / sizeof(mfs[0]); i++)
				for (size_t j = 0; j < sizeof(mps) / sizeof(mps[0]); j++) {
					int want = scan(c, by, mfs[i], mps[j], ratio[c]);
					int got = tw_share_case(s, c, by, mfs[i], mps[j], ratio[c], counts, NULL);
					if (got == want) {
						agree++;
						yes += got == 1;
						no += got == 0;
						continue;
					}
					CHECK(0,
					      "seq %d step %d: class %d by %d min_flows %d min_pfx %d: counts %d, scan "
					      "%d",
					      seq, step, c, by, mfs[i], mps[j], got, want);
				}
	uint64_t hits[2] = { 0, 0 }, cnt[2][TW_METHOD_MAX];
	memset(cnt, 0, sizeof(cnt));
	for (size_t i = 0; i < nwin; i++)
		if (win[i].tampered) {
			hits[win[i].silent] += win[i].w ? win[i].w : 1;
			cnt[win[i].silent][win[i].method]++;
		}
	int same = tw_share_flows(s) == nwin;
	for (int c = 0; c < 2; c++) {
		same &= tw_share_hits(s, c) == hits[c];
		for (int m = 0; m < TW_METHOD_MAX; m++)
			same &= tw_share_method_count(s, c, m) == cnt[c][m];
	}
	if (!same)
		CHECK(0, "seq %d step %d: flows, hits or method counts differ from the window's", seq, step);
}

static void test_random(void)
{
	const int nseq = 150;
	long steps = 0;
	for (int seq = 0; seq < nseq; seq++) {
		double ratio[2] = { 0.1 + 0.1 * rn(9), 0.5 + 0.1 * rn(5) };
		int nregion = rn(3) ? (int)rn(4) : 0, wmax = rn(2) ? 1 : 8;
		size_t width = 5 + rn(60); /* the window's length in flows */
		dark_salt = rnd();
		struct tw_share *s = tw_share_new(ratio[0], ratio[1]);
		CHECK(s, "tw_share_new");
		if (!s)
			return;
		nwin = 0;
		int nstep = 60 + (int)rn(120);
		for (int st = 0; st < nstep; st++, steps++) {
			unsigned op = rn(10);
			if (op < 6 || !nwin) { /* a flow enters; the oldest leaves past the width */
				if (nwin == width || nwin == CAP) {
					tw_share_del(s, &win[0]);
					memmove(win, win + 1, (nwin - 1) * sizeof(*win));
					nwin--;
				}
				mkflow(&win[nwin], nregion, wmax);
				tw_share_add(s, &win[nwin++]);
			} else if (op < 9) { /* any one leaves (a held verdict pruned, a copy replaced) */
				size_t k = rn((unsigned)nwin);
				tw_share_del(s, &win[k]);
				win[k] = win[--nwin];
			} else if (op == 9 && rn(8) == 0) { /* counted anew, as at a resolution */
				tw_share_clear(s);
				for (size_t i = 0; i < nwin; i++)
					tw_share_add(s, &win[i]);
			}
			CHECK(tw_share_ok(s), "seq %d step %d: counts stopped", seq, st);
			compare(s, ratio, st, seq);
		}
		/* every flow out: nothing left */
		while (nwin)
			tw_share_del(s, &win[--nwin]);
		compare(s, ratio, -1, seq);
		tw_share_free(s);
	}
	printf("test_share: %ld random steps, %ld decisions agree (%ld cases, %ld not), %ld prefix judgements\n", steps,
	       agree, yes, no, ncalls);
	/* the sequences reach both answers, and silence's prefix judgement */
	CHECK(yes > 1000 && no > 1000 && ncalls > 1000, "cases %ld, not %ld, judgements %ld", yes, no, ncalls);
}

/* what the counts cannot say, they say so (-1): the caller scans */
static void test_cannot_say(void)
{
	struct tw_share *s = tw_share_new(0.5, 0.8);
	struct tw_share_flow f = { .pfx = 1, .group = 7, .w = 1, .tampered = 1, .method = 1 };
	tw_share_add(s, &f);
	tw_share_add(s, &f);
	tw_share_add(s, &f);
	CHECK(tw_share_case(s, 0, TW_SHARE_ALL, 3, 1, 0.5, counts, NULL) == 1, "3 tampered flows of 3");
	CHECK(tw_share_case(s, 0, TW_SHARE_ALL, 3, 1, 0.6, counts, NULL) == -1, "another ratio than the class's");
	struct tw_share_flow g = f;
	g.group = 8; /* the same prefix hash under another region */
	tw_share_add(s, &g);
	CHECK(!tw_share_ok(s) && tw_share_case(s, 0, TW_SHARE_ALL, 3, 1, 0.5, counts, NULL) == -1,
	      "a prefix hash under two regions");
	tw_share_clear(s);
	CHECK(tw_share_ok(s) && tw_share_case(s, 0, TW_SHARE_ALL, 1, 1, 0.5, counts, NULL) == 0, "cleared");
	tw_share_del(s, &f);
	CHECK(!tw_share_ok(s), "a flow leaving that never entered");
	tw_share_free(s);
}

int main(void)
{
	test_cannot_say();
	test_random();
	printf("test_share: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
