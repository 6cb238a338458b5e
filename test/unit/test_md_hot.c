/* Unit tests of md_hot: the slot layout, publishing and reading a set (RSA and ECDSA),
 * what does not fit, keys that do not belong to their certificate, garbage in a slot, and
 * a reader in one process racing a writer in another over real shared memory: every
 * snapshot is one whole set, never a mix. */
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "md_unit.h"
#include "md_crypt.h"
#include "md_hot.h"

static const md_pkey_spec_t ec_spec = { MD_PKEY_EC, 0, "secp256r1" };
static const md_pkey_spec_t rsa_spec = { MD_PKEY_RSA, 2048, NULL };

/* A self-signed certificate and its key for name, as a slot entry. */
static md_hot_cert_t make_cert(const md_pkey_spec_t *spec, const char *name, EVP_PKEY **pkey_out)
{
    md_hot_cert_t c;
    apr_array_header_t *domains = apr_array_make(pool, 1, sizeof(const char *)), *chain;
    EVP_PKEY *pkey;
    X509 *x;

    APR_ARRAY_PUSH(domains, const char *) = name;
    ck_assert_int_eq(md_pkey_gen(&pkey, spec, pool), APR_SUCCESS);
    ck_assert_int_eq(md_cert_self_sign(&x, name, domains, pkey, apr_time_from_sec(86400), pool),
                     APR_SUCCESS);
    chain = apr_array_make(pool, 2, sizeof(X509 *));
    APR_ARRAY_PUSH(chain, X509 *) = x;
    APR_ARRAY_PUSH(chain, X509 *) = x;       /* a second one stands for the issuer */
    c.spec = md_pkey_spec_name(pool, spec);
    c.chain_pem = md_chain_to_pem(chain, pool);
    c.chain_len = strlen(c.chain_pem);
    ck_assert_int_eq(md_pkey_to_pem(&c.key_pem, pkey, NULL, 0, pool), APR_SUCCESS);
    c.key_len = strlen(c.key_pem);
    if (pkey_out) *pkey_out = pkey;
    return c;
}

static md_hot_area_t *new_area(int n, apr_size_t size)
{
    void *mem = apr_palloc(pool, md_hot_area_size(n, size));
    return md_hot_area_init(mem, n, size);
}

START_TEST(layout)
{
    md_hot_area_t *a = new_area(3, 4096);
    md_hot_slot_t *s0 = md_hot_area_slot(a, 0), *s2 = md_hot_area_slot(a, 2);
    ck_assert_ptr_nonnull(s0);
    ck_assert_ptr_nonnull(s2);
    ck_assert_ptr_null(md_hot_area_slot(a, 3));
    ck_assert_ptr_null(md_hot_area_slot(a, -1));
    ck_assert_uint_ge(md_hot_slot_capacity(s0), 4096);
    ck_assert_uint_ge((apr_size_t)((char *)s2 - (char *)s0), 2 * 4096);
    ck_assert_uint_eq(md_hot_generation(s0), 0);
}
END_TEST

