/* fuzz_md_json: the JSON files of the mod_md store and the CA's renewal information:
 * md.json (md_core.c), job.json (md_job.c), account.json (md_acme.c), the ARI record
 * tmp/ari/<md>.json and a renewalInfo answer (md_ari.c).
 *
 * The first byte chooses the format, the rest is the file. Properties: whatever a reader
 * makes of a file, writing it and reading it back gives the same object and writing that
 * gives the same file (a second round trip changes nothing); md.json read back is
 * md_equal_json to the first; an accepted renewalInfo window is ordered and not accepted
 * with garbage after the JSON.
 */
#include <unistd.h>

#include "fuzz.h"
#include "md.h"
#include "md_acme.h"
#include "md_ari.h"
#include "md_job.h"

static int initialised;

static void seed_json(const char *name, int kind, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    fuzz_seed(name, kind, s, strlen(s));
    free(s);
    json_decref(j);
}

static void write_seeds(apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    md_t *md;
    md_job_t *job;
    md_acme_acct_t acct;
    md_ari_t *ari;
    const char *specs[] = { "RSA", "3072", "secp384r1" }, *body;
    apr_array_header_t *pk;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    APR_ARRAY_PUSH(names, const char *) = "www.example.org";
    md = md_create(p, names);
    md_merge(md, md_create_defaults(p));
    APR_ARRAY_PUSH(md->contacts, const char *) = "mailto:admin@example.org";
    md_pkey_specs_parse(p, 3, (char *const *)specs, &pk);
    md->pkey_specs = pk;
    md->ca_agreement = "accepted";
    md->profile = "shortlived";
    md->stapling = 1;
    seed_json("md", 0, md_to_json(md, p));

    job = md_job_make("example.org", p);
    job->errors = 2;
    job->next_run = apr_time_from_sec(1800000000);
    job->last_run = apr_time_from_sec(1799990000);
    md_result_problem_set(job->last, APR_EINVAL, MD_ACME_PROBLEM_PREFIX "rejectedIdentifier",
                          "the CA refused www.example.org", NULL);
    md_result_activity(job->last, "creating an order for example.org");
    md_job_log_append(job, "progress", APR_SUCCESS, "contacting the ACME server");
    md_job_log_append(job, "renewal-failed", APR_EINVAL, "the CA refused www.example.org");
    seed_json("job", 1, md_job_to_json(job, p));

    memset(&acct, 0, sizeof(acct));
    acct.id = "ACME-localhost-0000";
    acct.url = "https://127.0.0.1:14000/my-account/1";
    acct.ca_url = "https://127.0.0.1:14000/dir";
    acct.contacts = md->contacts;
    acct.agreement = "https://127.0.0.1:14000/terms";
    acct.eab_kid = "kid-1";
    seed_json("account", 2, md_acme_acct_to_json(&acct));

    ari = md_ari_make("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", p);
    ari->supported = 1;
    md_ari_set_window(ari, apr_time_from_sec(1800000000), apr_time_from_sec(1800086400),
                      "https://ca.example/why", apr_time_from_sec(1799900000), 0.5, p);
    md_ari_set_error(ari, "the CA answered 503", apr_time_from_sec(1799950000), p);
    seed_json("ari-record", 3, md_ari_to_json(ari, p));

    body = "{\"suggestedWindow\": {\"start\": \"2027-01-02T03:04:05Z\", "
           "\"end\": \"2027-01-03T03:04:05.123+01:00\"}, \"explanationURL\": \"https://ca.example/why\"}";
    fuzz_seed("renewal-info", 4, body, strlen(body));
    _exit(0);
}

static void check_md(json_t *j, apr_pool_t *p)
{
    const char *err = NULL;
    md_t *a = md_from_json(j, p, &err), *b;
    json_t *j2, *j3;

    if (!a) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    j2 = md_to_json(a, p);
    b = md_from_json(j2, p, &err);
    FUZZ_ASSERT(b != NULL);
    FUZZ_ASSERT(md_equal_json(a, b, p));
    j3 = md_to_json(b, p);
    FUZZ_ASSERT(json_equal(j2, j3));
    json_decref(j2);
    json_decref(j3);
}

static void check_job(json_t *j, apr_pool_t *p)
{
    md_job_t *a = md_job_from_json(j, "example.org", p), *b;
    json_t *j2 = md_job_to_json(a, p), *j3;

    FUZZ_ASSERT(a->errors >= 0);
    FUZZ_ASSERT(json_array_size(a->log) <= MD_JOB_LOG_MAX);
    b = md_job_from_json(j2, "example.org", p);
    j3 = md_job_to_json(b, p);
    FUZZ_ASSERT(json_equal(j2, j3));
    json_decref(j2);
    json_decref(j3);
}

static void check_account(json_t *j, apr_pool_t *p)
{
    md_acme_acct_t *a = md_acme_acct_from_json(j, p), *b;
    json_t *j2, *j3;

    if (!a) return;
    j2 = md_acme_acct_to_json(a);
    FUZZ_ASSERT((b = md_acme_acct_from_json(j2, p)) != NULL);
    FUZZ_ASSERT(!strcmp(a->url, b->url) && !strcmp(a->ca_url, b->ca_url));
    FUZZ_ASSERT(md_acme_acct_matches(a, b->ca_url, b->contacts, b->eab_kid)
                == md_acme_acct_matches(b, a->ca_url, a->contacts, a->eab_kid));
    j3 = md_acme_acct_to_json(b);
    FUZZ_ASSERT(json_equal(j2, j3));
    json_decref(j2);
    json_decref(j3);
}

static void check_ari(json_t *j, apr_pool_t *p)
{
    md_ari_t *a = md_ari_from_json(j, p), *b;
    json_t *j2, *j3;

    if (!a) return;
    FUZZ_ASSERT(a->errors >= 0);
    FUZZ_ASSERT(a->start <= a->end);
    j2 = md_ari_to_json(a, p);
    FUZZ_ASSERT((b = md_ari_from_json(j2, p)) != NULL);
    j3 = md_ari_to_json(b, p);
    FUZZ_ASSERT(json_equal(j2, j3));
    json_decref(j2);
    json_decref(j3);
}

static void check_renewal_info(const uint8_t *d, size_t n, apr_pool_t *p)
{
    apr_time_t start, end;
    const char *x, *err = NULL, *body = fuzz_str(p, d, n);
    char *more;

    if (md_ari_parse(&start, &end, &x, body, n, p, &err) != APR_SUCCESS) {
        FUZZ_ASSERT(err != NULL);
        return;
    }
    FUZZ_ASSERT(start && end && start <= end);
    more = apr_palloc(p, n + 2);
    memcpy(more, d, n);
    memcpy(more + n, "}x", 2);
    FUZZ_ASSERT(md_ari_parse(&start, &end, &x, more, n + 2, p, &err) != APR_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    json_t *j;

    if (!initialised) {
        fuzz_init_begin();
        initialised = 1;
        if (fuzz_seeds_wanted()) write_seeds(fuzz_root());
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    if (data[0] % 5 == 4) check_renewal_info(data + 1, size - 1, p);
    else if ((j = json_loadb((const char *)data + 1, size - 1, 0, NULL)) != NULL) {
        switch (data[0] % 5) {
        case 0: check_md(j, p); break;
        case 1: check_job(j, p); break;
        case 2: check_account(j, p); break;
        default: check_ari(j, p); break;
        }
        json_decref(j);
    }
    fuzz_run_end(p);
    return 0;
}
