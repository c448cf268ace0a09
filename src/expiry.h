/*
 * expiry.h
 *		Expiry by age: cutoffs, and the worker's passes (see expiry.c).
 */
#ifndef MONOLITH_EXPIRY_H
#define MONOLITH_EXPIRY_H

#include "datatype/timestamp.h"

extern int	monolith_expire_interval_ms;

extern uint32 expiry_cutoff(TimestampTz now, const Interval *age);
extern void expiry_begin(const int64 *ids, int n);
extern bool expiry_step(void);

#endif							/* MONOLITH_EXPIRY_H */
