/*
 * Golden-file reader. The file is opened read-only; HDF5's own error stack
 * printing is switched off and every failure becomes an atb_status with a
 * message of the form "FILE: case NAME: field FIELD: what is wrong".
 *
 * Validation order for a case: attributes (type class, size, scalar shape,
 * value ranges), then the problem's limits and size products, then each
 * dataset's type class, size, rank and dimensions, then the memory budget.
 * Only then is anything allocated or read.
 *
 * HDF5 1.10.8 itself is not memory-safe on crafted files: fuzzing found
 * heap overflows inside its object-header decoder. atb_golden_open
 * therefore first walks the whole file's metadata in a child process
 * (POSIX fork) and rejects a file that crashes or hangs the child.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness/golden_read.h"

#include "harness/registry.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds the metadata walk in the child may take. The committed suites
   take well under a second; a file that keeps HDF5 busy longer is looping
   on damaged metadata. */
#define PROBE_TIMEOUT_S 60

/* A case name longer than ATB_CASE_NAME_MAX - 1 is kept shortened, with
   "..." at the end. A link whose object header HDF5 cannot read is kept
   too. Each then gets an ERROR of its own instead of vanishing from the
   results. */
typedef struct {
    char name[ATB_CASE_NAME_MAX];
    int name_too_long;
    int header_unreadable;
} case_entry;

struct atb_golden_file {
    char path[1024];
    hid_t file;
    size_t n_cases;
    size_t capacity; /* entries allocated in cases */
    int list_failed; /* set when growing cases failed */
    case_entry *cases;
};

/* Context for error messages while reading one case. */
typedef struct {
    const char *path;
    const char *case_name;
    char *err;
    size_t err_len;
} reader;

static atb_status fail(const reader *rd, atb_status st, const char *field, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (rd->case_name && field)
        snprintf(rd->err, rd->err_len, "%s: case %s: field %s: %s", rd->path, rd->case_name, field,
                 detail);
    else if (rd->case_name)
        snprintf(rd->err, rd->err_len, "%s: case %s: %s", rd->path, rd->case_name, detail);
    else if (field)
        snprintf(rd->err, rd->err_len, "%s: field %s: %s", rd->path, field, detail);
    else
        snprintf(rd->err, rd->err_len, "%s: %s", rd->path, detail);
    return st;
}

static void silence_hdf5(void)
{
    static int done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

/* === Attributes === */

/* Opens attribute name of obj and checks it is a scalar (or one element)
   of the given type class. Returns a negative id on failure (err set). */
static hid_t open_scalar_attr(const reader *rd, hid_t obj, const char *name, H5T_class_t cls,
                              const char *class_name, int optional, int *missing)
{
    *missing = 0;
    htri_t exists = H5Aexists(obj, name);
    if (exists <= 0) {
        *missing = 1;
        if (!optional)
            fail(rd, ATB_ERR_FORMAT, name, "missing attribute");
        return -1;
    }
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0) {
        fail(rd, ATB_ERR_FORMAT, name, "cannot open attribute");
        return -1;
    }
    hid_t type = H5Aget_type(attr);
    hid_t space = H5Aget_space(attr);
    const H5T_class_t got_class = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    const hssize_t n_points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (got_class != cls) {
        H5Aclose(attr);
        fail(rd, ATB_ERR_FORMAT, name, "attribute must be %s", class_name);
        return -1;
    }
    if (n_points != 1) {
        H5Aclose(attr);
        fail(rd, ATB_ERR_FORMAT, name, "attribute must hold exactly one value (holds %lld)",
             (long long)n_points);
        return -1;
    }
    return attr;
}

