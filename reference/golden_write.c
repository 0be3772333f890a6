/*
 * Golden-vector files through the HDF5 C API (1.10 or later).
 *
 * Layout choices: objects use the oldest file format that can express them,
 * capped at the HDF5 1.8 format, so every h5py and HDF5 release of the last
 * decade reads the files. Strings are variable-length UTF-8, as h5py writes
 * a Python str. Datasets of 4096 elements or more are chunked, at most
 * 1 MiB a chunk, with the shuffle and deflate filters. Smaller and
 * zero-length datasets are contiguous. Modification times are not stored,
 * so a rerun writes the same bytes as long as the zlib version is the same.
 */
#include "reference/golden_write.h"

#include "harness/registry.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_NAME "attnbench-golden"
#define FORMAT_VERSION 1

/* Datasets below this many elements are stored contiguous: the filters
   gain nothing on them and chunk indexes cost more than they save. */
#define MIN_CHUNKED_ELEMENTS 4096
/* Upper bound on one chunk, so a reader never inflates a huge block to
   read a few rows. */
#define MAX_CHUNK_BYTES (1u << 20)
/* zlib level 6 is zlib's own default: nearly the ratio of level 9 on
   shuffled float data at a fraction of the time. */
#define DEFLATE_LEVEL 6

struct atb_golden_writer {
    hid_t file;
    char path[512];
};

/* === Silencing HDF5's own error printing === */

/* HDF5 prints its error stack to stderr by default. This writer reports
   errors itself with the file and case, so each public call turns that
   printing off and restores it before returning. */
typedef struct {
    H5E_auto2_t func;
    void *data;
} saved_error_handler;

static saved_error_handler quiet_hdf5(void)
{
    saved_error_handler saved;
    H5Eget_auto2(H5E_DEFAULT, &saved.func, &saved.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return saved;
}

static void restore_hdf5(saved_error_handler saved)
{
    H5Eset_auto2(H5E_DEFAULT, saved.func, saved.data);
}

/* === Attributes === */

static int write_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type,
                      const void *value)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return -1;
    hid_t attr = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr < 0 ? -1 : (H5Awrite(attr, mem_type, value) < 0 ? -1 : 0);
    if (attr >= 0)
        H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

static int write_attr_int(hid_t obj, const char *name, int64_t value)
{
    return write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

static int write_attr_double(hid_t obj, const char *name, double value)
{
    return write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

static int write_attr_string(hid_t obj, const char *name, const char *value)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return -1;
    int rc = -1;
    if (H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
        rc = write_attr(obj, name, type, type, &value);
    H5Tclose(type);
    return rc;
}

/* === Datasets === */

/* Dataset creation properties: no times, and for large datasets chunks of
   at most MAX_CHUNK_BYTES with shuffle and deflate. */
static hid_t dataset_properties(int rank, const hsize_t *dims, size_t element_bytes)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0)
        return -1;
    if (H5Pset_obj_track_times(dcpl, 0) < 0)
        goto fail;

    hsize_t n = 1;
    for (int r = 0; r < rank; r++)
        n *= dims[r];
    if (n < MIN_CHUNKED_ELEMENTS)
        return dcpl;

    /* Halve the leading dimensions until a chunk fits the byte limit. */
    hsize_t chunk[4];
    memcpy(chunk, dims, (size_t)rank * sizeof(hsize_t));
    for (int r = 0; r < rank; r++) {
        while (chunk[r] > 1 && n * element_bytes > MAX_CHUNK_BYTES) {
            n /= chunk[r];
            chunk[r] = (chunk[r] + 1) / 2;
            n *= chunk[r];
        }
    }
    if (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0
        || H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0)
        goto fail;
    return dcpl;

fail:
    H5Pclose(dcpl);
    return -1;
}

