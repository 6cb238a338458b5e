/* fuzz.h: what the libFuzzer harnesses of fuzz/ share (docs/fuzzing.md).
 *
 * Every harness links the real core library (libmdcore or libctcore) and checks properties
 * beyond "does not crash": round trips, tamper detection, no trailing garbage. A violated
 * property prints what and where and calls abort(), so libFuzzer keeps the input.
 * Each run gets a fresh pool (cleared afterwards, so OpenSSL objects tied to it are freed
 * and the leak checker sees real leaks only).
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <sanitizer/lsan_interface.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

/* libFuzzer's entry point, defined by each harness (declared for -Wmissing-prototypes) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

/* The process-wide pool (APR initialised once). */
static inline apr_pool_t *fuzz_root(void)
{
    static apr_pool_t *root;
    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    return root;
}

/* Objects made once at start (keys, certificates, configurations) live as long as the
 * process; APR keeps pool memory where the leak checker does not look, so what only a pool
 * references would be reported. Wrap the one-time set-up in these. */
static inline void fuzz_init_begin(void)
{
    __lsan_disable();
}

static inline void fuzz_init_end(void)
{
    __lsan_enable();
}

/* A pool for one run; fuzz_run_end() clears it. */
static inline apr_pool_t *fuzz_run_pool(void)
{
    static apr_pool_t *run;
    if (!run) apr_pool_create(&run, fuzz_root());
    return run;
}

static inline void fuzz_run_end(apr_pool_t *p)
{
    apr_pool_clear(p);
}

/* A NUL-terminated copy of n bytes. */
static inline char *fuzz_str(apr_pool_t *p, const uint8_t *d, size_t n)
{
    return apr_pstrmemdup(p, (const char *)d, n);
}

/* Split data at every occurrence of sep into at most max parts (the last one takes the
 * rest). Returns the number of parts; parts[i]/lens[i] point into data. */
static inline int fuzz_split(const uint8_t *d, size_t n, const char *sep, int max,
                             const uint8_t **parts, size_t *lens)
{
    size_t sl = strlen(sep), start = 0, i = 0;
    int k = 0;

    while (k < max - 1 && i + sl <= n) {
        if (!memcmp(d + i, sep, sl)) {
            parts[k] = d + start;
            lens[k++] = i - start;
            i += sl;
            start = i;
        }
        else ++i;
    }
    parts[k] = d + start;
    lens[k++] = n - start;
    return k;
}

static char fuzz_dir[64];

/* rm -r path (no symlinks followed: remove() takes a link itself) */
static inline void fuzz_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[1024];

    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (e->d_type == DT_DIR) fuzz_rm_tree(sub);
        else remove(sub);
    }
    if (d) closedir(d);
    remove(path);
}

static inline void fuzz_rm_tmpdir(void)
{
    fuzz_rm_tree(fuzz_dir);
}

/* A private temporary directory of this process, created on first use and removed when
 * the process ends normally (after a crash it stays, for a look at what was written). */
static inline const char *fuzz_tmpdir(void)
{
    char *dir = fuzz_dir;
    if (!dir[0]) {
        /* in memory when possible: some harnesses write files on every run */
        snprintf(dir, sizeof(fuzz_dir), "%s/mdfuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) abort();
        atexit(fuzz_rm_tmpdir);
    }
    return dir;
}

/* The committed seeds of a harness are made by the harness itself, from the same fixtures
 * as the unit tests: with FUZZ_SEEDS_OUT=DIR it writes its examples (fuzz_seed) and exits.
 * Returns 1 when seeds are wanted. */
static inline int fuzz_seeds_wanted(void)
{
    return getenv("FUZZ_SEEDS_OUT") != NULL;
}

/* Write DIR/name = prefix byte (when >= 0) followed by n bytes of d. */
static inline void fuzz_seed(const char *name, int prefix, const void *d, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", getenv("FUZZ_SEEDS_OUT"), name);
    if (!(f = fopen(path, "wb"))) {
        perror(path);
        exit(1);
    }
    if (prefix >= 0) fputc(prefix, f);
    if (n && fwrite(d, 1, n, f) != n) exit(1);
    fclose(f);
}

#endif