static atb_status read_int_attr(const reader *rd, hid_t obj, const char *name, int64_t *value,
                                int optional)
{
    int missing;
    hid_t attr = open_scalar_attr(rd, obj, name, H5T_INTEGER, "an integer", optional, &missing);
    if (attr < 0)
        return missing && optional ? ATB_OK : ATB_ERR_FORMAT;
    hid_t type = H5Aget_type(attr);
    const size_t size = H5Tget_size(type);
    H5Tclose(type);
    if (size > 8) {
        H5Aclose(attr);
        return fail(rd, ATB_ERR_FORMAT, name, "integer attribute of %zu bytes (at most 8)", size);
    }
    const herr_t st = H5Aread(attr, H5T_NATIVE_INT64, value);
    H5Aclose(attr);
    if (st < 0)
        return fail(rd, ATB_ERR_FORMAT, name, "cannot read integer attribute");
    return ATB_OK;
}

static atb_status read_float_attr(const reader *rd, hid_t obj, const char *name, double *value,
                                  int optional)
{
    int missing;
    hid_t attr = open_scalar_attr(rd, obj, name, H5T_FLOAT, "a float", optional, &missing);
    if (attr < 0)
        return missing && optional ? ATB_OK : ATB_ERR_FORMAT;
    const herr_t st = H5Aread(attr, H5T_NATIVE_DOUBLE, value);
    H5Aclose(attr);
    if (st < 0)
        return fail(rd, ATB_ERR_FORMAT, name, "cannot read float attribute");
    return ATB_OK;
}

/* Reads a string attribute, fixed or variable length, ASCII or UTF-8, into
   buf. Trailing NULs and spaces (fixed-length padding) are removed. */
static atb_status read_string_attr(const reader *rd, hid_t obj, const char *name, char *buf,
                                   size_t buf_len, int optional)
{
    int missing;
    buf[0] = '\0';
    hid_t attr = open_scalar_attr(rd, obj, name, H5T_STRING, "a string", optional, &missing);
    if (attr < 0)
        return missing && optional ? ATB_OK : ATB_ERR_FORMAT;

    atb_status result = ATB_OK;
    hid_t file_type = H5Aget_type(attr);
    const H5T_cset_t cset = H5Tget_cset(file_type);
    hid_t mem_type = H5Tcopy(H5T_C_S1);
    H5Tset_cset(mem_type, cset);

    if (H5Tis_variable_str(file_type) > 0) {
        char *text = NULL;
        H5Tset_size(mem_type, H5T_VARIABLE);
        if (H5Aread(attr, mem_type, &text) < 0) {
            result = fail(rd, ATB_ERR_FORMAT, name, "cannot read string attribute");
        } else {
            snprintf(buf, buf_len, "%s", text ? text : "");
            if (text)
                H5free_memory(text);
        }
    } else {
        const size_t size = H5Tget_size(file_type);
        if (size == 0 || size >= 65536) {
            result = fail(rd, ATB_ERR_FORMAT, name, "string attribute of %zu bytes", size);
        } else {
            char *text = calloc(size + 1, 1);
            H5Tset_size(mem_type, size);
            H5Tset_strpad(mem_type, H5T_STR_NULLPAD);
            if (!text || H5Aread(attr, mem_type, text) < 0)
                result = fail(rd, ATB_ERR_FORMAT, name, "cannot read string attribute");
            else
                snprintf(buf, buf_len, "%s", text);
            free(text);
        }
    }
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
        buf[n - 1] = '\0';
    H5Tclose(mem_type);
    H5Tclose(file_type);
    H5Aclose(attr);
    return result;
}

/* Maps a string attribute to one of the allowed words; returns the index. */
static atb_status read_choice_attr(const reader *rd, hid_t obj, const char *name,
                                   const char *const *choices, int n_choices, int *index)
{
    char text[64];
    atb_status st = read_string_attr(rd, obj, name, text, sizeof(text), 0);
    if (st != ATB_OK)
        return st;
    for (int i = 0; i < n_choices; i++)
        if (strcmp(text, choices[i]) == 0) {
            *index = i;
            return ATB_OK;
        }
    char allowed[256] = "";
    for (int i = 0; i < n_choices; i++) {
        strncat(allowed, i ? ", " : "", sizeof(allowed) - strlen(allowed) - 1);
        strncat(allowed, choices[i], sizeof(allowed) - strlen(allowed) - 1);
    }
    return fail(rd, ATB_ERR_FORMAT, name, "value '%s' is not one of: %s", text, allowed);
}

