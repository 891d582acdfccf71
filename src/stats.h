/* The batch's closing statistics: summary fields and their JSON form. */
#ifndef MX_STATS_H
#define MX_STATS_H

#include "engine.h"

/*
 * Merges the loop reports of a joined batch into b->sum, and stores the
 * whole set as JSON in b->sum.stats_json (NULL when out of memory).
 */
void stats_finish(struct mx_batch *b);

#endif
