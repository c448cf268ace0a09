/*
 * features.h
 *		SQL arguments to model inputs: feature keys (integers, text, and arrays
 *		of either), labels as numbers in [0, 1], and NULL checks.
 */
#ifndef MONOLITH_FEATURES_H
#define MONOLITH_FEATURES_H

#include "postgres.h"

#include "fmgr.h"

/* A feature argument's type, looked up once per call site. */
typedef struct FeatureType
{
	Oid			type;
	Oid			elem;			/* element type of an array, else InvalidOid */
	int16		elem_len;
	bool		elem_byval;
	char		elem_align;
} FeatureType;

/* Keys of one example, in memory that outlives the row; grown by repalloc. */
typedef struct KeyBuffer
{
	uint64	   *keys;
	uint32		n;
	uint32		capacity;
} KeyBuffer;

extern void require_not_null(FunctionCallInfo fcinfo, int arg, const char *what);
extern void feature_type_init(FeatureType *ft, Oid type, int position);
extern void features_append(const FeatureType *ft, Datum value, uint32 slot, KeyBuffer *buf);
extern void label_check_type(Oid type);
extern double label_from_datum(Datum value, Oid type);

#endif							/* MONOLITH_FEATURES_H */
