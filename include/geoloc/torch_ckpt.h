/* geoloc: PyTorch checkpoints (torch.save's zip format, PyTorch >= 1.6, as
 * PyTorch Lightning writes them) read without Python, and the import of
 * GeoEstimation's released base(M, f*) ResNet-50 (Müller-Budack et al., ECCV
 * 2018) into a geoloc model.
 *
 * The reader takes the zip's stored entries (<prefix>/data.pkl,
 * <prefix>/data/<key>), runs data.pkl in a pickle machine that builds only
 * plain values and tensors (any other class is an opaque object: nothing is
 * executed) and lists the tensors of the checkpoint's "state_dict" (or of the
 * top-level dict when it has none). Float32 tensors must be contiguous and lie
 * inside their storage; their bytes are given in place. Errors name the file
 * and the entry, tensor or byte offset. */
#ifndef GEOLOC_TORCH_CKPT_H
#define GEOLOC_TORCH_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "geoloc/safetensors.h"
#include "geoloc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GEOLOC_TORCH_MAX_DIMS 8

/* One tensor of the state_dict. */
typedef struct geoloc_torch_tensor {
    const char *name;        /* its state_dict key */
    const char *storage_type; /* "FloatStorage", "LongStorage", ... */
    int is_f32;              /* float32: data is set */
    size_t ndim;
    uint64_t shape[GEOLOC_TORCH_MAX_DIMS];
    uint64_t n_elements;
    const void *data;        /* float32: n_elements little-endian floats in the file
                                (maybe unaligned); NULL for other types */
    uint64_t file_offset;    /* float32: byte offset of data in the file */
} geoloc_torch_tensor;

typedef struct geoloc_torch_ckpt geoloc_torch_ckpt;

/* Maps and reads the checkpoint at path. */
geoloc_status geoloc_torch_ckpt_open(const char *path, geoloc_torch_ckpt **out, geoloc_error *err);

/* The same from a file image in memory (not copied: it must outlive *out); name is used in messages. */
geoloc_status geoloc_torch_ckpt_open_buffer(const void *data, size_t size, const char *name,
                                            geoloc_torch_ckpt **out, geoloc_error *err);

/* Releases a checkpoint (NULL allowed). */
void geoloc_torch_ckpt_close(geoloc_torch_ckpt *c);

/* Number of state_dict tensors. */
size_t geoloc_torch_ckpt_count(const geoloc_torch_ckpt *c);

/* Tensor i (0 <= i < count) in state_dict order, or NULL. */
const geoloc_torch_tensor *geoloc_torch_ckpt_tensor(const geoloc_torch_ckpt *c, size_t i);

/* The tensor called name, or NULL. */
const geoloc_torch_tensor *geoloc_torch_ckpt_find(const geoloc_torch_ckpt *c, const char *name);

/* The top-level integer entry key (Lightning's "epoch", "global_step"): 0 and *out, or -1. */
int geoloc_torch_ckpt_int(const geoloc_torch_ckpt *c, const char *key, int64_t *out);

/* ---- GeoEstimation's released model ------------------------------------------------ */

#define GEOLOC_GEOESTIMATION_PARTITIONS 3 /* cells_50_5000, cells_50_2000, cells_50_1000 */

/* What to record besides the weights. */
typedef struct geoloc_geoestimation_import_options {
    const char *source; /* geoloc.source, or NULL: "GeoEstimation base(M, f*) CKPTNAME ..." */
} geoloc_geoestimation_import_options;

/* What an import wrote. */
typedef struct geoloc_geoestimation_import_result {
    size_t n_tensors;        /* state_dict tensors copied */
    size_t n_ignored;        /* num_batches_tracked entries left out */
    uint64_t n_parameters;   /* floats copied */
    size_t classes[GEOLOC_GEOESTIMATION_PARTITIONS];
    char source[300];        /* the geoloc.source written */
} geoloc_geoestimation_import_result;

/* Imports GeoEstimation's Lightning checkpoint ckpt_path (state_dict: the
 * torchvision ResNet-50 as model.0/.1/.4-.7 = conv1/bn1/layer1-4, heads
 * classifier.0-2) with the partitions partitions_dir/cells_50_{5000,2000,1000}.csv
 * into a geoloc model file out_path (backbone included, written atomically):
 * ImageNet normalisation, 224 crops, geoloc.source naming the checkpoint and
 * geoloc.crops "five" (the paper's inference). Every expected tensor must be
 * there, float32, with its shape (heads: the partitions' sizes), and every other
 * state_dict entry must be a num_batches_tracked: anything else is an error
 * naming it, and nothing is written. opt and res may be NULL. */
geoloc_status geoloc_geoestimation_import(const char *ckpt_path, const char *partitions_dir,
                                          const char *out_path,
                                          const geoloc_geoestimation_import_options *opt,
                                          geoloc_geoestimation_import_result *res, geoloc_error *err);

#ifdef __cplusplus
}
#endif
#endif
