/* md_core.c: md_t construction, merging of settings and the md.json codec. */
#include <string.h>
#include <stdlib.h>
#include <ctype.h>
#include <limits.h>

#include <apr_strings.h>
#include <openssl/objects.h>
#include <openssl/ec.h>

#include "md.h"

md_t *md_create_empty(apr_pool_t *p)
{
    md_t *md = apr_pcalloc(p, sizeof(*md));
    md->domains = apr_array_make(p, 5, sizeof(const char *));
    md->contacts = apr_array_make(p, 2, sizeof(const char *));
    md->transitive = MD_UNSET;
    md->renew_mode = MD_RENEW_DEFAULT;
    md->require_https = MD_REQUIRE_UNSET;
    md->must_staple = MD_UNSET;
    md->stapling = MD_UNSET;
    md->dns01_version = MD_UNSET;
    md->profile_mandatory = MD_UNSET;
    md->ari_renewals = MD_UNSET;
    md->activation = MD_UNSET;
    md->state = MD_S_UNKNOWN;
    return md;
}

md_t *md_create(apr_pool_t *p, const apr_array_header_t *domains)
{
    md_t *md = md_create_empty(p);
    int i;
    for (i = 0; i < domains->nelts; ++i)
        md_util_array_add_unique(md->domains, APR_ARRAY_IDX(domains, i, const char *));
    if (md->domains->nelts) md->name = APR_ARRAY_IDX(md->domains, 0, const char *);
    return md;
}

md_t *md_clone(apr_pool_t *p, const md_t *src)
{
    md_t *md = apr_pmemdup(p, src, sizeof(*md));
    md->domains = apr_array_copy(p, src->domains);
    md->contacts = apr_array_copy(p, src->contacts);
    if (src->ca_urls) md->ca_urls = apr_array_copy(p, src->ca_urls);
    if (src->ca_challenges) md->ca_challenges = apr_array_copy(p, src->ca_challenges);
    if (src->acme_tls_1_domains) md->acme_tls_1_domains = apr_array_copy(p, src->acme_tls_1_domains);
    return md;
}

md_t *md_create_defaults(apr_pool_t *p)
{
    static md_timeslice_t renew = { 100, 33 }, warn = { 100, 10 };
    md_t *d = md_create_empty(p);

    d->transitive = 1;
    d->ca_proto = "ACME";
    d->ca_urls = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(d->ca_urls, const char *) = "https://acme-v02.api.letsencrypt.org/directory";
    d->renew_mode = MD_RENEW_AUTO;
    d->renew_window = &renew;
    d->warn_window = &warn;
    d->require_https = MD_REQUIRE_OFF;
    d->must_staple = 0;
    d->stapling = 0;
    d->dns01_version = 1;
    d->profile_mandatory = 0;
    d->ari_renewals = 1;
    d->activation = MD_ACTIVATION_GRACEFUL;
    return d;
}

#define MERGE_INT(f) if (md->f == MD_UNSET) md->f = d->f
#define MERGE_PTR(f) if (!md->f) md->f = d->f

void md_merge(md_t *md, const md_t *d)
{
    MERGE_INT(transitive);
    MERGE_INT(renew_mode);
    MERGE_INT(require_https);
    MERGE_INT(must_staple);
    MERGE_INT(stapling);
    MERGE_INT(dns01_version);
    MERGE_INT(profile_mandatory);
    MERGE_INT(ari_renewals);
    MERGE_INT(activation);
    MERGE_PTR(ca_proto);
    MERGE_PTR(ca_urls);
    MERGE_PTR(ca_agreement);
    MERGE_PTR(ca_challenges);
    MERGE_PTR(pkey_specs);
    MERGE_PTR(renew_window);
    MERGE_PTR(warn_window);
    MERGE_PTR(dns01_cmd);
    MERGE_PTR(proxy_url);
    MERGE_PTR(ca_certs);
    MERGE_PTR(profile);
    if (!md->eab_kid) {
        md->eab_kid = d->eab_kid;
        md->eab_hmac = d->eab_hmac;
    }
    if (md->contacts->nelts == 0 && d->contacts) md->contacts = apr_array_copy(md->domains->pool, d->contacts);
}

int md_contains(const md_t *md, const char *domain)
{
    return md_util_array_index(md->domains, domain) >= 0;
}

int md_covers(const md_t *md, const char *domain)
{
    int i;
    if (md_contains(md, domain)) return 1;
    for (i = 0; i < md->domains->nelts; ++i) {
        const char *d = APR_ARRAY_IDX(md->domains, i, const char *);
        const char *dot = strchr(domain, '.');
        if (md_util_is_wildcard(d) && dot && !strcasecmp(d + 1, dot)) return 1;
    }
    return 0;
}