/* === File === */

/* Appends link name to the case list when it is a group stored in this
   file, or an object whose header cannot be read (it may be a damaged
   case). Soft and external links are skipped, so a case never reaches into
   another file. */
static herr_t add_case(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    atb_golden_file *f = data;
    if (info->type != H5L_TYPE_HARD)
        return 0;
    H5O_info_t object;
    const int header_unreadable =
        H5Oget_info_by_name2(root, name, &object, H5O_INFO_BASIC, H5P_DEFAULT) < 0;
    if (!header_unreadable && object.type != H5O_TYPE_GROUP)
        return 0; /* readers ignore what they do not know */
    if (f->n_cases == f->capacity) {
        const size_t capacity = f->capacity ? 2 * f->capacity : 16;
        void *grown = realloc(f->cases, capacity * sizeof(*f->cases));
        if (!grown) {
            f->list_failed = 1;
            return 1; /* stops the iteration */
        }
        f->cases = grown;
        f->capacity = capacity;
    }
    case_entry *entry = &f->cases[f->n_cases++];
    entry->header_unreadable = header_unreadable;
    entry->name_too_long = strlen(name) >= ATB_CASE_NAME_MAX;
    if (entry->name_too_long)
        snprintf(entry->name, sizeof(entry->name), "%.*s...", ATB_CASE_NAME_MAX - 4, name);
    else
        snprintf(entry->name, sizeof(entry->name), "%s", name);
    return 0;
}

/* Validates the root attributes of an open file and lists its cases. Takes
   ownership of file: it is closed on failure, and on success it belongs to
   the returned atb_golden_file. */
static atb_status open_validated(hid_t file, const char *path, atb_golden_file **out, char *err,
                                 size_t err_len)
{
    reader rd = {.path = path, .err = err, .err_len = err_len};

    char format[64];
    int64_t version = 0;
    atb_status st = read_string_attr(&rd, file, "format", format, sizeof(format), 0);
    if (st == ATB_OK && strcmp(format, ATB_GOLDEN_FORMAT) != 0)
        st = fail(&rd, ATB_ERR_FORMAT, "format", "unknown format '%s' (expected '%s')", format,
                  ATB_GOLDEN_FORMAT);
    if (st == ATB_OK)
        st = read_int_attr(&rd, file, "format_version", &version, 0);
    if (st == ATB_OK && version > ATB_GOLDEN_FORMAT_VERSION)
        st = fail(&rd, ATB_ERR_FORMAT, "format_version",
                  "version %lld is newer than this reader supports (%d); update attnbench",
                  (long long)version, ATB_GOLDEN_FORMAT_VERSION);
    if (st == ATB_OK && version < 1)
        st = fail(&rd, ATB_ERR_FORMAT, "format_version", "version %lld is invalid",
                  (long long)version);
    if (st != ATB_OK) {
        H5Fclose(file);
        return st;
    }

    /* Cases are the groups directly under the root, in name order. The
       links are visited rather than counted: a damaged file can claim any
       number of links. */
    atb_golden_file *f = calloc(1, sizeof(*f));
    if (!f) {
        H5Fclose(file);
        return fail(&rd, ATB_ERR_NOMEM, NULL, "cannot allocate the case list");
    }
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->file = file;
    hsize_t position = 0;
    const herr_t listed = H5Literate(file, H5_INDEX_NAME, H5_ITER_INC, &position, add_case, f);
    if (listed < 0 || f->list_failed) {
        atb_golden_close(f);
        if (listed >= 0)
            return fail(&rd, ATB_ERR_NOMEM, NULL, "cannot allocate the case list");
        return fail(&rd, ATB_ERR_FORMAT, NULL, "cannot list the root group (damaged file)");
    }
    *out = f;
    return ATB_OK;
}

