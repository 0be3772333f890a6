/*
 * libFuzzer target for the golden-file reader. Each input is taken as a
 * whole HDF5 file image and opened in memory with atb_golden_open_image;
 * every case it lists is then loaded under a small memory budget, as
 * `attnbench check` would. The reader must return an error for whatever it
 * cannot use: a crash, an out-of-bounds access, undefined behaviour or a
 * leak found by the sanitizers is a finding.
 */
#include "harness/golden_read.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Small enough that no input makes the reader allocate much; the committed
   seeds need a few KiB. */
#define FUZZ_MEMORY_BUDGET_BYTES ((size_t)1 << 20)

/* Every HDF5 identifier the reader opened (files, groups, datasets,
   attributes, types, spaces) must be closed again: a leaked identifier
   keeps its file open and its memory allocated for the whole run. HDF5's
   free lists are released too, so that memory growth means a real leak. */
static void check_nothing_open(const char *after)
{
    const ssize_t n_open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (n_open != 0) {
        fprintf(stderr, "fuzz_golden_image: %zd HDF5 objects still open after %s\n", n_open,
                after);
        abort();
    }
    H5garbage_collect();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    atb_golden_file *file = NULL;
    if (atb_golden_open_image(data, size, "fuzz-input.h5", &file, err, sizeof(err)) != ATB_OK) {
        check_nothing_open("a failed open");
        return 0;
    }

    const size_t n_cases = atb_golden_count(file);
    for (size_t i = 0; i < n_cases; i++) {
        atb_golden_case c;
        if (atb_golden_load(file, i, FUZZ_MEMORY_BUDGET_BYTES, &c, err, sizeof(err)) == ATB_OK)
            atb_golden_case_free(&c);
    }
    atb_golden_close(file);
    check_nothing_open("atb_golden_close");
    return 0;
}
