/* Unit tests of md_core: key specs, merging of settings, md.json round trips. */
#include <string.h>
#include "md_unit.h"
#include "md.h"

static const char *parse_specs(const char *line, apr_array_header_t **specs)
{
    int argc;
    char *argv[8], *tok, *state = NULL, *copy = apr_pstrdup(pool, line);
    for (argc = 0, tok = apr_strtok(copy, " ", &state); tok && argc < 8; tok = apr_strtok(NULL, " ", &state))
        argv[argc++] = tok;
    return md_pkey_specs_parse(pool, argc, argv, specs);
}

/* As the reference (compat item 6): one RSA key, one key per curve name (ignoring case),
 * 'Default' alone; the messages hold its words. */
START_TEST(pkey_specs_like_the_reference)
{
    apr_array_header_t *specs;
    const char *err;

    ck_assert_str_eq(parse_specs("RSA 2048 RSA 3072", &specs), "two keys of type 'RSA' are not possible.");
    ck_assert_str_eq(parse_specs("rsa RSA", &specs), "two keys of type 'RSA' are not possible.");
    ck_assert_str_eq(parse_specs("RSA 3072 rsa4096", &specs), "two keys of type 'RSA' are not possible.");
    ck_assert_str_eq(parse_specs("P-256 p-256", &specs), "two keys of type 'p-256' are not possible.");
    ck_assert_str_eq(parse_specs("secp384r1 SECP384R1", &specs), "two keys of type 'SECP384R1' are not possible.");
    ck_assert_ptr_null(parse_specs("secp256r1 P-256", &specs));      /* other names: as the reference */
    ck_assert_ptr_null(parse_specs("P-256 RSA P-384", &specs));
    ck_assert_int_eq(specs->nelts, 3);
    ck_assert_ptr_null(parse_specs("Default", &specs));
    ck_assert_ptr_nonnull(strstr(parse_specs("Default RSA", &specs), "'Default' allows no other parameter"));
    ck_assert_ptr_nonnull(strstr(parse_specs("RSA Default", &specs), "'Default' allows no other parameter"));
    ck_assert_ptr_nonnull(strstr(parse_specs("Default Default", &specs), "'Default' allows no other parameter"));
    err = parse_specs("RSA 1024", &specs);
    ck_assert_ptr_nonnull(strstr(err, "must be 2048 or higher in order to be considered safe."));
    ck_assert_ptr_nonnull(strstr(parse_specs("DSA", &specs), "ec curve unknown: DSA"));
    ck_assert_ptr_nonnull(strstr(parse_specs("RSA 2048 4096", &specs), "ec curve unknown: 4096"));
    ck_assert_ptr_nonnull(parse_specs("X25519", &specs));           /* cannot sign */
    ck_assert_ptr_nonnull(parse_specs("RSA 99999", &specs));
}
END_TEST

START_TEST(pkey_specs)
{
    apr_array_header_t *specs;
    md_pkey_spec_t *s;

    ck_assert_ptr_null(parse_specs("RSA", &specs));
    s = APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *);
    ck_assert_int_eq(s->type, MD_PKEY_RSA);
    ck_assert_int_eq(s->bits, 2048);
    ck_assert_ptr_null(parse_specs("RSA 4096 secp256r1", &specs));
    ck_assert_int_eq(specs->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->bits, 4096);
    ck_assert_str_eq(APR_ARRAY_IDX(specs, 1, md_pkey_spec_t *)->curve, "secp256r1");
    ck_assert_ptr_null(parse_specs("secp384r1 rsa3072", &specs));
    ck_assert_int_eq(APR_ARRAY_IDX(specs, 1, md_pkey_spec_t *)->bits, 3072);
    /* curves are kept as written (md.json and file names use that spelling) */
    ck_assert_ptr_null(parse_specs("P-256", &specs));
    ck_assert_str_eq(APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->curve, "P-256");
    ck_assert_str_eq(md_pkey_spec_suffix(pool, APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)), ".p-256");
    ck_assert_ptr_null(parse_specs("prime256v1", &specs));
    ck_assert_str_eq(APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->curve, "prime256v1");
    ck_assert_str_eq(md_pkey_curve_canonical(pool, "P-384"), "secp384r1");
    ck_assert_str_eq(md_pkey_curve_canonical(pool, "prime256v1"), "secp256r1");
    ck_assert_ptr_nonnull(strstr(parse_specs("RSA 1024", &specs), "1024"));
    ck_assert_ptr_nonnull(strstr(parse_specs("rsa2047", &specs), "2047"));
    ck_assert_ptr_nonnull(parse_specs("RSAx", &specs));
    ck_assert_ptr_nonnull(strstr(parse_specs("secp999r1", &specs), "secp999r1"));
    ck_assert_ptr_nonnull(parse_specs("DSA", &specs));
}
END_TEST

/* found by fuzz/fuzz_md_util: "K-571" was kept as "k-571", which md.json could not read back.
 * Curves are kept as written (item 17 of the compat issue) and must parse again as written. */
