/* The default fingerprint set built into tamperwatchd (fp_default.c):
 * tamperwatch's own rows of data/fingerprints.csv, in OONI's
 * blocking-fingerprints CSV format. */
#ifndef TW_FP_DEFAULT_H
#define TW_FP_DEFAULT_H

#include <stddef.h>

#include "verdicts/fingerprints.h"

/* the name its rows carry in messages and in --check-config */
#define TW_FP_DEFAULT_NAME "(built-in) data/fingerprints.csv"

/* Load the built-in set into db: tw_fp_db_load_mem's contract. */
int tw_fp_db_load_default(struct tw_fp_db *db, char *err, size_t errlen);
/* its size in bytes */
size_t tw_fp_default_size(void);

#endif
