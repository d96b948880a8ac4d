/* The signal that asks a thread to drop its capabilities (sandbox.c):
 * capabilities are per thread, so every thread must run the drop itself.  A
 * thread that blocks signals must leave this one unblocked. */
#ifndef TW_PRIVSIG_H
#define TW_PRIVSIG_H
#include <signal.h>

#define TW_SIG_PRIVDROP (SIGRTMIN + 4)

#endif
