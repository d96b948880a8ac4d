/* pcap_in.h - capture-file reader for offline replay.
 *
 * Reads pcap and pcapng (through libpcap), plain or gzip-compressed (detected
 * by the 1f 8b magic, not by the name), from a path or from standard input
 * ("-"), and returns every packet as an Ethernet frame so that the very same
 * bytes can be fed to the XDP program (BPF_PROG_TEST_RUN) and to the
 * userspace parser.
 *
 * Link types and how they become Ethernet frames:
 *   EN10MB (1)                  returned as is, whatever the ethertype
 *                               (ARP, VLAN, ... are frames, not skipped).
 *   LINUX_SLL (113), SLL2 (276) zero MACs + the SLL protocol field + payload.
 *                               Any protocol >= 0x0600 is a real ethertype
 *                               and is kept (IPv4, IPv6, ARP, 802.1Q, ...);
 *                               smaller values are Linux pseudo-protocols
 *                               (802.2 LLC, CAN, netlink ...) that have no
 *                               Ethernet II form: skipped_unsupported_l3.
 *   RAW (12, 14, 101), IPV4 (228), IPV6 (229)
 *                               zero MACs + 0x0800/0x86DD chosen by the IP
 *                               version nibble; other nibbles are skipped
 *                               (skipped_unsupported_l3).
 *   NULL (0, host-order family), LOOP (108, network order)
 *                               family 2 -> IPv4, 24/28/30 -> IPv6; other
 *                               families are skipped (skipped_unsupported_l3).
 *   anything else               tw_pcap_open fails naming the number and name.
 *
 * A record whose caplen cannot hold the link header (or, for raw IP, is
 * empty) is skipped and counted in skipped_truncated_l2.  A frame longer
 * than TW_PCAP_MAX_FRAME is cut to TW_PCAP_MAX_FRAME (clipped_frames);
 * origlen keeps the real length.
 *
 * Error messages are one line, always starting with the file name ("stdin"
 * for "-"):
 *   open:  "x.pcap: No such file or directory"
 *          "x.pcap: unknown file format"                  (libpcap's text)
 *          "x.pcap: unsupported link type 105 (IEEE802_11)"
 *          "x.gz: gzip stream truncated before the capture header (zlib: ...)"
 *   next:  "x.pcap: packet 3: truncated dump file; tried to read 154 captured
 *           bytes, only got 20"                            (libpcap's text)
 *          "x.pcap: packet 2: invalid packet capture length 4294967280, ..."
 *          "x.gz: packet 3: gzip stream truncated after 2 packets (zlib:
 *           unexpected end of file)"
 *          "x.gz: packet 3: gzip stream corrupt after 2 packets (zlib: ...)"
 * "packet N" is the 1-based record that could not be read.
 *
 * gzip cut short: every record fully inside the received part is returned,
 * then the fault (also when only the CRC trailer is missing).  gzip with
 * corrupt data: zlib discards the output of the inflate call that hit the
 * bad bytes, so up to ~64 KiB of records before the damage may be lost;
 * the fault is still reported, never a clean end.
 */
#ifndef TW_PCAP_IN_H
#define TW_PCAP_IN_H

#include <signal.h>
#include <stdint.h>
#include <stddef.h>

#define TW_PCAP_MAX_FRAME 65549 /* 14-byte synthesized Ethernet header + 65535 */

struct tw_pcap_in; /* opaque */

struct tw_frame {            /* one packet, always as an Ethernet frame */
	uint64_t ts_ns;      /* capture timestamp, ns since epoch (usec and nsec files) */
	uint32_t caplen;     /* bytes in data[] (<= TW_PCAP_MAX_FRAME) */
	uint32_t origlen;    /* length on the wire of the Ethernet-equivalent frame:
                                            for a synthesized header, the record's length minus the
                                            original link header plus 14; never below caplen */
	const uint8_t *data; /* valid until the next tw_pcap_next/close */
};

struct tw_pcap_stats {
	uint64_t packets;                /* frames returned */
	uint64_t skipped_truncated_l2;   /* caplen shorter than the link header, skipped */
	uint64_t skipped_unsupported_l3; /* SLL pseudo-protocol (< 0x0600), loopback family that is
                                        neither IPv4 nor IPv6, raw IP whose version is neither
                                        4 nor 6: skipped.  Ethernet frames are never skipped. */
	uint64_t out_of_order;           /* record timestamp earlier than the previous record's
                                        (tolerated, counted) */
	uint64_t read_errors;            /* 1 if the file ended in a fault (truncated record,
                                        corrupt block, gzip cut short) */
	/* additions */
	uint64_t records;        /* records read from the file (frames + skipped) */
	uint64_t clipped_frames; /* frames cut to TW_PCAP_MAX_FRAME */
};

/* path "-" = standard input.  Detects gzip by its magic bytes (1f 8b).
   Returns 0, or -1 with a one-line message in err naming the file and the reason. */
int tw_pcap_open(struct tw_pcap_in **out, const char *path, char *err, size_t errlen);

/* 1 = a frame, 0 = clean end of file, -1 = fault: err says what (file name, packet
   number, reason); frames read before the fault were already returned; the caller
   reports and stops this file.  After 0 or -1 every later call returns the same. */
int tw_pcap_next(struct tw_pcap_in *in, struct tw_frame *f, char *err, size_t errlen);

/* The process's stop flag (SIGINT/SIGTERM; NULL: none): once it is set,
   tw_pcap_next returns 0 (a clean end) at the next record, also in a run of
   skipped records, and a signal interrupting the wait for a pipe's input
   ends it the same way; other signals (SIGHUP) only resume the wait. */
void tw_pcap_stop_flag(volatile sig_atomic_t *stop);

const struct tw_pcap_stats *tw_pcap_stats(const struct tw_pcap_in *in);

/* The file's link type as libpcap reports it (a DLT_* value), not the output's
   (which is always Ethernet). */
int tw_pcap_linktype(const struct tw_pcap_in *in);

/* True if the input was gzip-compressed. */
int tw_pcap_is_gzip(const struct tw_pcap_in *in);

/* How far the input has been read (bytes of the file as stored: compressed
   for gzip, read ahead by up to 1 MiB) and the file's size: 1 when both are
   known (a regular file), 0 (a pipe, stdin). */
int tw_pcap_progress(const struct tw_pcap_in *in, uint64_t *pos, uint64_t *size);

void tw_pcap_close(struct tw_pcap_in *in);

#endif /* TW_PCAP_IN_H */