static int write_dataset(hid_t group, const char *name, int rank, const int64_t *dims64,
                         hid_t file_type, hid_t mem_type, size_t element_bytes,
                         const void *data)
{
    hsize_t dims[4];
    for (int r = 0; r < rank; r++)
        dims[r] = (hsize_t)dims64[r];

    hid_t space = H5Screate_simple(rank, dims, NULL);
    if (space < 0)
        return -1;
    hid_t dcpl = dataset_properties(rank, dims, element_bytes);
    hid_t dset = -1;
    int rc = -1;
    if (dcpl >= 0)
        dset = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dset >= 0)
        rc = H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;

    if (dset >= 0)
        H5Dclose(dset);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

static int write_f32(hid_t group, const char *name, int rank, const int64_t *dims,
                     const float *data)
{
    return write_dataset(group, name, rank, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                         sizeof(float), data);
}

/* === Public functions === */

int atb_golden_name_valid(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *c = name; *c; c++) {
        const int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
                       || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

atb_status atb_golden_writer_create(const char *path, const char *generator, atb_golden_writer **out,
                             char *err, size_t err_len)
{
    *out = NULL;
    atb_golden_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, err_len, "cannot allocate the golden-file writer");
        return ATB_ERR_NOMEM;
    }
    snprintf(w->path, sizeof(w->path), "%s", path);

    saved_error_handler saved = quiet_hdf5();
    atb_status st = ATB_OK;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18) < 0) {
        snprintf(err, err_len, "%s: cannot set up HDF5 file access properties", path);
        st = ATB_ERR_LIBRARY;
        goto done;
    }
    w->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (w->file < 0) {
        snprintf(err, err_len, "%s: cannot create the file (does the folder exist and is it "
                               "writable?)", path);
        st = ATB_ERR_IO;
        goto done;
    }
    if (write_attr_string(w->file, "format", FORMAT_NAME) < 0
        || write_attr_int(w->file, "format_version", FORMAT_VERSION) < 0
        || write_attr_string(w->file, "generator", generator) < 0) {
        snprintf(err, err_len, "%s: cannot write the root attributes", path);
        H5Fclose(w->file);
        st = ATB_ERR_IO;
    }

done:
    if (fapl >= 0)
        H5Pclose(fapl);
    restore_hdf5(saved);
    if (st != ATB_OK) {
        free(w);
        return st;
    }
    *out = w;
    return ATB_OK;
}

static int write_attention_case(hid_t group, const atb_tensors *t, const double *expected)
{
    const atb_attention_shape *s = &t->problem.attention;
    const int64_t q_dims[] = {s->batch, s->heads, s->q_len, s->head_dim};
    const int64_t kv_dims[] = {s->batch, s->kv_heads, s->kv_len, s->head_dim};

    if (write_attr_int(group, "batch", s->batch) < 0
        || write_attr_int(group, "heads", s->heads) < 0
        || write_attr_int(group, "kv_heads", s->kv_heads) < 0
        || write_attr_int(group, "q_len", s->q_len) < 0
        || write_attr_int(group, "kv_len", s->kv_len) < 0
        || write_attr_int(group, "head_dim", s->head_dim) < 0
        || write_attr_double(group, "scale", s->scale) < 0
        || write_attr_string(group, "causal", atb_causal_name(s->causal)) < 0)
        return -1;

    if (write_f32(group, "q", 4, q_dims, t->q) < 0 || write_f32(group, "k", 4, kv_dims, t->k) < 0
        || write_f32(group, "v", 4, kv_dims, t->v) < 0)
        return -1;
    return write_dataset(group, "expected", 4, q_dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                         sizeof(double), expected);
}