START_TEST(publish_read_parse_two_key_types)
{
    md_hot_area_t *a = new_area(2, MD_HOT_SLOT_SIZE_DEFAULT);
    md_hot_slot_t *slot = md_hot_area_slot(a, 1), *other = md_hot_area_slot(a, 0);
    md_hot_cert_t set[2], *got;
    md_hot_set_t *parsed;
    const char *err, *msg;
    apr_uint32_t gen;
    int n;

    set[0] = make_cert(&rsa_spec, "a.example.org", NULL);
    set[1] = make_cert(&ec_spec, "a.example.org", NULL);
    /* nothing published yet: generation 0, an empty set */
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, &msg, pool), APR_SUCCESS);
    ck_assert_uint_eq(gen, 0);
    ck_assert_int_eq(n, 0);

    ck_assert_int_eq(md_hot_publish(slot, set, 2, NULL), APR_SUCCESS);
    ck_assert_uint_eq(md_hot_generation(slot), 1);
    ck_assert_uint_eq(md_hot_generation(other), 0);          /* slots are separate */
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, &msg, pool), APR_SUCCESS);
    ck_assert_uint_eq(gen, 1);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_null(msg);
    ck_assert_str_eq(got[0].spec, "rsa");
    ck_assert_str_eq(got[1].spec, "secp256r1");
    ck_assert_uint_eq(got[1].chain_len, set[1].chain_len);
    ck_assert_int_eq(memcmp(got[1].chain_pem, set[1].chain_pem, set[1].chain_len), 0);

    ck_assert_int_eq(md_hot_set_parse(&parsed, gen, got, n, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(parsed->n, 2);
    ck_assert_int_eq(sk_X509_num(parsed->keys[0].chain), 1);
    ck_assert_ptr_nonnull(md_hot_set_key(parsed, "secp256r1"));
    ck_assert_ptr_null(md_hot_set_key(parsed, "secp384r1"));
    ck_assert(parsed->not_after > apr_time_now());
    ck_assert(md_cert_matches_key(md_hot_set_key(parsed, "rsa")->cert, md_hot_set_key(parsed, "rsa")->pkey));

    /* a second publication is the next generation */
    ck_assert_int_eq(md_hot_publish(slot, set + 1, 1, NULL), APR_SUCCESS);
    ck_assert_uint_eq(md_hot_generation(slot), 2);
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(n, 1);
}
END_TEST

START_TEST(too_small_keeps_previous)
{
    md_hot_area_t *a = new_area(1, 2048);
    md_hot_slot_t *slot = md_hot_area_slot(a, 0);
    md_hot_cert_t ec = make_cert(&ec_spec, "b.example.org", NULL);
    md_hot_cert_t rsa = make_cert(&rsa_spec, "b.example.org", NULL);
    md_hot_cert_t *got;
    apr_size_t needed = 0;
    apr_uint32_t gen;
    int n;

    ck_assert_int_eq(md_hot_publish(slot, &ec, 1, &needed), APR_SUCCESS);
    ck_assert_uint_eq(needed, md_hot_set_size(&ec, 1));
    ck_assert_int_eq(md_hot_publish(slot, &rsa, 1, &needed), APR_ENOSPC);
    ck_assert_uint_gt(needed, md_hot_slot_capacity(slot));
    ck_assert_uint_eq(md_hot_generation(slot), 1);
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(got[0].spec, "secp256r1");
}
END_TEST

START_TEST(key_mismatch_refused)
{
    md_hot_cert_t a = make_cert(&ec_spec, "c.example.org", NULL);
    md_hot_cert_t b = make_cert(&ec_spec, "c.example.org", NULL);
    md_hot_set_t *parsed;
    const char *err;

    a.key_pem = b.key_pem;
    a.key_len = b.key_len;
    ck_assert_int_eq(md_hot_set_parse(&parsed, 1, &a, 1, pool, &err), APR_EINVAL);
    ck_assert_ptr_null(parsed);
    ck_assert_ptr_nonnull(strstr(err, "does not belong"));
    a.chain_pem = "no pem";
    a.chain_len = 6;
    ck_assert_int_eq(md_hot_set_parse(&parsed, 1, &a, 1, pool, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "holds no PEM"));
    ck_assert_int_eq(md_hot_set_parse(&parsed, 1, &a, 0, pool, &err), APR_EINVAL);
}
END_TEST

START_TEST(message_keeps_generation)
{
    md_hot_area_t *a = new_area(1, 4096);
    md_hot_slot_t *slot = md_hot_area_slot(a, 0);
    md_hot_cert_t *got;
    const char *msg;
    apr_uint32_t gen;
    int n;
    char big[2 * MD_HOT_MSG_MAX];

    md_hot_set_message(slot, "the staged set is broken");
    ck_assert_uint_eq(md_hot_generation(slot), 0);
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, &msg, pool), APR_SUCCESS);
    ck_assert_str_eq(msg, "the staged set is broken");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    md_hot_set_message(slot, big);           /* truncated, still terminated */
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, &msg, pool), APR_SUCCESS);
    ck_assert_uint_eq(strlen(msg), MD_HOT_MSG_MAX - 1);
    md_hot_set_message(slot, NULL);
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, &msg, pool), APR_SUCCESS);
    ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(garbage_is_refused)
{
    md_hot_area_t *a = new_area(1, 4096);
    md_hot_slot_t *slot = md_hot_area_slot(a, 0);
    md_hot_cert_t c = { "rsa", "x", 1, "y", 1 }, *got;
    apr_uint32_t gen, huge = 0x7fffffff;
    int n;
    char *data;

    ck_assert_int_eq(md_hot_publish(slot, &c, 1, NULL), APR_SUCCESS);
    /* overwrite the length of the spec field with a huge one: read must not overrun */
    data = memmem(slot, 16 + MD_HOT_MSG_MAX + 64, "rsa", 3);
    ck_assert_ptr_nonnull(data);
    memcpy(data - 4, &huge, 4);
    ck_assert_int_eq(md_hot_read(slot, &gen, &got, &n, NULL, pool), APR_EINVAL);
}
END_TEST

