/* Censorship methods: the one list (DESIGN.md "What it detects"; the
 * signature_id and severity table of the alerts documentation).  Verdicts
 * name them, aggregation counts and raises by them, declared restrictions
 * (legit.c) name them, and alerts.state stores them.  Not in the kernel
 * contract (include/tamperwatch/): the kernel side never judges methods.
 *
 * The values are persisted (alerts.state record version 1 stores them as
 * numbers, methods_seen as a bit mask of 1 << value: docs/state.md; they
 * are aggregate.c's numbers of before this list) and order methods_seen in
 * alerts: never renumber or reuse one, only append. */
#ifndef TW_METHOD_H
#define TW_METHOD_H

enum tw_method {
	TW_METHOD_NONE = 0, /* no verdict */
	TW_METHOD_RST_INJECTION = 1,
	TW_METHOD_HTTP_BLOCKPAGE = 2,
	TW_METHOD_DNS_INJECTION = 3,
	TW_METHOD_TLS_INTERFERENCE = 4,
	TW_METHOD_BLACKHOLE = 5,
	TW_METHOD_THROTTLING = 6,        /* per flow from its rate series (verdicts/throttle.c) */
	TW_METHOD_SHUTDOWN = 7,          /* per prefix (alerts/shutdown.c), not per flow */
	TW_METHOD_HTTP_INJECTION = 8,    /* a response that is not a block page (a redirect to a third-party host) */
	TW_METHOD_QUIC_INTERFERENCE = 9, /* per flow, UDP/443 (verdicts/quic.c) */
	TW_METHOD_MAX
};

/* How the censor acts, as aggregation judges it. */
enum tw_method_class {
	TW_MCLASS_NONE = 0,
	TW_MCLASS_INJECTION = 1, /* sends something: a forged RST, answer, page or alert */
	TW_MCLASS_SILENCE = 2,   /* drops: weak per flow, judged with the blackhole_* thresholds */
	TW_MCLASS_RATE = 3,      /* slows flows down */
	TW_MCLASS_OUTAGE = 4,    /* cuts whole prefixes off */
};

struct tw_method_info {
	const char *name;      /* censorship.method, tamper.method */
	unsigned signature_id; /* alert.signature_id; 0: the detector sets one per alert kind */
	unsigned severity;     /* alert.severity when undeclared (declared: 3); 0: the detector sets it */
	enum tw_method_class cls;
	int per_flow; /* a verdict of the per-flow engine (verdicts/verdict.c) */
	/* an operator may declare it as a lawful restriction (alerts/legit.c);
	 * 0: no lawful order injects ads or spyware, so a declaration never
	 * makes it "declared" and a declared-restrictions file may not name it */
	int declarable;
};

/* NULL for TW_METHOD_NONE and anything out of range */
const struct tw_method_info *tw_method(int m);
const char *tw_method_name(int m);
/* TW_METHOD_NONE for NULL or a name not in the list */
enum tw_method tw_method_by_name(const char *name);
#endif