/* ---- private key specs ---- */

static const char *curve_canonical(apr_pool_t *p, const char *name)
{
    static const char *const aliases[][2] = {
        { "p-256", "secp256r1" }, { "prime256v1", "secp256r1" },
        { "p-384", "secp384r1" }, { "p-521", "secp521r1" },
    };
    char *lc = md_util_str_tolower(p, name);
    int nid;
    EC_GROUP *g;
    size_t i;

    for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); ++i) {
        if (!strcmp(lc, aliases[i][0])) lc = (char *)aliases[i][1];
    }
    nid = EC_curve_nist2nid(name);
    if (nid == NID_undef) nid = OBJ_sn2nid(lc);
    if (nid == NID_undef && !strcmp(lc, "secp256r1")) nid = NID_X9_62_prime256v1;
    if (nid == NID_undef) return NULL;
    g = EC_GROUP_new_by_curve_name(nid);
    if (!g) return NULL;
    EC_GROUP_free(g);
    /* OpenSSL's short name, which parses again (a NIST name like "K-571" lower-cased would
     * not); P-256 keeps the name md.json has always used */
    return nid == NID_X9_62_prime256v1 ? "secp256r1" : apr_pstrdup(p, OBJ_nid2sn(nid));
}

const char *md_pkey_curve_canonical(apr_pool_t *p, const char *name)
{
    return curve_canonical(p, name);
}

/* As the reference: 'Default' stands alone; one RSA key at most; one key per curve name as
 * written (ignoring case). Its words are kept in the messages. */
const char *md_pkey_specs_parse(apr_pool_t *p, int argc, char *const argv[],
                                apr_array_header_t **pspecs)
{
    apr_array_header_t *specs = apr_array_make(p, 2, sizeof(md_pkey_spec_t *));
    apr_array_header_t *curves = apr_array_make(p, 2, sizeof(const char *));
    int i, have_rsa = 0;

    for (i = 0; i < argc; ++i) {
        const char *a = argv[i];
        md_pkey_spec_t *spec = apr_pcalloc(p, sizeof(*spec));

        if (!strcasecmp(a, "Default")) {
            if (argc > 1)
                return "'Default' allows no other parameter (it means: RSA 2048, or what the "
                       "module's default is)";
            spec->type = MD_PKEY_DEFAULT;
        }
        else if (!strncasecmp(a, "RSA", 3)) {
            const char *bits = a + 3;
            char *end;
            long n;
            if (!*bits) {
                /* "RSA" optionally followed by the size as its own argument */
                if (i + 1 < argc && isdigit((unsigned char)argv[i + 1][0])) bits = argv[++i];
                else bits = "2048";
            }
            n = strtol(bits, &end, 10);
            if ((*end || end == bits) && bits == a + 3)   /* "RSAx": no RSA, no curve */
                return apr_psprintf(p, "unknown private key type or curve '%s' (ec curve "
                                    "unknown: %s); use RSA [bits], rsaNNNN or an EC curve", a, a);
            if (*end || end == bits)
                return apr_psprintf(p, "'%s' is not a valid RSA key size", bits);
            if (n < MD_PKEY_RSA_MIN_BITS)
                return apr_psprintf(p, "RSA key size %ld must be %d or higher in order to be "
                                    "considered safe.", n, MD_PKEY_RSA_MIN_BITS);
            if (n > 16384)
                return apr_psprintf(p, "RSA key size %ld is too large: OpenSSL uses RSA keys of "
                                    "at most 16384 bits", n);
            if (have_rsa++) return "two keys of type 'RSA' are not possible.";
            spec->type = MD_PKEY_RSA;
            spec->bits = (unsigned int)n;
        }
        else if (curve_canonical(p, a) != NULL) {
            /* kept as written: md.json and the file names use the admin's spelling, as the
             * reference does (a store is shared with it) */
            spec->curve = apr_pstrdup(p, a);
            spec->type = MD_PKEY_EC;
        }
        else {
            return apr_psprintf(p, "unknown private key type or curve '%s' (ec curve unknown: "
                                "%s); use RSA [bits], rsaNNNN, P-256, P-384, secp256r1 or another "
                                "EC curve known to OpenSSL", a, a);
        }
        if (spec->type == MD_PKEY_EC) {     /* one key per curve name as written */
            if (md_util_array_index(curves, a) >= 0)
                return apr_psprintf(p, "two keys of type '%s' are not possible.", a);
            APR_ARRAY_PUSH(curves, const char *) = a;
        }
        APR_ARRAY_PUSH(specs, md_pkey_spec_t *) = spec;
    }
    if (!specs->nelts) return "needs to specify the private key type";
    *pspecs = specs;
    return NULL;
}

