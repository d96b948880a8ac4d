/* Evidence packets (README "Evidence"): one event record back into the
 * packet the detector saw, in pcap format (LINKTYPE_RAW, nanosecond
 * timestamps), with the client address replaced by its pseudonym and the
 * payload cut to what proves the injection.  Pure functions: no I/O. */
#ifndef TW_EVPCAP_H
#define TW_EVPCAP_H
#include <stddef.h>
#include <stdint.h>
#include <tamperwatch/event.h>

#define TW_EVPCAP_LINKTYPE 101 /* LINKTYPE_RAW: IPv4 or IPv6, no link header */
#define TW_EVPCAP_MAGIC_NS 0xa1b23c4du
#define TW_EVPCAP_HDR 24
#define TW_EVPCAP_REC_HDR 16
/* largest record: record header, IPv6 + TCP headers, a whole snippet */
#define TW_EVPCAP_REC_MAX (TW_EVPCAP_REC_HDR + 40 + 20 + TW_SNIPPET_MAX)

/* Synthetic event type for the handshake rebuilt from the flow snapshot. */
#define TW_EVPCAP_SYN 0x100

void tw_evpcap_file_header(uint8_t out[TW_EVPCAP_HDR]);
/* 1 if h (n bytes) starts a file we wrote (same magic and link type). */
int tw_evpcap_header_ok(const uint8_t *h, size_t n);

/* Bytes of e's snippet kept: a prefix.  injected: the flow's verdict says
 * the server side's first payload is the censor's (block page, forged TLS
 * alert).  Client payload: nothing, except the header and question of a
 * DNS query; server payload: DNS answers and RST payloads whole (up to the
 * snippet), the first payload only when injected, never data after an RST. */
size_t tw_evpcap_keep(const struct tw_event *e, int injected);

/* The SYN and SYN-ACK as the flow snapshot of first (the flow's first
 * retained event) recorded them: time, ISN, TTL and IP-ID (the window is
 * not recorded: 0).  Returns how many were written to out (0 to 2). */
int tw_evpcap_handshake(const struct tw_event *first, struct tw_event out[2]);

/* One pcap record for e into out (cap bytes): client address replaced by
 * pnym, keep bytes of payload (client address in it overwritten), IP
 * lengths as on the wire, checksums recomputed when the whole payload is
 * kept (0 otherwise: a cut segment cannot be summed).  Returns the record
 * length or 0 if it does not fit; *redacted counts address overwrites. */
size_t tw_evpcap_record(const struct tw_event *e, const uint8_t *pnym, size_t keep, uint64_t wall_ns, uint8_t *out,
                        size_t cap, unsigned *redacted);

/* Internet checksum of p (n bytes) added to sum (folded by the caller). */
uint32_t tw_csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t tw_csum_fold(uint32_t sum);
#endif
