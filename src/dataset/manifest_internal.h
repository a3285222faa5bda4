/* Manifest internals shared with the tests. Internal API. */
#ifndef GEOLOC_DATASET_MANIFEST_INTERNAL_H
#define GEOLOC_DATASET_MANIFEST_INTERNAL_H

/* Exactly csv_format_double(v, out) (shortest decimal that reads back as v,
 * Python repr style), with a fast path for plain decimals. */
void manifest_format_double(double v, char out[32]);

#endif