int md_pkey_spec_count(const md_t *md)
{
    return (md->pkey_specs && md->pkey_specs->nelts) ? md->pkey_specs->nelts : 1;
}

const md_pkey_spec_t *md_pkey_spec_get(const md_t *md, int i)
{
    static const md_pkey_spec_t def = { MD_PKEY_DEFAULT, 0, NULL };
    if (md->pkey_specs && i < md->pkey_specs->nelts)
        return APR_ARRAY_IDX(md->pkey_specs, i, const md_pkey_spec_t *);
    return &def;
}

const char *md_pkey_spec_name(apr_pool_t *p, const md_pkey_spec_t *spec)
{
    switch (spec->type) {
    case MD_PKEY_EC: return spec->curve;
    case MD_PKEY_RSA:
    case MD_PKEY_DEFAULT:
    default: return "rsa";
    }
}

const char *md_pkey_spec_suffix(apr_pool_t *p, const md_pkey_spec_t *spec)
{
    return spec->type == MD_PKEY_EC ? apr_pstrcat(p, ".", md_util_str_tolower(p, spec->curve), NULL) : "";
}

static json_t *pkey_spec_to_json(const md_pkey_spec_t *s)
{
    switch (s->type) {
    case MD_PKEY_RSA:
        return json_pack("{s:s,s:i}", "type", "RSA", "bits", (json_int_t)s->bits);
    case MD_PKEY_EC:
        return json_pack("{s:s,s:s}", "type", "EC", "curve", s->curve);
    default:
        return json_pack("{s:s}", "type", "Default");
    }
}

static md_pkey_spec_t *pkey_spec_from_json(json_t *j, apr_pool_t *p)
{
    md_pkey_spec_t *s = apr_pcalloc(p, sizeof(*s));
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) return NULL;
    if (!strcasecmp(type, "RSA")) {
        s->type = MD_PKEY_RSA;
        s->bits = (unsigned)md_util_json_int(j, "bits", 0, INT_MAX, MD_PKEY_RSA_DEFAULT_BITS);
    }
    else if (!strcasecmp(type, "EC")) {
        const char *c = json_string_value(json_object_get(j, "curve"));
        if (!c) return NULL;
        s->type = MD_PKEY_EC;
        s->curve = apr_pstrdup(p, c);
    }
    else {
        s->type = MD_PKEY_DEFAULT;
    }
    return s;
}

/* ---- names ---- */

const char *md_state_str(int state)
{
    switch (state) {
    case MD_S_INCOMPLETE: return "incomplete";
    case MD_S_COMPLETE: return "complete";
    case MD_S_EXPIRED_DEPRECATED: return "expired";
    case MD_S_ERROR: return "error";
    case MD_S_MISSING_INFORMATION: return "missing-information";
    default: return "unknown";
    }
}

const char *md_require_https_str(int r)
{
    return r == MD_REQUIRE_PERMANENT ? "permanent" : r == MD_REQUIRE_TEMPORARY ? "temporary" : "off";
}

const char *md_renew_mode_str(int m)
{
    return m == MD_RENEW_ALWAYS ? "always" : m == MD_RENEW_MANUAL ? "manual" : "auto";
}

/* ---- md.json ---- */

static json_t *str_array_to_json(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;
    for (i = 0; a && i < a->nelts; ++i)
        json_array_append_new(j, json_string(APR_ARRAY_IDX(a, i, const char *)));
    return j;
}

static apr_array_header_t *str_array_from_json(json_t *j, apr_pool_t *p, int *pbad)
{
    apr_array_header_t *a = apr_array_make(p, 5, sizeof(const char *));
    size_t i;
    json_t *v;

    if (!j) return a;
    if (!json_is_array(j)) { *pbad = 1; return a; }
    json_array_foreach(j, i, v) {
        if (!json_is_string(v)) { *pbad = 1; continue; }
        APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(p, json_string_value(v));
    }
    return a;
}

#define SET_STR(obj, key, val) do { if (val) json_object_set_new(obj, key, json_string(val)); } while (0)

