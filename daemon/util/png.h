/* The same picture as tw_svg_plot (svg.h), rasterised in pure C and written
 * as a PNG (RGB, zlib) for people who paste it into a message: the same
 * layout, shaded periods, series, points and marks, the axes' numbers and
 * times in a small built-in bitmap font (digits, ". : - + e k M G").  Titles,
 * legends' names and other words are in the SVG only. */
#ifndef TW_PNG_H
#define TW_PNG_H
struct tw_tb;
struct tw_svg_plot;
/* Append the PNG to out: 0, or -1 (invalid plot, out's bound, no memory). */
int tw_png_plot(struct tw_tb *out, const struct tw_svg_plot *p);
#endif