static int write_encoder_case(hid_t group, const atb_tensors *t, const double *expected)
{
    const atb_encoder_shape *s = &t->problem.encoder;
    const int64_t E = s->embed_dim, F = s->ffn_dim;
    const int64_t x_dims[] = {s->batch, s->seq_len, E};

    if (write_attr_int(group, "batch", s->batch) < 0
        || write_attr_int(group, "seq_len", s->seq_len) < 0
        || write_attr_int(group, "embed_dim", E) < 0
        || write_attr_int(group, "heads", s->heads) < 0
        || write_attr_int(group, "ffn_dim", F) < 0
        || write_attr_string(group, "activation",
                             s->activation == ATB_ACT_GELU ? "gelu" : "relu") < 0
        || write_attr_int(group, "norm_first", s->norm_first) < 0
        || write_attr_double(group, "layer_norm_eps", s->layer_norm_eps) < 0
        || write_attr_string(group, "causal", atb_causal_name(s->causal)) < 0
        || write_attr_string(group, "positional_encoding",
                             s->positional_encoding ? "sinusoidal" : "none") < 0)
        return -1;

    /* The weights in atb_encoder_weights order, with their shapes. */
    static const char *const names[12] = {
        "in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias",
        "linear1_weight", "linear1_bias", "linear2_weight", "linear2_bias",
        "norm1_weight",   "norm1_bias",   "norm2_weight",    "norm2_bias",
    };
    const int ranks[12] = {2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1};
    const int64_t dims[12][2] = {
        {3 * E, E}, {3 * E}, {E, E}, {E}, {F, E}, {F}, {E, F}, {E}, {E}, {E}, {E}, {E},
    };
    if (write_f32(group, "x", 3, x_dims, t->x) < 0)
        return -1;
    for (int i = 0; i < 12; i++)
        if (write_f32(group, names[i], ranks[i], dims[i], t->weights[i]) < 0)
            return -1;
    return write_dataset(group, "expected", 3, x_dims, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                         sizeof(double), expected);
}

atb_status atb_golden_writer_add_case(atb_golden_writer *w, const char *name,
                                 const char *description, uint64_t seed, const atb_tensors *t,
                                 const double *expected, char *err, size_t err_len)
{
    if (!atb_golden_name_valid(name)) {
        snprintf(err, err_len, "invalid case name '%s': use letters, digits, '_', '.' and '-'",
                 name ? name : "");
        return ATB_ERR_INVALID;
    }
    atb_status st = atb_problem_validate(&t->problem, err, err_len);
    if (st != ATB_OK)
        return st;
    if (seed > (uint64_t)INT64_MAX) {
        snprintf(err, err_len, "case %s: seed %llu does not fit the int64 attribute", name,
                 (unsigned long long)seed);
        return ATB_ERR_INVALID;
    }

    saved_error_handler saved = quiet_hdf5();
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    hid_t group = -1;
    int rc = -1;
    if (gcpl >= 0 && H5Pset_obj_track_times(gcpl, 0) >= 0)
        group = H5Gcreate2(w->file, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    if (group >= 0) {
        const int is_attention = t->problem.op == ATB_OP_ATTENTION;
        rc = write_attr_string(group, "op", atb_op_name(t->problem.op));
        if (rc == 0)
            rc = write_attr_string(group, "dtype", "f32");
        if (rc == 0)
            rc = write_attr_int(group, "seed", (int64_t)seed);
        if (rc == 0)
            rc = write_attr_string(group, "description", description ? description : "");
        if (rc == 0)
            rc = is_attention ? write_attention_case(group, t, expected)
                              : write_encoder_case(group, t, expected);
        if (rc == 0 && t->kv_valid_len) {
            const int64_t batch = is_attention ? t->problem.attention.batch
                                               : t->problem.encoder.batch;
            rc = write_dataset(group, "kv_valid_len", 1, &batch, H5T_STD_I32LE,
                               H5T_NATIVE_INT32, sizeof(int32_t), t->kv_valid_len);
        }
        H5Gclose(group);
    }
    if (gcpl >= 0)
        H5Pclose(gcpl);
    restore_hdf5(saved);

    if (rc < 0) {
        snprintf(err, err_len, "%s: case %s: HDF5 failed to write the case (disk full, or a "
                               "case of that name already exists?)", w->path, name);
        return ATB_ERR_IO;
    }
    return ATB_OK;
}

atb_status atb_golden_writer_close(atb_golden_writer *w, char *err, size_t err_len)
{
    if (!w)
        return ATB_OK;
    saved_error_handler saved = quiet_hdf5();
    const herr_t rc = H5Fclose(w->file);
    restore_hdf5(saved);
    atb_status st = ATB_OK;
    if (rc < 0) {
        snprintf(err, err_len, "%s: HDF5 failed to close the file", w->path);
        st = ATB_ERR_IO;
    }
    free(w);
    return st;
}