/* A writer process alternates two sets as fast as it can; this process reads meanwhile:
 * every snapshot must be exactly one of them. */
START_TEST(reader_races_writer)
{
    apr_size_t size = md_hot_area_size(1, 16384);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    md_hot_area_t *a;
    md_hot_slot_t *slot;
    md_hot_cert_t sets[2], *got;
    apr_uint32_t gen, last = 0;
    pid_t pid;
    int i, n, st, seen[2] = { 0, 0 };

    ck_assert_ptr_ne(mem, MAP_FAILED);
    a = md_hot_area_init(mem, 1, 16384);
    slot = md_hot_area_slot(a, 0);
    sets[0] = make_cert(&ec_spec, "d.example.org", NULL);
    sets[1] = make_cert(&ec_spec, "e.example.org", NULL);
    md_hot_publish(slot, &sets[0], 1, NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (i = 0; i < 200000; ++i) md_hot_publish(slot, &sets[i & 1], 1, NULL);
        _exit(0);
    }
    for (i = 0; i < 20000; ++i) {
        apr_pool_t *p;
        apr_status_t rv;
        apr_pool_create(&p, pool);
        rv = md_hot_read(slot, &gen, &got, &n, NULL, p);
        if (rv == APR_EAGAIN) {             /* the writer never paused: try again (by design) */
            apr_pool_destroy(p);
            continue;
        }
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_int_eq(n, 1);
        ck_assert_uint_ge(gen, last);
        last = gen;
        if (got[0].chain_len == sets[0].chain_len && !memcmp(got[0].chain_pem, sets[0].chain_pem, sets[0].chain_len)) {
            ck_assert_int_eq(memcmp(got[0].key_pem, sets[0].key_pem, sets[0].key_len), 0);
            seen[0]++;
        }
        else {
            ck_assert_uint_eq(got[0].chain_len, sets[1].chain_len);
            ck_assert_int_eq(memcmp(got[0].chain_pem, sets[1].chain_pem, sets[1].chain_len), 0);
            ck_assert_int_eq(memcmp(got[0].key_pem, sets[1].key_pem, sets[1].key_len), 0);
            seen[1]++;
        }
        apr_pool_destroy(p);
    }
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_gt(seen[0] + seen[1], 0);
    munmap(mem, size);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_hot");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, layout);
    tcase_add_test(tc, publish_read_parse_two_key_types);
    tcase_add_test(tc, too_small_keeps_previous);
    tcase_add_test(tc, key_mismatch_refused);
    tcase_add_test(tc, message_keeps_generation);
    tcase_add_test(tc, garbage_is_refused);
    tcase_add_test(tc, reader_races_writer);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
