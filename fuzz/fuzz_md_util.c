/* fuzz_md_util: the small text values of mod_md (md_util.c, md_core.c, md_acme.c):
 * durations and time slices, MDPrivateKeys specs, DNS names and IP addresses, RFC 3339 and
 * RFC 1123 times, command lines.
 *
 * The first byte chooses the surface, the rest is the text. Properties:
 *   0/1  a duration (plain numbers in days or seconds) / a time slice formats back to text
 *        that parses to the same value;
 *   2    key specs (space separated) survive md.json; a curve's name parses to itself;
 *   3    a name: an accepted DNS name is short and made of letters, digits, '-', '.' (and a
 *        leading "*."; '_' as in service names); an IP's canonical text is canonical and an IP; every name that
 *        md_util_name_problem accepts is usable as a store directory; reverse-DNS names
 *        give canonical IPs;
 *   4    an RFC 3339 time is refused with anything after it, and survives RFC 1123;
 *   5    an RFC 1123 time formats back to the same time;
 *   6    a command line splits into a NULL-terminated argv of words no longer than it.
 */
#include <ctype.h>
#include <unistd.h>

#include "fuzz.h"
#include "md.h"
#include "md_acme.h"
#include "md_store.h"
#include "md_util.h"

static int initialised;

static void write_seeds(void)
{
    static const char *const seeds[][2] = {
        { "\x00" "30d", "duration-days" }, { "\x00" "12", "duration-plain" },
        { "\x00" "1500ms", "duration-ms" }, { "\x00" "5mi", "duration-mi" },
        { "\x01" "33%", "slice-percent" }, { "\x01" "21d", "slice-days" }, { "\x01" "0", "slice-zero" },
        { "\x02" "RSA 3072 secp384r1", "keys" }, { "\x02" "rsa4096 P-256 Default", "keys-2" },
        { "\x03" "www.example.org", "name-dns" }, { "\x03" "*.example.org", "name-wildcard" },
        { "\x03" "2001:DB8:0:0::1", "name-ipv6" }, { "\x03" "[::1]", "name-ipv6-brackets" },
        { "\x03" "127.0.0.1", "name-ipv4" }, { "\x03" "1.0.0.127.in-addr.arpa", "name-rev4" },
        { "\x03" "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "name-rev6" },
        { "\x04" "2025-01-02T03:04:05Z", "rfc3339" }, { "\x04" "2025-01-02T05:04:05.123+02:00", "rfc3339-offset" },
        { "\x05" "Tue, 24 Nov 2026 12:41:22 GMT", "rfc1123" },
        { "\x06" "/usr/bin/notify -v 'two words' \"and \\\"more\\\"\"", "cmdline" },
    };
    size_t i;
    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); ++i)
        fuzz_seed(seeds[i][1], seeds[i][0][0], seeds[i][0] + 1, strlen(seeds[i][0] + 1));
    _exit(0);
}

static void check_duration(const char *s, const char *unit, apr_pool_t *p)
{
    apr_interval_time_t d, again;
    const char *f;

    /* durations may be negative (as with the reference): whatever parses, formats back */
    if (md_util_parse_duration(s, unit, &d)) return;
    f = md_util_duration_format(p, d);
    FUZZ_ASSERT(md_util_parse_duration(f, MD_UNIT_SECONDS, &again) == NULL && again == d);
}

static void check_timeslice(const char *s, apr_pool_t *p)
{
    md_timeslice_t ts, again;
    const char *f;

    if (md_util_parse_timeslice(s, &ts)) return;
    /* a duration may be negative, a share of the lifetime never */
    if (ts.norm) FUZZ_ASSERT(ts.len >= 0 && ts.len < ts.norm);
    f = md_util_timeslice_format(p, &ts);
    FUZZ_ASSERT(md_util_parse_timeslice(f, &again) == NULL);
    FUZZ_ASSERT(again.norm == ts.norm && again.len == ts.len);
    if (ts.norm) {
        apr_interval_time_t life = apr_time_from_sec(90 * 86400);
        apr_interval_time_t span = md_timeslice_span(&ts, 0, life);
        FUZZ_ASSERT(span >= 0 && span <= life);
    }
}