/* Opens the file and validates every case's attributes and dataset headers
   in a child process, reading no data (a memory budget of zero stops each
   load just before allocation). A crash or hang inside HDF5 then ends the
   child only. Returns ATB_OK when the child finished, whatever it found:
   the caller's own open and loads report those errors. */
static atb_status probe_in_child(const char *path, const reader *rd)
{
    fflush(stdout);
    fflush(stderr);
    const pid_t child = fork();
    if (child < 0)
        return ATB_OK; /* no probe possible; the caller reads the file unprotected */
    if (child == 0) {
        alarm(PROBE_TIMEOUT_S);
        char err[1024];
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        atb_golden_file *f = NULL;
        if (file >= 0 && open_validated(file, path, &f, err, sizeof(err)) == ATB_OK) {
            for (size_t i = 0; i < f->n_cases; i++) {
                atb_golden_case c;
                if (atb_golden_load(f, i, 0, &c, err, sizeof(err)) == ATB_OK)
                    atb_golden_case_free(&c);
            }
        }
        _exit(0); /* no atexit handlers or stdio buffers copied from the parent */
    }

    int status = 0;
    pid_t waited;
    do
        waited = waitpid(child, &status, 0);
    while (waited < 0 && errno == EINTR);
    if (waited < 0)
        return ATB_OK;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return fail(rd, ATB_ERR_FORMAT, NULL,
                    "HDF5 was still reading the file's metadata after %d s (damaged file); "
                    "the file is rejected",
                    PROBE_TIMEOUT_S);
    if (WIFSIGNALED(status))
        return fail(rd, ATB_ERR_FORMAT, NULL,
                    "HDF5 crashed (signal %d) while reading the file's metadata; the file is "
                    "damaged or crafted and is rejected",
                    WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(rd, ATB_ERR_FORMAT, NULL,
                    "reading the file's metadata failed in a child process (exit status %d; "
                    "a sanitizer report above names the fault); the file is rejected",
                    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return ATB_OK;
}

atb_status atb_golden_open(const char *path, atb_golden_file **out, char *err, size_t err_len)
{
    silence_hdf5();
    *out = NULL;
    reader rd = {.path = path, .err = err, .err_len = err_len};

    FILE *probe = fopen(path, "rb");
    if (!probe)
        return fail(&rd, ATB_ERR_IO, NULL, "cannot open the file for reading");
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0)
        return fail(&rd, ATB_ERR_FORMAT, NULL,
                    "not a readable HDF5 file (wrong format, or truncated)");

    if (probe_in_child(path, &rd) != ATB_OK)
        return ATB_ERR_FORMAT;

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return fail(&rd, ATB_ERR_FORMAT, NULL, "HDF5 cannot open the file (truncated or damaged)");
    return open_validated(file, path, out, err, err_len);
}

atb_status atb_golden_open_image(const void *data, size_t size, const char *label,
                                 atb_golden_file **out, char *err, size_t err_len)
{
    silence_hdf5();
    *out = NULL;
    reader rd = {.path = label, .err = err, .err_len = err_len};

    /* The core (in-memory) driver with a file image: HDF5 copies the bytes,
       and with no backing store nothing is written to disk. */
    if (!data || size == 0)
        return fail(&rd, ATB_ERR_FORMAT, NULL, "empty file image");
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return fail(&rd, ATB_ERR_NOMEM, NULL, "cannot create an HDF5 file-access list");
    hid_t file = -1;
    if (H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_file_image(fapl, (void *)data, size) >= 0)
        file = H5Fopen(label, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (file < 0)
        return fail(&rd, ATB_ERR_FORMAT, NULL,
                    "not a readable HDF5 file image (wrong format, truncated or damaged)");
    return open_validated(file, label, out, err, err_len);
}

size_t atb_golden_count(const atb_golden_file *f)
{
    return f->n_cases;
}

const char *atb_golden_case_name(const atb_golden_file *f, size_t index)
{
    return index < f->n_cases ? f->cases[index].name : NULL;
}

const char *atb_golden_path(const atb_golden_file *f)
{
    return f->path;
}

void atb_golden_close(atb_golden_file *f)
{
    if (!f)
        return;
    H5Fclose(f->file);
    free(f->cases);
    free(f);
}

/* === Datasets === */

/* Checks dataset name: its type class and element size, its rank and each
   dimension against the attributes. */
static atb_status check_dataset(const reader *rd, hid_t group, const char *name,
                                H5T_class_t cls, size_t elem_size, int rank,
                                const int64_t *dims, int optional, int *present)
{
    *present = 0;
    if (H5Lexists(group, name, H5P_DEFAULT) <= 0) {
        if (optional)
            return ATB_OK;
        return fail(rd, ATB_ERR_FORMAT, name, "missing dataset");
    }
    /* Soft and external links are not followed: an external link would make
       HDF5 open another file named by this one. */
    H5L_info_t link;
    if (H5Lget_info(group, name, &link, H5P_DEFAULT) < 0 || link.type != H5L_TYPE_HARD)
        return fail(rd, ATB_ERR_FORMAT, name, "must be a dataset stored in this file, not a link");
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return fail(rd, ATB_ERR_FORMAT, name, "not a dataset");
    hid_t type = H5Dget_type(ds);
    hid_t space = H5Dget_space(ds);
    atb_status st = ATB_OK;
    const H5T_class_t got_class = H5Tget_class(type);
    const size_t got_size = H5Tget_size(type);
    const int got_rank = H5Sget_simple_extent_ndims(space);
    const char *want = "int32";
    if (cls == H5T_FLOAT)
        want = elem_size == 4 ? "float32" : "float64";

    if (got_class != cls || got_size != elem_size) {
        st = fail(rd, ATB_ERR_FORMAT, name, "type must be %s (found %s of %zu bytes)", want,
                  got_class == H5T_FLOAT     ? "float"
                  : got_class == H5T_INTEGER ? "integer"
                                             : "another class",
                  got_size);
    } else if (cls == H5T_INTEGER && H5Tget_sign(type) != H5T_SGN_2) {
        st = fail(rd, ATB_ERR_FORMAT, name, "type must be signed int32");
    } else if (got_rank != rank) {
        st = fail(rd, ATB_ERR_FORMAT, name, "rank must be %d (found %d)", rank, got_rank);
    } else {
        hsize_t got_dims[8];
        H5Sget_simple_extent_dims(space, got_dims, NULL);
        for (int d = 0; d < rank && st == ATB_OK; d++)
            if ((int64_t)got_dims[d] != dims[d] || got_dims[d] > (hsize_t)INT64_MAX)
                st = fail(rd, ATB_ERR_FORMAT, name,
                          "dimension %d is %llu but the attributes give %lld", d,
                          (unsigned long long)got_dims[d], (long long)dims[d]);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
    if (st == ATB_OK)
        *present = 1;
    return st;
}

static atb_status read_dataset(const reader *rd, hid_t group, const char *name, hid_t mem_type,
                               void *buf)
{
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return fail(rd, ATB_ERR_FORMAT, name, "cannot open dataset");
    /* A zero-element dataset has nothing to read. */
    hid_t space = H5Dget_space(ds);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    herr_t st = n > 0 ? H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : 0;
    H5Dclose(ds);
    if (st < 0)
        return fail(rd, ATB_ERR_FORMAT, name, "reading the data failed (truncated or damaged file)");
    return ATB_OK;
}

/* === Cases === */

static const char *const causal_names[] = {"none", "top_left", "bottom_right"};
static const char *const op_names[] = {"attention", "encoder_layer"};
static const char *const activation_names[] = {"relu", "gelu"};
static const char *const pe_names[] = {"none", "sinusoidal"};
static const char *const weight_names[12] = {
    "in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias",
    "linear1_weight", "linear1_bias", "linear2_weight",  "linear2_bias",
    "norm1_weight",   "norm1_bias",   "norm2_weight",    "norm2_bias",
};

static atb_status read_attention_attrs(const reader *rd, hid_t g, atb_attention_shape *s)
{
    atb_status st;
    int causal = 0;
    if ((st = read_int_attr(rd, g, "batch", &s->batch, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "heads", &s->heads, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "kv_heads", &s->kv_heads, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "q_len", &s->q_len, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "kv_len", &s->kv_len, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "head_dim", &s->head_dim, 0)) != ATB_OK
        || (st = read_float_attr(rd, g, "scale", &s->scale, 0)) != ATB_OK
        || (st = read_choice_attr(rd, g, "causal", causal_names, 3, &causal)) != ATB_OK)
        return st;
    s->causal = (atb_causal)causal;
    return ATB_OK;
}

static atb_status read_encoder_attrs(const reader *rd, hid_t g, atb_encoder_shape *s)
{
    atb_status st;
    int causal = 0, activation = 0, pe = 0;
    int64_t norm_first = 0;
    if ((st = read_int_attr(rd, g, "batch", &s->batch, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "seq_len", &s->seq_len, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "embed_dim", &s->embed_dim, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "heads", &s->heads, 0)) != ATB_OK
        || (st = read_int_attr(rd, g, "ffn_dim", &s->ffn_dim, 0)) != ATB_OK
        || (st = read_choice_attr(rd, g, "activation", activation_names, 2, &activation)) != ATB_OK
        || (st = read_int_attr(rd, g, "norm_first", &norm_first, 0)) != ATB_OK
        || (st = read_float_attr(rd, g, "layer_norm_eps", &s->layer_norm_eps, 0)) != ATB_OK
        || (st = read_choice_attr(rd, g, "causal", causal_names, 2, &causal)) != ATB_OK
        || (st = read_choice_attr(rd, g, "positional_encoding", pe_names, 2, &pe)) != ATB_OK)
        return st;
    if (norm_first != 0 && norm_first != 1)
        return fail(rd, ATB_ERR_FORMAT, "norm_first", "must be 0 or 1 (found %lld)",
                    (long long)norm_first);
    s->activation = (atb_activation)activation;
    s->norm_first = (int)norm_first;
    s->causal = (atb_causal)causal;
    s->positional_encoding = pe;
    return ATB_OK;
}

/* Field named by a validation message from atb_problem_validate: its first
   word, which is the attribute's name. */
static const char *first_word(const char *message, char *buf, size_t buf_len)
{
    size_t n = strcspn(message, " ");
    if (n >= buf_len)
        n = buf_len - 1;
    memcpy(buf, message, n);
    buf[n] = '\0';
    return buf;
}

/* Returns the index of the first element of expected that finite inputs
   cannot produce, or -1. Attention averages rows of V, so its exact output
   is finite. The layer's float64 values stay far inside the float64
   range, so a float32 expected may overflow to an infinity but never
   becomes NaN. Such an element is the file's fault, not the
   implementation's. */
static int64_t impossible_expected(const atb_golden_case *c, const atb_problem *p, size_t n_out)
{
    if (!atb_tensors_inputs_finite(&c->tensors))
        return -1;
    for (size_t i = 0; i < n_out; i++) {
        const double e = c->expected[i];
        if (isnan(e) || (p->op == ATB_OP_ATTENTION && isinf(e)))
            return (int64_t)i;
    }
    return -1;
}

atb_status atb_golden_load(atb_golden_file *f, size_t index, size_t memory_budget_bytes,
                           atb_golden_case *c, char *err, size_t err_len)
{
    memset(c, 0, sizeof(*c));
    reader rd = {.path = f->path, .case_name = atb_golden_case_name(f, index), .err = err,
                 .err_len = err_len};
    if (!rd.case_name)
        return fail(&rd, ATB_ERR_INVALID, NULL, "no case number %zu", index);
    snprintf(c->name, sizeof(c->name), "%s", rd.case_name);
    if (f->cases[index].name_too_long)
        return fail(&rd, ATB_ERR_FORMAT, NULL, "the case name is longer than %d characters",
                    ATB_CASE_NAME_MAX - 1);
    if (f->cases[index].header_unreadable)
        return fail(&rd, ATB_ERR_FORMAT, NULL,
                    "HDF5 cannot read the object's header (damaged file)");

    for (const char *ch = rd.case_name; *ch; ch++)
        if (!((*ch >= 'a' && *ch <= 'z') || (*ch >= 'A' && *ch <= 'Z') || (*ch >= '0' && *ch <= '9')
              || *ch == '_' || *ch == '.' || *ch == '-'))
            return fail(&rd, ATB_ERR_FORMAT, NULL,
                        "case names may hold only letters, digits, '_', '.' and '-'");

    hid_t g = H5Gopen2(f->file, rd.case_name, H5P_DEFAULT);
    if (g < 0)
        return fail(&rd, ATB_ERR_FORMAT, NULL, "cannot open the case's group");

    atb_status st;
    int op = 0;
    char dtype[32];
    atb_problem problem = {.n_threads = 1};
    if ((st = read_choice_attr(&rd, g, "op", op_names, 2, &op)) != ATB_OK)
        goto done;
    if ((st = read_string_attr(&rd, g, "dtype", dtype, sizeof(dtype), 0)) != ATB_OK)
        goto done;
    if (strcmp(dtype, "f32") != 0) {
        st = fail(&rd, ATB_ERR_FORMAT, "dtype", "value '%s' is not supported (only f32)", dtype);
        goto done;
    }
    if ((st = read_int_attr(&rd, g, "seed", &c->seed, 1)) != ATB_OK)
        goto done;
    if ((st = read_string_attr(&rd, g, "description", c->description, sizeof(c->description),
                               1)) != ATB_OK)
        goto done;

    problem.op = (atb_op)op;
    if (problem.op == ATB_OP_ATTENTION)
        st = read_attention_attrs(&rd, g, &problem.attention);
    else
        st = read_encoder_attrs(&rd, g, &problem.encoder);
    if (st != ATB_OK)
        goto done;

    /* Limits and size products, before any dataset is looked at. */
    char why[256], field[64];
    if ((st = atb_problem_validate(&problem, why, sizeof(why))) != ATB_OK) {
        st = fail(&rd, ATB_ERR_FORMAT, first_word(why, field, sizeof(field)), "%s", why);
        goto done;
    }

    /* Dataset types and shapes against the attributes. */
    int present = 0, has_valid = 0;
    int64_t batch;
    if (problem.op == ATB_OP_ATTENTION) {
        const atb_attention_shape *s = &problem.attention;
        const int64_t qd[4] = {s->batch, s->heads, s->q_len, s->head_dim};
        const int64_t kd[4] = {s->batch, s->kv_heads, s->kv_len, s->head_dim};
        if ((st = check_dataset(&rd, g, "q", H5T_FLOAT, 4, 4, qd, 0, &present)) != ATB_OK
            || (st = check_dataset(&rd, g, "k", H5T_FLOAT, 4, 4, kd, 0, &present)) != ATB_OK
            || (st = check_dataset(&rd, g, "v", H5T_FLOAT, 4, 4, kd, 0, &present)) != ATB_OK
            || (st = check_dataset(&rd, g, "expected", H5T_FLOAT, 8, 4, qd, 0, &present)) != ATB_OK)
            goto done;
        batch = s->batch;
    } else {
        const atb_encoder_shape *s = &problem.encoder;
        const int64_t E = s->embed_dim, F = s->ffn_dim;
        const int64_t xd[3] = {s->batch, s->seq_len, E};
        const int64_t wd[12][2] = {{3 * E, E}, {3 * E}, {E, E}, {E}, {F, E}, {F},
                                   {E, F},     {E},     {E},    {E}, {E},    {E}};
        if ((st = check_dataset(&rd, g, "x", H5T_FLOAT, 4, 3, xd, 0, &present)) != ATB_OK
            || (st = check_dataset(&rd, g, "expected", H5T_FLOAT, 8, 3, xd, 0, &present)) != ATB_OK)
            goto done;
        for (int i = 0; i < 12; i++)
            if ((st = check_dataset(&rd, g, weight_names[i], H5T_FLOAT, 4, wd[i][1] ? 2 : 1,
                                    wd[i], 0, &present)) != ATB_OK)
                goto done;
        batch = s->batch;
    }
    const int64_t vd[1] = {batch};
    if ((st = check_dataset(&rd, g, "kv_valid_len", H5T_INTEGER, 4, 1, vd, 1, &has_valid)) != ATB_OK)
        goto done;
    if (problem.op == ATB_OP_ATTENTION)
        problem.attention.has_kv_valid_len = has_valid;
    else
        problem.encoder.has_kv_valid_len = has_valid;

    /* Memory: inputs, expected (f64) and room for one output. */
    const size_t n_out = atb_problem_output_count(&problem);
    const size_t needed = atb_problem_bytes(&problem) + n_out * sizeof(double);
    if (needed > memory_budget_bytes) {
        st = fail(&rd, ATB_ERR_NOMEM, NULL,
                  "needs %.1f MiB, more than the memory budget of %.1f MiB", needed / 1048576.0,
                  memory_budget_bytes / 1048576.0);
        goto done;
    }

    /* Everything is validated: allocate and read. */
    if ((st = atb_tensors_alloc(&c->tensors, &problem, why, sizeof(why))) != ATB_OK) {
        st = fail(&rd, st, NULL, "%s", why);
        goto done;
    }
    c->expected = malloc((n_out + 1) * sizeof(double));
    if (!c->expected) {
        st = fail(&rd, ATB_ERR_NOMEM, "expected", "cannot allocate %zu bytes",
                  n_out * sizeof(double));
        goto done;
    }
    atb_tensors *t = &c->tensors;
    if (problem.op == ATB_OP_ATTENTION) {
        if ((st = read_dataset(&rd, g, "q", H5T_NATIVE_FLOAT, t->q)) != ATB_OK
            || (st = read_dataset(&rd, g, "k", H5T_NATIVE_FLOAT, t->k)) != ATB_OK
            || (st = read_dataset(&rd, g, "v", H5T_NATIVE_FLOAT, t->v)) != ATB_OK)
            goto done;
    } else {
        if ((st = read_dataset(&rd, g, "x", H5T_NATIVE_FLOAT, t->x)) != ATB_OK)
            goto done;
        for (int i = 0; i < 12; i++)
            if ((st = read_dataset(&rd, g, weight_names[i], H5T_NATIVE_FLOAT, t->weights[i]))
                != ATB_OK)
                goto done;
    }
    if ((st = read_dataset(&rd, g, "expected", H5T_NATIVE_DOUBLE, c->expected)) != ATB_OK)
        goto done;
    if (has_valid) {
        if ((st = read_dataset(&rd, g, "kv_valid_len", H5T_NATIVE_INT32, t->kv_valid_len))
            != ATB_OK)
            goto done;
        const int64_t kv_len =
            problem.op == ATB_OP_ATTENTION ? problem.attention.kv_len : problem.encoder.seq_len;
        for (int64_t b = 0; b < batch; b++)
            if (t->kv_valid_len[b] < 0 || t->kv_valid_len[b] > kv_len) {
                st = fail(&rd, ATB_ERR_FORMAT, "kv_valid_len",
                          "element %lld is %d, outside [0, %lld]", (long long)b,
                          (int)t->kv_valid_len[b], (long long)kv_len);
                goto done;
            }
    }
    const int64_t bad = impossible_expected(c, &problem, n_out);
    if (bad >= 0) {
        st = fail(&rd, ATB_ERR_FORMAT, "expected",
                  "element %lld is %g although every input is finite, so the file is wrong",
                  (long long)bad, c->expected[bad]);
        goto done;
    }

done:
    H5Gclose(g);
    if (st != ATB_OK)
        atb_golden_case_free(c);
    return st;
}

void atb_golden_case_free(atb_golden_case *c)
{
    atb_tensors_free(&c->tensors);
    free(c->expected);
    c->expected = NULL;
}