json_t *md_to_json(const md_t *md, apr_pool_t *p)
{
    json_t *j = json_object(), *ca = json_object(), *proto;
    int i;

    json_object_set_new(j, "name", json_string(md->name));
    json_object_set_new(j, "domains", str_array_to_json(md->domains));
    if (md->contacts && md->contacts->nelts)
        json_object_set_new(j, "contacts", str_array_to_json(md->contacts));
    json_object_set_new(j, "transitive", json_integer(md->transitive > 0));
    SET_STR(ca, "account", md->ca_account);
    SET_STR(ca, "proto", md->ca_proto);
    SET_STR(ca, "url", md->ca_effective);
    if (md->ca_urls) json_object_set_new(ca, "urls", str_array_to_json(md->ca_urls));
    SET_STR(ca, "agreement", md->ca_agreement);
    if (md->ca_challenges && md->ca_challenges->nelts)
        json_object_set_new(ca, "challenges", str_array_to_json(md->ca_challenges));
    json_object_set_new(j, "ca", ca);
    if (md->pkey_specs && md->pkey_specs->nelts == 1) {
        json_object_set_new(j, "privkey",
                            pkey_spec_to_json(APR_ARRAY_IDX(md->pkey_specs, 0, md_pkey_spec_t *)));
    }
    else if (md->pkey_specs && md->pkey_specs->nelts > 1) {
        json_t *a = json_array();
        for (i = 0; i < md->pkey_specs->nelts; ++i)
            json_array_append_new(a, pkey_spec_to_json(APR_ARRAY_IDX(md->pkey_specs, i, md_pkey_spec_t *)));
        json_object_set_new(j, "privkey", a);
    }
    json_object_set_new(j, "state", json_integer(md->state));
    SET_STR(j, "state-descr", md->state_descr);
    json_object_set_new(j, "renew-mode", json_integer(md->renew_mode < 0 ? MD_RENEW_AUTO : md->renew_mode));
    if (md->renew_window)
        json_object_set_new(j, "renew-window", json_string(md_util_timeslice_format(p, md->renew_window)));
    if (md->warn_window)
        json_object_set_new(j, "warn-window", json_string(md_util_timeslice_format(p, md->warn_window)));
    if (md->require_https > MD_REQUIRE_OFF)
        json_object_set_new(j, "require-https", json_string(md_require_https_str(md->require_https)));
    json_object_set_new(j, "must-staple", json_boolean(md->must_staple > 0));
    proto = json_object();
    json_object_set_new(proto, "acme-tls/1", str_array_to_json(md->acme_tls_1_domains));
    json_object_set_new(j, "proto", proto);
    if (md->cert_files && md->cert_files->nelts)
        json_object_set_new(j, "cert-files", str_array_to_json(md->cert_files));
    if (md->pkey_files && md->pkey_files->nelts)
        json_object_set_new(j, "pkey-files", str_array_to_json(md->pkey_files));
    json_object_set_new(j, "stapling", json_boolean(md->stapling > 0));
    if (md->dns01_cmd) {
        json_object_set_new(j, "cmd-dns-01", json_string(md->dns01_cmd));
        if (md->dns01_version > 1) json_object_set_new(j, "cmd-dns-01-version", json_integer(md->dns01_version));
    }
    SET_STR(j, "proxy-url", md->proxy_url);
    SET_STR(j, "ca-certs", md->ca_certs);
    if (md->eab_kid)
        json_object_set_new(j, "eab", json_pack("{s:s,s:s}", "kid", md->eab_kid,
                                                "hmac", md->eab_hmac ? md->eab_hmac : ""));
    SET_STR(j, "profile", md->profile);
    json_object_set_new(j, "profile-mandatory", json_boolean(md->profile_mandatory > 0));
    json_object_set_new(j, "ari-renewals", json_boolean(md->ari_renewals != 0));
    return j;
}

static int json_flag(json_t *j, const char *key, int def)
{
    json_t *v = json_object_get(j, key);
    if (json_is_boolean(v)) return json_is_true(v);
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    return def;
}

static const char *json_str(json_t *j, const char *key, apr_pool_t *p)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? apr_pstrdup(p, s) : NULL;
}

