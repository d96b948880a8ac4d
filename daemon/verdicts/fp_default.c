/* The default fingerprint set, built into the daemon: data/fingerprints.csv
 * as it was at build time (the Makefile rebuilds this object when the file
 * changes).  Loaded before fingerprints.files and --fingerprints unless
 * fingerprints.default = no (docs/configuration.md, data/fingerprints.README). */
#include "verdicts/fp_default.h"

#include <stdint.h>

/* the assembler reads the file relative to the directory make runs in: the
 * repository's root */
__asm__(".pushsection .rodata\n"
        ".balign 8\n"
        "tw_fp_default_start:\n"
        ".incbin \"data/fingerprints.csv\"\n"
        "tw_fp_default_end:\n"
        ".byte 0\n"
        ".popsection\n");
extern const uint8_t tw_fp_default_start[] __asm__("tw_fp_default_start");
extern const uint8_t tw_fp_default_end[] __asm__("tw_fp_default_end");

int tw_fp_db_load_default(struct tw_fp_db *db, char *err, size_t errlen)
{
	return tw_fp_db_load_mem(db, TW_FP_DEFAULT_NAME, tw_fp_default_start,
	                         (size_t)(tw_fp_default_end - tw_fp_default_start), err, errlen);
}

size_t tw_fp_default_size(void)
{
	return (size_t)(tw_fp_default_end - tw_fp_default_start);
}
