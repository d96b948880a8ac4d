/* A small SVG writer for the operator's pictures (status page, report
 * bundles): a time-series plot with shaded periods and marked moments,
 * drawn into a bounded text buffer (textbuf.h).  Pure C, no external
 * resources: what it writes renders air-gapped.  Every string put in the
 * picture (titles, series names, which may come from packets: SNI, Host)
 * goes through tw_svg_escape; numbers are checked (NaN and infinities are
 * never written).  Each plotted point may be written as a <circle> with
 * data-t and data-v attributes holding the exact value, so a test can read
 * back what was drawn. */
#ifndef TW_SVG_H
#define TW_SVG_H
#include <stddef.h>
#include <stdint.h>

struct tw_tb;

#define TW_SVG_MAX_SERIES 8
#define TW_SVG_MAX_POINTS 4096 /* per series drawn; more are thinned evenly (never silently: see thinned) */
#define TW_SVG_MAX_BANDS 64
#define TW_SVG_MAX_MARKS 16
#define TW_SVG_MAX_TEXT 200 /* bytes of any one string drawn */

struct tw_svg_series {
	const char *name;    /* legend; escaped */
	const char *color;   /* "#rrggbb"; anything else is replaced by a default */
	const double *t, *v; /* n points: time (s since the epoch) and value */
	size_t n;
	int dashed;
};

struct tw_svg_band {
	double t0, t1; /* a shaded period (an alert) */
};

struct tw_svg_mark {
	double t;          /* a moment (an alert raised) */
	const char *label; /* escaped */
};

struct tw_svg_plot {
	const char *id;     /* data-plot attribute; escaped */
	const char *title;  /* escaped */
	const char *ylabel; /* escaped */
	int width, height;  /* pixels; clamped to 200..2000 x 120..1200 */
	double tmin, tmax;  /* time axis; tmax <= tmin: from the data */
	double ymax;        /* y axis top; <= 0: from the data */
	int points;         /* 1: a <circle> with data-t, data-v for every point drawn */
	const struct tw_svg_series *series;
	int nseries;
	const struct tw_svg_band *bands;
	int nbands;
	const struct tw_svg_mark *marks;
	int nmarks;
};

/* Where a plot goes on its canvas: the picture's size, the plot area
 * (left, top, width, height in pixels) and the axes' ranges, from the
 * plot's settings or its data.  Shared by the SVG and the PNG (png.h). */
struct tw_svg_layout {
	int W, H;
	double L, T, pw, ph;
	double tmin, tmax, ymax;
};
/* 0, or -1 when the plot is invalid (as tw_svg_plot) */
int tw_svg_layout(const struct tw_svg_plot *p, struct tw_svg_layout *l);
double tw_svg_x(const struct tw_svg_layout *l, double t);
double tw_svg_y(const struct tw_svg_layout *l, double v);
/* the colour of series i (its own when valid, else the palette's) */
const char *tw_svg_color(const struct tw_svg_plot *p, int i);
/* a short number for an axis: 1.2k, 3.4M, 0.25 */
void tw_svg_human(double v, char *out, size_t cap);
/* an axis time: HH:MM:SS (spans under 3 h) or MM-DD HH:MM, UTC */
void tw_svg_axis_time(double t, int secs, char *out, size_t cap);

/* Escape s (at most max bytes, and TW_SVG_MAX_TEXT) for XML/HTML text and
 * attribute values: & < > " ' as entities, control characters and bytes
 * that are not well-formed UTF-8 as '?'. */
void tw_svg_escape(struct tw_tb *b, const char *s, size_t max);
/* Append the plot as one <svg> element.  0, or -1 when the buffer failed
 * (its bound) or the plot is invalid (no series, too many of anything).
 * *thinned (may be NULL) gets the number of points not drawn individually. */
int tw_svg_plot(struct tw_tb *b, const struct tw_svg_plot *p, uint64_t *thinned);
/* A record's timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+0000|+00:00], UTC, as the
 * detector writes them) in seconds since the epoch: 0, or -1 if not one. */
int tw_svg_parse_time(const char *s, double *t);
#endif
