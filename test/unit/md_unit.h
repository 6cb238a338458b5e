/* md_unit.h: shared set-up of the mod_md core unit tests (an APR pool per test). */
#ifndef MD_UNIT_H
#define MD_UNIT_H

#include <check.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "md.h"

static apr_pool_t *pool;

static inline void pool_setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static inline void pool_teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

/* A fresh temporary directory for one test. */
static inline const char *tmp_dir(void)
{
    char *tmpl = apr_pstrdup(pool, "/tmp/md-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return tmpl;
}

/* An MD with the space-separated names, the global defaults merged in, watched by a host. */
static inline md_t *unit_md(const char *names)
{
    apr_array_header_t *n = apr_array_make(pool, 3, sizeof(const char *));
    char *copy = apr_pstrdup(pool, names), *last, *name;
    md_t *md;

    for (name = apr_strtok(copy, " ", &last); name; name = apr_strtok(NULL, " ", &last))
        APR_ARRAY_PUSH(n, const char *) = name;
    md = md_create(pool, n);
    md_merge(md, md_create_defaults(pool));
    md->watched = 1;
    return md;
}

#define MD_UNIT_MAIN(suite_fn)                                  \
int main(void)                                                  \
{                                                               \
    SRunner *sr = srunner_create(suite_fn());                   \
    int failed;                                                 \
    srunner_run_all(sr, CK_NORMAL);                             \
    failed = srunner_ntests_failed(sr);                         \
    srunner_free(sr);                                           \
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;                \
}

#endif
