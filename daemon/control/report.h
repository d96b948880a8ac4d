/* The operator's report bundle for one alert (tamperwatch report ID): a
 * .tar.gz built in memory with libarchive, holding
 *   alert.json     every kept line of the alert's timeline (JSON lines)
 *   timeline.txt   the same, for people
 *   README.txt     what the bundle is, the detector version, how to read it, privacy
 *   evidence.pcap  the alert's evidence.pcap, when the field names a file that passes
 *                  tw_report_evidence_open
 *   plot.svg       the alert's picture from its own lines (util/svg.h): blocking, the
 *                  share of the target's flows tampered with (stats.ratio); throttling,
 *                  the measured rate (stats.rate_bps); shutdown, the series against its
 *                  baseline (stats.current, stats.baseline; a region alert: prefixes
 *                  down); the alert's period shaded, the moment it was raised marked
 *   plot.png       the same picture as a PNG (util/png.h)
 * Nothing in it comes from anywhere but the alert lines and that file, so it
 * carries client prefixes only, as the alerts do. */
#ifndef TW_REPORT_H
#define TW_REPORT_H
#include <stddef.h>
#include <stdint.h>

#define TW_REPORT_MAX_EVIDENCE (64ull << 20)

struct tw_report_in {
	const char *id;
	char *const *lines; /* the alert's lines, oldest first, each ending in '\n' */
	long nlines;
	uint64_t omitted;         /* lines between the first and the kept ones */
	const char *version;      /* detector version */
	const char *evidence_dir; /* NULL: the pcap must sit directly in the directory its path names */
	uint64_t max_evidence;    /* bytes; 0: TW_REPORT_MAX_EVIDENCE */
	uint64_t now_ns;          /* member times and "generated" */
};

struct tw_report {
	char *data; /* the .tar.gz (free()) */
	size_t len;
	int evidence;        /* 1: evidence.pcap included */
	char note[512];      /* why the evidence was left out ("" if none was named) */
	int plot;            /* 1: plot.svg and plot.png included */
	char plot_note[256]; /* why not */
};

/* 0, or -1 with err (out of memory, archive error). */
int tw_report_build(const struct tw_report_in *in, struct tw_report *out, char *err, size_t errlen);
/* Open an evidence pcap for reading, refusing what is not a regular file,
 * a symlink as last component, a file that resolves outside evidence_dir
 * (or, without one, outside the directory the path names), or larger than
 * max bytes.  fd (size in *size), or -1 with the reason in err. */
int tw_report_evidence_open(const char *path, const char *evidence_dir, uint64_t max, uint64_t *size, char *err,
                            size_t errlen);
#endif