START_TEST(pkey_spec_nist_names_are_canonical)
{
    apr_array_header_t *specs;
    char *name;

    ck_assert_ptr_null(parse_specs("K-571", &specs));
    name = (char *)APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->curve;
    ck_assert_str_eq(name, "K-571");
    ck_assert_ptr_null(md_pkey_specs_parse(pool, 1, &name, &specs));
    ck_assert_str_eq(md_pkey_curve_canonical(pool, name), "sect571k1");
    ck_assert_ptr_null(parse_specs("P-521", &specs));
    ck_assert_str_eq(md_pkey_curve_canonical(pool, APR_ARRAY_IDX(specs, 0, md_pkey_spec_t *)->curve),
                     "secp521r1");
}
END_TEST

START_TEST(spec_file_names)
{
    md_pkey_spec_t rsa = { MD_PKEY_RSA, 3072, NULL }, ec = { MD_PKEY_EC, 0, "secp384r1" };
    ck_assert_str_eq(md_pkey_spec_suffix(pool, &rsa), "");
    ck_assert_str_eq(md_pkey_spec_suffix(pool, &ec), ".secp384r1");
    ck_assert_str_eq(md_pkey_spec_name(pool, &rsa), "rsa");
    ck_assert_str_eq(md_pkey_spec_name(pool, &ec), "secp384r1");
}
END_TEST

START_TEST(merge_section_over_global)
{
    md_t *def = md_create_defaults(pool), *global = md_create_empty(pool), *md = md_create_empty(pool);
    md_timeslice_t w = { 0, apr_time_from_sec(86400) };

    global->require_https = MD_REQUIRE_PERMANENT;
    global->renew_window = &w;
    md->require_https = MD_REQUIRE_OFF;        /* set in the section: wins */
    md_merge(md, global);
    md_merge(md, def);
    ck_assert_int_eq(md->require_https, MD_REQUIRE_OFF);
    ck_assert_ptr_eq(md->renew_window, &w);
    ck_assert_int_eq(md->warn_window->len, 10);
    ck_assert_int_eq(md->renew_mode, MD_RENEW_AUTO);
    ck_assert_int_eq(md->transitive, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(md->ca_urls, 0, const char *),
                     "https://acme-v02.api.letsencrypt.org/directory");
}
END_TEST

START_TEST(json_roundtrip)
{
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *)), *specs;
    md_t *md, *back;
    json_t *j;
    const char *err = NULL;
    char *argv[] = { "secp256r1", "rsa3072" };

    APR_ARRAY_PUSH(names, const char *) = "Example.ORG";
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    md = md_create(pool, names);
    md_merge(md, md_create_defaults(pool));
    ck_assert_str_eq(md->name, "example.org");
    ck_assert_ptr_null(md_pkey_specs_parse(pool, 2, argv, &specs));
    md->pkey_specs = specs;
    md->eab_kid = "kid";
    md->eab_hmac = "aGVsbG8";
    md->require_https = MD_REQUIRE_TEMPORARY;
    j = md_to_json(md, pool);
    ck_assert_str_eq(json_string_value(json_object_get(j, "renew-window")), "33%");
    ck_assert_str_eq(json_string_value(json_object_get(j, "require-https")), "temporary");
    ck_assert(json_is_array(json_object_get(j, "privkey")));
    back = md_from_json(j, pool, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert(md_equal_json(md, back, pool));
    ck_assert_int_eq(back->pkey_specs->nelts, 2);
    json_decref(j);
}
END_TEST

START_TEST(json_bad_input)
{
    const char *docs[] = {
        "[]", "{}", "{\"name\":\"a\"}", "{\"name\":\"a\",\"domains\":\"a\"}",
        "{\"name\":\"a\",\"domains\":[1]}", "{\"name\":7,\"domains\":[\"a\"]}",
        "{\"name\":\"a\",\"domains\":[\"a\"],\"renew-window\":\"200%\"}",
        "{\"name\":\"a\",\"domains\":[\"a\"],\"privkey\":{\"type\":\"EC\"}}",
    };
    size_t i;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); ++i) {
        json_t *j = json_loads(docs[i], 0, NULL);
        const char *err = NULL;
        ck_assert_ptr_nonnull(j);
        ck_assert_msg(md_from_json(j, pool, &err) == NULL, "accepted %s", docs[i]);
        ck_assert_ptr_nonnull(err);
        json_decref(j);
    }
}
END_TEST

START_TEST(wildcard_covers)
{
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    md_t *md;
    APR_ARRAY_PUSH(names, const char *) = "*.example.org";
    md = md_create(pool, names);
    ck_assert(md_covers(md, "a.example.org"));
    ck_assert(!md_covers(md, "a.b.example.org"));
    ck_assert(!md_covers(md, "example.org"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_core");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_add_test(tc, pkey_specs);
    tcase_add_test(tc, pkey_spec_nist_names_are_canonical);
    tcase_add_test(tc, spec_file_names);
    tcase_add_test(tc, merge_section_over_global);
    tcase_add_test(tc, json_roundtrip);
    tcase_add_test(tc, json_bad_input);
    tcase_add_test(tc, wildcard_covers);
    tcase_add_test(tc, pkey_specs_like_the_reference);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
