/* Unit tests of md_match: vhosts to MDs, auto/manual members, conflicts. */
#include <string.h>
#include "md_unit.h"
#include "md_match.h"

static md_t *md_of(int transitive, const char *a, const char *b)
{
    apr_array_header_t *n = apr_array_make(pool, 2, sizeof(const char *));
    md_t *md;
    APR_ARRAY_PUSH(n, const char *) = a;
    if (b) APR_ARRAY_PUSH(n, const char *) = b;
    md = md_create(pool, n);
    md->transitive = transitive;
    return md;
}

static md_vhost_t *vh_of(const char *name, const char *alias)
{
    md_vhost_t *vh = apr_pcalloc(pool, sizeof(*vh));
    vh->id = name;
    vh->names = apr_array_make(pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(vh->names, const char *) = name;
    if (alias) APR_ARRAY_PUSH(vh->names, const char *) = alias;
    return vh;
}

static apr_array_header_t *list(void *a, void *b)
{
    apr_array_header_t *l = apr_array_make(pool, 2, sizeof(void *));
    APR_ARRAY_PUSH(l, void *) = a;
    if (b) APR_ARRAY_PUSH(l, void *) = b;
    return l;
}

START_TEST(duplicate_names_rejected)
{
    apr_hash_t *h;
    const char *err = md_match_check_mds(list(md_of(1, "a.org", "x.org"), md_of(1, "b.org", "X.org")), &h, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "x.org"));
}
END_TEST

START_TEST(auto_adds_aliases)
{
    md_t *a = md_of(1, "a.org", NULL);
    md_vhost_t *v = vh_of("a.org", "www.a.org");
    apr_array_header_t *mds = list(a, NULL), *w = apr_array_make(pool, 1, sizeof(char *));
    apr_hash_t *h;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    ck_assert_ptr_null(md_match_vhosts(mds, h, list(v, NULL), 0, w, pool));
    ck_assert_ptr_eq(v->md, a);
    ck_assert_int_eq(a->domains->nelts, 2);
    ck_assert(a->watched);
    ck_assert_int_eq(w->nelts, 0);
}
END_TEST

START_TEST(manual_warns)
{
    md_t *a = md_of(0, "a.org", NULL);
    md_vhost_t *v = vh_of("a.org", "www.a.org");
    apr_array_header_t *mds = list(a, NULL), *w = apr_array_make(pool, 1, sizeof(char *));
    apr_hash_t *h;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    ck_assert_ptr_null(md_match_vhosts(mds, h, list(v, NULL), 0, w, pool));
    ck_assert_int_eq(a->domains->nelts, 1);
    ck_assert_int_eq(w->nelts, 1);
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(w, 0, const char *), "www.a.org"));
}
END_TEST

/* As with the reference: a host with names of two MDs belongs to the first one that
 * matches (ServerName first); the other name is a warning, not a configuration error. */
START_TEST(vhost_in_two_mds)
{
    md_t *a = md_of(1, "a.org", NULL), *b = md_of(1, "b.org", NULL);
    md_vhost_t *v = vh_of("a.org", "b.org");
    apr_array_header_t *mds = list(a, b), *w = apr_array_make(pool, 1, sizeof(char *));
    apr_hash_t *h;
    const char *warn;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    ck_assert_ptr_null(md_match_vhosts(mds, h, list(v, NULL), 0, w, pool));
    ck_assert_ptr_eq(v->md, a);
    ck_assert_int_eq(w->nelts, 1);
    warn = APR_ARRAY_IDX(w, 0, const char *);
    ck_assert_ptr_nonnull(strstr(warn, "a.org"));
    ck_assert_ptr_nonnull(strstr(warn, "b.org"));
    ck_assert_int_eq(b->domains->nelts, 1);
}
END_TEST

/* MDMatchNames servernames: an alias that is part of another MD is a warning. */
START_TEST(servernames_alias_of_other_md_warns)
{
    md_t *a = md_of(1, "a.org", NULL), *b = md_of(1, "b.org", NULL);
    md_vhost_t *v = vh_of("a.org", "b.org");
    apr_array_header_t *mds = list(a, b), *w = apr_array_make(pool, 1, sizeof(char *));
    apr_hash_t *h;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    ck_assert_ptr_null(md_match_vhosts(mds, h, list(v, NULL), 1, w, pool));
    ck_assert_ptr_eq(v->md, a);
    ck_assert_int_eq(w->nelts, 1);
    ck_assert_ptr_nonnull(strstr(APR_ARRAY_IDX(w, 0, const char *), "b.org"));
}
END_TEST

/* Names are not judged at configuration time (the CA decides); a name in two MDs is an
 * error in the reference's words. */
START_TEST(names_unjudged_overlap_refused)
{
    md_t *a = md_of(1, "bad_na!me.org", "-x.org"), *b = md_of(1, "b.org", "-x.org");
    apr_array_header_t *mds = list(a, NULL);
    apr_hash_t *h;
    const char *err;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    err = md_match_check_mds(list(a, b), &h, pool);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "two Managed Domains have an overlap in domain '-x.org'"));
}
END_TEST

START_TEST(servernames_only_and_wildcards)
{
    md_t *a = md_of(1, "a.org", NULL), *w = md_of(1, "*.w.org", NULL);
    md_vhost_t *v1 = vh_of("x.org", "a.org"), *v2 = vh_of("sub.w.org", NULL);
    apr_array_header_t *mds = list(a, w);
    apr_hash_t *h;
    ck_assert_ptr_null(md_match_check_mds(mds, &h, pool));
    ck_assert_ptr_null(md_match_vhosts(mds, h, list(v1, v2), 1, NULL, pool));
    ck_assert_ptr_null(v1->md);             /* alias ignored with servernames */
    ck_assert_ptr_eq(v2->md, w);            /* wildcard match */
    ck_assert_int_eq(w->domains->nelts, 1); /* sub.w.org is covered, not added */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_match");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, duplicate_names_rejected);
    tcase_add_test(tc, auto_adds_aliases);
    tcase_add_test(tc, manual_warns);
    tcase_add_test(tc, vhost_in_two_mds);
    tcase_add_test(tc, servernames_alias_of_other_md_warns);
    tcase_add_test(tc, names_unjudged_overlap_refused);
    tcase_add_test(tc, servernames_only_and_wildcards);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