static void check_keys(const char *s, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, s), *last, *w;
    char *argv[16];
    int argc = 0, i;
    apr_array_header_t *specs, *domains = apr_array_make(p, 1, sizeof(const char *));
    md_t *md, *back;
    const char *err = NULL;
    json_t *j;

    for (w = apr_strtok(copy, " ", &last); w && argc < 16; w = apr_strtok(NULL, " ", &last))
        argv[argc++] = w;
    if (md_pkey_specs_parse(p, argc, argv, &specs)) return;
    FUZZ_ASSERT(specs->nelts > 0 && specs->nelts <= argc);
    for (i = 0; i < specs->nelts; ++i) {
        const md_pkey_spec_t *spec = APR_ARRAY_IDX(specs, i, const md_pkey_spec_t *);
        if (spec->type == MD_PKEY_EC) {
            char *name = (char *)md_pkey_spec_name(p, spec);
            apr_array_header_t *again;
            FUZZ_ASSERT(md_pkey_specs_parse(p, 1, &name, &again) == NULL);
            FUZZ_ASSERT(!strcmp(APR_ARRAY_IDX(again, 0, md_pkey_spec_t *)->curve, spec->curve));
        }
        else if (spec->type == MD_PKEY_RSA) {
            FUZZ_ASSERT(spec->bits >= MD_PKEY_RSA_MIN_BITS && spec->bits <= 16384);
        }
    }
    APR_ARRAY_PUSH(domains, const char *) = "example.org";
    md = md_create(p, domains);
    md_merge(md, md_create_defaults(p));
    md->pkey_specs = specs;
    j = md_to_json(md, p);
    back = md_from_json(j, p, &err);
    json_decref(j);
    FUZZ_ASSERT(back != NULL);
    FUZZ_ASSERT(md_equal_json(md, back, p));
}

static void check_name(const char *s, apr_pool_t *p)
{
    const char *c = md_util_ip_canonical(p, s), *r;
    const char *t;

    if (md_util_is_dns_name(s, 1)) {
        FUZZ_ASSERT(strlen(s) <= 255);
        t = md_util_is_wildcard(s) ? s + 2 : s;
        for (; *t; ++t) FUZZ_ASSERT(isalnum((unsigned char)*t) || strchr("-_.", *t));
        if (!md_util_is_wildcard(s)) FUZZ_ASSERT(md_util_is_dns_name(s, 0));
    }
    if (c) {
        FUZZ_ASSERT(md_util_is_ip(c));
        FUZZ_ASSERT(!strcmp(md_util_ip_canonical(p, c), c));
    }
    if (md_util_is_ip(s)) FUZZ_ASSERT(c != NULL);
    if (!md_util_name_problem(p, s)) {
        const char *stored = c ? c : md_util_str_tolower(p, s);
        FUZZ_ASSERT(md_store_name_is_safe(stored));
        FUZZ_ASSERT(c || md_util_is_dns_name(s, 1));
    }
    if ((r = md_util_ip_from_reverse(p, s)) != NULL) {
        FUZZ_ASSERT(md_util_is_ip(r));
        FUZZ_ASSERT(!strcmp(md_util_ip_canonical(p, r), r));
    }
}

static void check_rfc3339(const char *s, apr_pool_t *p)
{
    apr_time_t t = md_acme_parse_rfc3339(s);

    if (!t) return;
    FUZZ_ASSERT(md_acme_parse_rfc3339(apr_pstrcat(p, s, "x", NULL)) == 0);
    FUZZ_ASSERT(md_acme_parse_rfc3339(apr_pstrcat(p, s, "0", NULL)) == 0);
    FUZZ_ASSERT(t % APR_USEC_PER_SEC == 0);
    FUZZ_ASSERT(md_util_time_parse(md_util_time_format(p, t)) == t);
}

static void check_rfc1123(const char *s, apr_pool_t *p)
{
    apr_time_t t = md_util_time_parse(s);
    const char *f;

    if (!t) return;
    f = md_util_time_format(p, t);
    FUZZ_ASSERT(md_util_time_parse(f) == t);
    FUZZ_ASSERT(!strcmp(md_util_time_format(p, md_util_time_parse(f)), f));
}

static void check_cmdline(const char *s, apr_pool_t *p)
{
    int argc = -1, i;
    const char **argv = md_util_cmdline_split(p, s, &argc);

    if (!argv) return;
    FUZZ_ASSERT(argc >= 0);
    for (i = 0; i < argc; ++i) FUZZ_ASSERT(argv[i] != NULL && strlen(argv[i]) <= strlen(s));
    FUZZ_ASSERT(argv[argc] == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *s;

    if (!initialised) {
        fuzz_init_begin();
        initialised = 1;
        fuzz_root();
        if (fuzz_seeds_wanted()) write_seeds();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    s = fuzz_str(p, data + 1, size - 1);
    switch (data[0] % 7) {
    case 0: check_duration(s, data[0] & 0x80 ? MD_UNIT_SECONDS : MD_UNIT_DAYS, p); break;
    case 1: check_timeslice(s, p); break;
    case 2: check_keys(s, p); break;
    case 3: check_name(s, p); break;
    case 4: check_rfc3339(s, p); break;
    case 5: check_rfc1123(s, p); break;
    default: check_cmdline(s, p); break;
    }
    fuzz_run_end(p);
    return 0;
}
