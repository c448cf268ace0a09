/*
 * features.c
 *		SQL values to feature keys (see featkey.h for the key layout) and
 *		labels to numbers in [0, 1].
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "featkey.h"
#include "features.h"

/* Errors when argument arg is NULL; what names it in the message. */
void
require_not_null(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

static bool
scalar_type_supported(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID ||
		type == TEXTOID || type == VARCHAROID || type == UNKNOWNOID;
}

/* Checks a feature argument's type and caches what decoding it needs. */
void
feature_type_init(FeatureType *ft, Oid type, int position)
{
	ft->type = type;
	ft->elem = scalar_type_supported(type) ? InvalidOid : get_element_type(type);
	if (!scalar_type_supported(type) &&
		!(OidIsValid(ft->elem) && ft->elem != UNKNOWNOID && scalar_type_supported(ft->elem)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("feature %d has unsupported type %s", position, format_type_be(type)),
				 errhint("Features must be smallint, integer, bigint, text or varchar, or arrays of those.")));
	if (OidIsValid(ft->elem))
		get_typlenbyvalalign(ft->elem, &ft->elem_len, &ft->elem_byval, &ft->elem_align);
}

static uint64
scalar_key(Datum value, Oid type, uint32 slot)
{
	switch (type)
	{
		case INT2OID:
			return featkey_int(slot, DatumGetInt16(value));
		case INT4OID:
			return featkey_int(slot, DatumGetInt32(value));
		case INT8OID:
			return featkey_int(slot, DatumGetInt64(value));
		case UNKNOWNOID:
			{
				const char *s = DatumGetCString(value);

				return featkey_text(slot, s, strlen(s));
			}
		default:
			{
				text	   *t = DatumGetTextPP(value);

				return featkey_text(slot, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
	}
}

static void
push_key(KeyBuffer *buf, uint64 key)
{
	if (buf->n == buf->capacity)
	{
		buf->capacity *= 2;
		buf->keys = repalloc_huge(buf->keys, sizeof(uint64) * buf->capacity);
	}
	buf->keys[buf->n++] = key;
}

/* Appends the keys of one value: one, or one per non-null array element. */
void
features_append(const FeatureType *ft, Datum value, uint32 slot, KeyBuffer *buf)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (!OidIsValid(ft->elem))
	{
		push_key(buf, scalar_key(value, ft->type, slot));
		return;
	}
	array = DatumGetArrayTypeP(value);
	deconstruct_array(array, ft->elem, ft->elem_len, ft->elem_byval, ft->elem_align,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			push_key(buf, scalar_key(elems[i], ft->elem, slot));
}

/* Errors unless a label argument's type is boolean or numeric. */
void
label_check_type(Oid type)
{
	if (type != BOOLOID && type != INT2OID && type != INT4OID && type != INT8OID &&
		type != FLOAT4OID && type != FLOAT8OID && type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("label has unsupported type %s", format_type_be(type)),
				 errhint("A label is a boolean or a number between 0 and 1.")));
}

/* A label as a number in [0, 1]; errors on anything else. */
double
label_from_datum(Datum value, Oid type)
{
	double		label;

	switch (type)
	{
		case BOOLOID:
			return DatumGetBool(value) ? 1.0 : 0.0;
		case INT2OID:
			label = DatumGetInt16(value);
			break;
		case INT4OID:
			label = DatumGetInt32(value);
			break;
		case INT8OID:
			label = (double) DatumGetInt64(value);
			break;
		case FLOAT4OID:
			label = DatumGetFloat4(value);
			break;
		case FLOAT8OID:
			label = DatumGetFloat8(value);
			break;
		default:
			label = DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
			break;
	}
	if (!(label >= 0 && label <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label %g is out of range", label),
				 errdetail("A label must be between 0 and 1.")));
	return label;
}
