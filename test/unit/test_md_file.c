/* test_md_file.c: the atomic write and the bounded read both modules share (common/md_file.c). */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_info.h>

#include "md_file.h"
#include "ct_helpers.h"

static apr_pool_t *pool;

static void setup(void) { apr_pool_create(&pool, NULL); }
static void teardown(void) { apr_pool_destroy(pool); }

static const char *tmp_dir(void)
{
    return th_tmpdir(pool);
}

/* The names in dir, space-separated and sorted ("." and ".." left out). */
static const char *listing(const char *dir)
{
    apr_array_header_t *names = apr_array_make(pool, 4, sizeof(const char *));
    apr_finfo_t fi;
    apr_dir_t *d;
    const char *s = "";
    int i, j;

    ck_assert_int_eq(apr_dir_open(&d, dir, pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, ".."))
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(pool, fi.name);
    }
    apr_dir_close(d);
    for (i = 0; i < names->nelts; ++i) {
        for (j = i + 1; j < names->nelts; ++j) {
            const char **a = &APR_ARRAY_IDX(names, i, const char *);
            const char **b = &APR_ARRAY_IDX(names, j, const char *);
            if (strcmp(*a, *b) > 0) { const char *t = *a; *a = *b; *b = t; }
        }
        s = apr_pstrcat(pool, s, i ? " " : "", APR_ARRAY_IDX(names, i, const char *), NULL);
    }
    return s;
}

START_TEST(atomic_write_and_read)
{
    const char *dir = tmp_dir(), *path = apr_pstrcat(pool, dir, "/f.txt", NULL);
    char *data;
    apr_size_t len;
    apr_finfo_t fi;
    apr_dir_t *d;
    int entries = 0;

    ck_assert_int_eq(md_file_write_atomic(path, "hello", 5, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(md_file_write_atomic(path, "world!", 6, 0x0600, pool), APR_SUCCESS);
    ck_assert_int_eq(md_file_read(&data, &len, path, 100, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "world!");
    ck_assert_int_eq(len, 6);
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection, 0x0600);
    ck_assert_int_eq(md_file_read(&data, &len, path, 3, pool), APR_EINVAL);   /* too large */
    /* nothing but the file itself is left in the directory */
    ck_assert_int_eq(apr_dir_open(&d, dir, pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS) {
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) ++entries;
    }
    apr_dir_close(d);
    ck_assert_int_eq(entries, 1);
    /* a write into a missing directory fails and leaves nothing */
    ck_assert_int_ne(md_file_write_atomic(apr_pstrcat(pool, dir, "/no/f", NULL), "x", 1,
                                          0x0600, pool), APR_SUCCESS);
}
END_TEST

START_TEST(modes_whatever_the_umask)
{
    const char *dir = tmp_dir();
    const char *pub = apr_pstrcat(pool, dir, "/cert.pem", NULL);
    const char *key = apr_pstrcat(pool, dir, "/privkey.pem", NULL);
    struct stat st;

    umask(077);
    ck_assert_int_eq(md_file_write_atomic(pub, "c", 1, 0x0644, pool), APR_SUCCESS);
    umask(0);
    ck_assert_int_eq(md_file_write_atomic(key, "k", 1, 0x0600, pool), APR_SUCCESS);
    umask(022);
    ck_assert_int_eq(stat(pub, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0644);
    ck_assert_int_eq(stat(key, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

/* A rename that fails (the target is a directory) is reported, and the temp file is gone. */
START_TEST(failed_rename_is_reported_and_leaves_no_temp)
{
    const char *dir = tmp_dir(), *target = apr_pstrcat(pool, dir, "/target", NULL);

    ck_assert_int_eq(apr_dir_make(target, APR_FPROT_OS_DEFAULT, pool), APR_SUCCESS);
    ck_assert_int_eq(md_file_write_atomic(apr_pstrcat(pool, target, "/inside", NULL), "x", 1,
                                          0x0644, pool), APR_SUCCESS);
    ck_assert_int_ne(md_file_write_atomic(target, "data", 4, 0x0644, pool), APR_SUCCESS);
    ck_assert_str_eq(listing(dir), "target");
    ck_assert_str_eq(listing(target), "inside");
}
END_TEST

/* A write that fails half-way (the process may not write more than 4 KiB into a file) is
 * reported, the old content stays, and no temp file is left. */
START_TEST(failed_write_keeps_old_content_and_leaves_no_temp)
{
    const char *dir = tmp_dir(), *path = apr_pstrcat(pool, dir, "/job.json", NULL);
    struct rlimit rl, old;
    apr_size_t big = 64 * 1024, len;
    char *data = apr_pcalloc(pool, big);

    ck_assert_int_eq(md_file_write_atomic(path, "old", 3, 0x0644, pool), APR_SUCCESS);
    signal(SIGXFSZ, SIG_IGN);            /* runs in check's forked child: EFBIG instead */
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    rl = old;
    rl.rlim_cur = 4096;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    ck_assert_int_ne(md_file_write_atomic(path, data, big, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(md_file_read(&data, &len, path, 100, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "old");
    ck_assert_str_eq(listing(dir), "job.json");
}
END_TEST

START_TEST(read_missing_and_empty)
{
    const char *dir = tmp_dir(), *path = apr_pstrcat(pool, dir, "/empty", NULL);
    char *data = (char *)"x";
    apr_size_t len = 1;

    ck_assert(APR_STATUS_IS_ENOENT(md_file_read(&data, &len, path, 10, pool)));
    ck_assert_ptr_null(data);
    ck_assert_int_eq(md_file_write_atomic(path, "", 0, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_file_read(&data, &len, path, 10, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "");
    ck_assert_uint_eq(len, 0);
}
END_TEST

int main(void)
{
    const TTest *tests[] = { atomic_write_and_read, modes_whatever_the_umask,
                             failed_rename_is_reported_and_leaves_no_temp,
                             failed_write_keeps_old_content_and_leaves_no_temp,
                             read_missing_and_empty, NULL };
    return th_run("md_file", setup, teardown, tests);
}