md_t *md_from_json(json_t *j, apr_pool_t *p, const char **perr)
{
    md_t *md;
    json_t *ca, *pk, *v;
    int bad = 0;
    const char *s;

    if (!json_is_object(j)) { *perr = "not a JSON object"; return NULL; }
    md = md_create_empty(p);
    md->name = json_str(j, "name", p);
    if (!md->name) { *perr = "no \"name\""; return NULL; }
    md->domains = str_array_from_json(json_object_get(j, "domains"), p, &bad);
    md->contacts = str_array_from_json(json_object_get(j, "contacts"), p, &bad);
    md->transitive = json_flag(j, "transitive", 1);
    if ((ca = json_object_get(j, "ca")) != NULL) {
        md->ca_account = json_str(ca, "account", p);
        md->ca_proto = json_str(ca, "proto", p);
        md->ca_effective = json_str(ca, "url", p);
        if (json_object_get(ca, "urls"))
            md->ca_urls = str_array_from_json(json_object_get(ca, "urls"), p, &bad);
        else if (md->ca_effective) {
            md->ca_urls = apr_array_make(p, 1, sizeof(const char *));
            APR_ARRAY_PUSH(md->ca_urls, const char *) = md->ca_effective;
        }
        md->ca_agreement = json_str(ca, "agreement", p);
        if (json_object_get(ca, "challenges"))
            md->ca_challenges = str_array_from_json(json_object_get(ca, "challenges"), p, &bad);
    }
    if ((pk = json_object_get(j, "privkey")) != NULL) {
        md->pkey_specs = apr_array_make(p, 2, sizeof(md_pkey_spec_t *));
        if (json_is_array(pk)) {
            size_t i;
            json_array_foreach(pk, i, v) {
                md_pkey_spec_t *spec = pkey_spec_from_json(v, p);
                if (spec) APR_ARRAY_PUSH(md->pkey_specs, md_pkey_spec_t *) = spec;
                else bad = 1;
            }
        }
        else {
            md_pkey_spec_t *spec = pkey_spec_from_json(pk, p);
            if (spec) APR_ARRAY_PUSH(md->pkey_specs, md_pkey_spec_t *) = spec;
            else bad = 1;
        }
    }
    md->state = md_util_json_int(j, "state", INT_MIN, INT_MAX, MD_S_UNKNOWN);
    md->state_descr = json_str(j, "state-descr", p);
    md->renew_mode = md_util_json_int(j, "renew-mode", INT_MIN, INT_MAX, MD_RENEW_AUTO);
    if ((s = json_string_value(json_object_get(j, "renew-window"))) != NULL) {
        md->renew_window = apr_pcalloc(p, sizeof(md_timeslice_t));
        if (md_util_parse_timeslice(s, md->renew_window)) bad = 1;
    }
    if ((s = json_string_value(json_object_get(j, "warn-window"))) != NULL) {
        md->warn_window = apr_pcalloc(p, sizeof(md_timeslice_t));
        if (md_util_parse_timeslice(s, md->warn_window)) bad = 1;
    }
    s = json_string_value(json_object_get(j, "require-https"));
    md->require_https = !s ? MD_REQUIRE_OFF : !strcmp(s, "permanent") ? MD_REQUIRE_PERMANENT
                        : !strcmp(s, "temporary") ? MD_REQUIRE_TEMPORARY : MD_REQUIRE_OFF;
    md->must_staple = json_flag(j, "must-staple", 0);
    md->stapling = json_flag(j, "stapling", 0);
    if ((v = json_object_get(j, "proto")) != NULL)
        md->acme_tls_1_domains = str_array_from_json(json_object_get(v, "acme-tls/1"), p, &bad);
    if (json_object_get(j, "cert-files"))
        md->cert_files = str_array_from_json(json_object_get(j, "cert-files"), p, &bad);
    if (json_object_get(j, "pkey-files"))
        md->pkey_files = str_array_from_json(json_object_get(j, "pkey-files"), p, &bad);
    md->dns01_cmd = json_str(j, "cmd-dns-01", p);
    md->dns01_version = md_util_json_int(j, "cmd-dns-01-version", INT_MIN, INT_MAX, 1);
    md->proxy_url = json_str(j, "proxy-url", p);
    md->ca_certs = json_str(j, "ca-certs", p);
    if ((v = json_object_get(j, "eab")) != NULL) {
        md->eab_kid = json_str(v, "kid", p);
        md->eab_hmac = json_str(v, "hmac", p);
    }
    md->profile = json_str(j, "profile", p);
    md->profile_mandatory = json_flag(j, "profile-mandatory", 0);
    md->ari_renewals = json_flag(j, "ari-renewals", 1);
    if (bad) { *perr = "a value has the wrong type"; return NULL; }
    if (!md->domains->nelts) { *perr = "no \"domains\""; return NULL; }
    return md;
}

int md_equal_json(const md_t *a, const md_t *b, apr_pool_t *p)
{
    json_t *ja = md_to_json(a, p), *jb = md_to_json(b, p);
    int eq = json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}
