/*
 * catalog.h
 *		Model definitions in monolith.model_definitions.
 */
#ifndef MONOLITH_CATALOG_H
#define MONOLITH_CATALOG_H

#include "shmem.h"

extern void catalog_install_callbacks(void);
extern void catalog_lookup(text *name, ModelDef *def);

#endif							/* MONOLITH_CATALOG_H */
