/* mod_md_config.c: see mod_md_config.h.
 *
 * Every directive is server-config only. Directives marked "M" in the manual may also be
 * written inside <MDomain>/<MDomainSet>, where they set the value for that MD only; at the
 * global level they set the default of every MD (md_t "defaults", merged in mod_md.c).
 */
#include <string.h>
#include <stdlib.h>
#include <errno.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "md.h"
#include "md_hot.h"
#include "md_store.h"
#include "md_tailscale.h"
#include "mod_md_config.h"

extern module AP_MODULE_DECLARE_DATA md_module;

#define MD_SECTION_NAME "<MDomainSet"
#define MD_SECTION_ALIAS "<MDomain"

md_mod_conf_t *mod_md_mod_conf_get(apr_pool_t *pconf)
{
    md_mod_conf_t *mc;
    void *data;

    apr_pool_userdata_get(&data, "md_module_conf", pconf);
    if (data) return data;
    mc = apr_pcalloc(pconf, sizeof(*mc));
    mc->mds = apr_array_make(pconf, 5, sizeof(md_t *));
    mc->defaults = md_create_empty(pconf);
    mc->base_dir = "md";
    mc->local_80 = 80;
    mc->local_443 = 443;
    mc->check_interval = apr_time_from_sec(12 * 3600);
    mc->retry_delay = apr_time_from_sec(5);
    mc->retry_failover = 13;
    mc->renew_jobs = 16;
    mc->hot_slot_size = MD_HOT_SLOT_SIZE_DEFAULT;
    mc->lock_wait_timeout = apr_time_from_sec(5);
    mc->server_status_enabled = 0;     /* MDServerStatus off, as with the reference */
    mc->certificate_status_enabled = 1;
    mc->cert_check_name = "crt.sh";
    mc->cert_check_url = "https://crt.sh?q=";
    mc->staple_others = 1;
    mc->stapling_keep = apr_time_from_sec(7 * 86400);
    mc->ocsp_renew_window = apr_pcalloc(pconf, sizeof(md_timeslice_t));
    mc->ocsp_renew_window->norm = 100;
    mc->ocsp_renew_window->len = 33;
    apr_pool_userdata_set(mc, "md_module_conf", apr_pool_cleanup_null, pconf);
    return mc;
}

void *mod_md_config_create_svr(apr_pool_t *p, server_rec *s)
{
    md_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    (void)s;
    sc->mc = mod_md_mod_conf_get(p);
    return sc;
}

void *mod_md_config_merge_svr(apr_pool_t *p, void *basev, void *addv)
{
    md_srv_conf_t *add = addv, *sc = apr_pcalloc(p, sizeof(*sc));
    (void)basev;
    sc->mc = add->mc;
    return sc;
}

md_srv_conf_t *mod_md_config_get(server_rec *s)
{
    return ap_get_module_config(s->module_config, &md_module);
}

/* ---- helpers ---- */

static md_srv_conf_t *cmd_sc(cmd_parms *cmd)
{
    return mod_md_config_get(cmd->server);
}

static int in_section(cmd_parms *cmd)
{
    return cmd_sc(cmd)->current != NULL;
}

/* As with the reference, every directive may be written at the global level and inside
 * <VirtualHost>; httpd itself refuses the RSRC_CONF ones in <Directory>, <Location>, <If>.
 * Directives that apply to the whole server are refused inside <MDomain> (section_ok 0),
 * in the reference's words. */
static const char *check_context(cmd_parms *cmd, int section_ok)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIRECTORY | NOT_IN_LOCATION);
    if (err) return err;
    if (!section_ok && in_section(cmd))
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " is not allowed inside an '",
                           MD_SECTION_NAME, "' context (<MDomain>): it applies to the whole "
                           "server; write it outside of the section", NULL);
    return NULL;
}

/* The md_t a per-MD directive sets: the section's MD or the global defaults. Written in a
 * <VirtualHost> (outside <MDomain>), an MD setting is accepted and has no effect, as with
 * the reference (its MDs take their settings from the global level and their section). */
static md_t *target_md(cmd_parms *cmd)
{
    md_srv_conf_t *sc = cmd_sc(cmd);
    if (sc->current) return sc->current;
    if (cmd->server->is_virtual) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, APLOGNO(10918)
                     "%s in <VirtualHost> (%s:%d) has no effect: MD settings apply at the "
                     "global level or inside <MDomain NAME>", cmd->cmd->name,
                     cmd->directive->filename, cmd->directive->line_num);
        if (!sc->vhost_ignored) sc->vhost_ignored = md_create_empty(cmd->pool);
        return sc->vhost_ignored;
    }
    return sc->mc->defaults;
}

static const char *bad_value(cmd_parms *cmd, const char *value, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: invalid value '%s': %s", cmd->cmd->name, value, why);
}

static const char *parse_flag(cmd_parms *cmd, const char *value, int *pflag)
{
    if (!strcasecmp(value, "on")) *pflag = 1;
    else if (!strcasecmp(value, "off")) *pflag = 0;
    else return apr_psprintf(cmd->pool, "%s: unknown '%s', supported parameter values are 'on' "
                             "and 'off'", cmd->cmd->name, value);
    return NULL;
}

/* A plain number counts in the unit the reference gives this directive (md_util_plain_unit). */
static const char *parse_duration(cmd_parms *cmd, const char *value, apr_interval_time_t *pd)
{
    const char *def_unit = md_util_plain_unit(cmd->cmd->name);
    const char *why = md_util_parse_duration(value, def_unit, pd);
    if (!why) return NULL;
    return apr_psprintf(cmd->pool, "%s: unrecognized duration format '%s': %s (durations are "
                        "like 30s, 10mi, 12h, 7d, 500ms; a plain number counts %s)",
                        cmd->cmd->name, value, why,
                        strcmp(def_unit, MD_UNIT_DAYS) ? "seconds" : "days");
}

/* MDRenewWindow, MDWarnWindow, MDStaplingRenewWindow: "N%" of the lifetime or a duration. */
static const char *parse_timeslice(cmd_parms *cmd, const char *value, md_timeslice_t **pts)
{
    md_timeslice_t *ts = apr_pcalloc(cmd->pool, sizeof(*ts));
    const char *why = md_util_parse_timeslice(value, ts);
    if (why && !strcmp(why, MD_TIMESLICE_TOO_LONG))
        return apr_psprintf(cmd->pool, "%s %s%s ('%s': a window of the whole lifetime would renew "
                            "at once, again and again; use a share below 100%%, e.g. 33%%)",
                            cmd->cmd->name, strcmp(cmd->cmd->name, "MDStaplingRenewWindow")
                            ? "" : "with ", why, value);
    if (why && !strcmp(why, MD_PERCENT_NEGATIVE))
        return apr_psprintf(cmd->pool, "%s %s and not negative: '%s'", cmd->cmd->name, why, value);
    if (why)
        return apr_psprintf(cmd->pool, "%s has unrecognized format '%s': %s (use a duration like "
                            "21d, a plain number of days, or a share of the lifetime like 33%%)",
                            cmd->cmd->name, value, why);
    *pts = ts;
    return NULL;
}

/* A name that cannot even be a directory of the store (domains/<name>/) can never work. */
static const char *name_unusable(const char *name)
{
    if (!*name) return "an empty name";
    if (!strcmp(name, ".") || !strcmp(name, "..") || strpbrk(name, "/\\"))
        return "'/', '\\', '.' and '..' cannot be part of a domain name (it names a directory "
               "of the store)";
    return NULL;
}

/* MD names are not judged here beyond that: the CA decides which names it certifies (a
 * private CA may take names a public one refuses); its answer shows in md-status. */
static const char *add_domain_names(cmd_parms *cmd, md_t *md, int argc, char *const argv[])
{
    int i;
    for (i = 0; i < argc; ++i) {
        const char *problem = name_unusable(argv[i]);
        const char *ip = md_util_ip_canonical(cmd->pool, argv[i]);
        if (problem) return bad_value(cmd, argv[i], problem);
        md_util_array_add_unique(md->domains, ip ? ip : argv[i]);
    }
    return NULL;
}

static int is_mode_word(const char *s)
{
    return !strcasecmp(s, "auto") || !strcasecmp(s, "manual");
}

/* ---- MDomain, <MDomainSet>, MDMember(s) ---- */

static md_t *new_md(cmd_parms *cmd)
{
    md_t *md = md_create_empty(cmd->pool);
    md->defn_name = cmd->directive->filename;
    md->defn_line = (unsigned)cmd->directive->line_num;
    return md;
}

static const char *register_md(cmd_parms *cmd, md_t *md)
{
    if (!md->domains->nelts)
        return apr_psprintf(cmd->pool, "%s needs at least one domain name", cmd->cmd->name);
    md->name = APR_ARRAY_IDX(md->domains, 0, const char *);
    APR_ARRAY_PUSH(cmd_sc(cmd)->mc->mds, md_t *) = md;
    return NULL;
}

static const char *set_mdomain(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = check_context(cmd, 0);
    md_t *md;

    (void)dc;
    if (err) return err;
    md = new_md(cmd);
    if (argc > 0 && is_mode_word(argv[argc - 1])) {
        md->transitive = !strcasecmp(argv[argc - 1], "auto");
        --argc;
    }
    if ((err = add_domain_names(cmd, md, argc, argv))) return err;
    return register_md(cmd, md);
}

static const char *section_mdomain(cmd_parms *cmd, void *dc, const char *arg)
{
    md_srv_conf_t *sc = cmd_sc(cmd);
    const char *endp = ap_strrchr_c(arg, '>'), *err;
    char *args, *word;
    apr_array_header_t *names;
    md_t *md;
    int i;

    (void)dc;
    if ((err = check_context(cmd, 0))) return err;
    if (!endp)
        return apr_pstrcat(cmd->pool, MD_SECTION_NAME, "> directive missing closing '>'", NULL);
    args = apr_pstrndup(cmd->pool, arg, (apr_size_t)(endp - arg));
    names = apr_array_make(cmd->pool, 5, sizeof(char *));
    md = new_md(cmd);
    while (*(word = ap_getword_conf(cmd->pool, (const char **)&args)) != '\0') {
        APR_ARRAY_PUSH(names, char *) = word;
    }
    if (names->nelts > 1 && is_mode_word(APR_ARRAY_IDX(names, names->nelts - 1, char *))) {
        md->transitive = !strcasecmp(APR_ARRAY_IDX(names, names->nelts - 1, char *), "auto");
        --names->nelts;
    }
    if (!names->nelts)
        return apr_pstrcat(cmd->pool, MD_SECTION_NAME, " > section must specify a unique domain "
                           "name, e.g. ", cmd->cmd->name, " example.org>", NULL);
    for (i = 0; i < names->nelts; ++i) {
        if ((err = add_domain_names(cmd, md, 1, &APR_ARRAY_IDX(names, i, char *)))) return err;
    }
    md->has_section = 1;
    sc->current = md;
    err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
    sc->current = NULL;
    if (err) return err;
    return register_md(cmd, md);
}

#define MODE_WORDS "unknown value, use \"auto|manual\""

static const char *set_member(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    if (!in_section(cmd)) {
        if (argc != 1 || !is_mode_word(argv[0]))
            return apr_psprintf(cmd->pool, "%s outside of <MDomain>: " MODE_WORDS " (the default "
                                "for MDMembers), not '%s'%s; names go inside <MDomain NAME>",
                                cmd->cmd->name, argc ? argv[0] : "", argc > 1 ? " ..." : "");
        target_md(cmd)->transitive = !strcasecmp(argv[0], "auto");
        return NULL;
    }
    if (argc == 1 && is_mode_word(argv[0])) {
        cmd_sc(cmd)->current->transitive = !strcasecmp(argv[0], "auto");
        return NULL;
    }
    return add_domain_names(cmd, cmd_sc(cmd)->current, argc, argv);
}

static const char *set_members(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    if (!is_mode_word(value))
        return apr_psprintf(cmd->pool, "%s: " MODE_WORDS ", not '%s'", cmd->cmd->name, value);
    target_md(cmd)->transitive = !strcasecmp(value, "auto");
    return NULL;
}

static const char *set_match_names(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "all")) cmd_sc(cmd)->mc->match_servernames = 0;
    else if (!strcasecmp(value, "servernames")) cmd_sc(cmd)->mc->match_servernames = 1;
    else return apr_psprintf(cmd->pool, "%s: invalid argument, must be a 'all' or 'servernames', "
                             "not '%s'", cmd->cmd->name, value);
    return NULL;
}

/* ---- CA ---- */

static const char *const known_cas[][3] = {
    { "LetsEncrypt", "https://acme-v02.api.letsencrypt.org/directory" },
    { "LetsEncrypt-Test", "https://acme-staging-v02.api.letsencrypt.org/directory" },
    { "Buypass", "https://api.buypass.com/acme/directory" },
    { "Buypass-Test", "https://api.test4.buypass.no/acme/directory" },
};

/* The URL of a CA name or URL, or NULL with the reason in *pwhy. As with the reference, a
 * URL of any scheme passes (the CA is asked later); an absolute path is ours only: the
 * socket of tailscaled for MDCertificateProtocol tailscale. */
static const char *ca_url(apr_pool_t *p, const char *name, const char **pwhy)
{
    size_t i;

    for (i = 0; i < sizeof(known_cas) / sizeof(known_cas[0]); ++i) {
        if (!strcasecmp(name, known_cas[i][0])) return known_cas[i][1];
    }
    if (name[0] == '/') return apr_pstrcat(p, "file://localhost", name, NULL); /* a socket */
    *pwhy = md_util_uri_problem(p, name);
    return *pwhy ? NULL : name;
}

const char *mod_md_config_ca_url(apr_pool_t *p, const char *name)
{
    const char *why;
    return ca_url(p, name, &why);
}

static const char *set_ca(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = check_context(cmd, 1), *why = NULL;
    apr_array_header_t *urls;
    int i;

    (void)dc;
    if (err) return err;
    if (argc < 1) return NULL;              /* as the reference: nothing changes */
    urls = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        const char *url = ca_url(cmd->pool, argv[i], &why), *proto = target_md(cmd)->ca_proto;
        if (!proto) proto = cmd_sc(cmd)->mc->defaults->ca_proto;
        if (url && argv[i][0] == '/' && !md_tailscale_is_proto(proto))
            return apr_psprintf(cmd->pool, "%s: The CA name '%s' is not known and it is not a URL "
                                "either (missing uri scheme). A plain path is the socket of "
                                "tailscaled: write 'MDCertificateProtocol tailscale' before it",
                                cmd->cmd->name, argv[i]);
        if (!url)
            return apr_psprintf(cmd->pool, "%s: The CA name '%s' is not known and it is not a URL "
                                "either (%s). Known CA names are: LetsEncrypt LetsEncrypt-Test "
                                "Buypass Buypass-Test.", cmd->cmd->name, argv[i], why);
        APR_ARRAY_PUSH(urls, const char *) = url;
    }
    target_md(cmd)->ca_urls = urls;
    return NULL;
}

static const char *set_ca_proto(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "ACME")) target_md(cmd)->ca_proto = "ACME";
    else if (!strcasecmp(value, "tailscale")) target_md(cmd)->ca_proto = "tailscale";
    else return apr_psprintf(cmd->pool, "%s: unknown CA protocol '%s'; use ACME or tailscale",
                             cmd->cmd->name, value);
    return NULL;
}

/* 'accepted', or the URL of the CA's terms of service (the older form, kept in md.json as
 * the reference keeps it). Anything else can never work: refused now, in the words the
 * reference logs when it renews. */
static const char *set_agreement(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1), *why;
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "accepted")) {
        target_md(cmd)->ca_agreement = "accepted";
        return NULL;
    }
    if ((why = md_util_uri_problem(cmd->pool, value)) != NULL)
        return apr_psprintf(cmd->pool, "%s: invalid agreement uri (%s): %s; use 'accepted' (or "
                            "the URL of the CA's terms of service)", cmd->cmd->name, why, value);
    target_md(cmd)->ca_agreement = value;
    return NULL;
}

/* Any value, as with the reference: the CA judges the address. */
static const char *set_contact(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    md_t *md = target_md(cmd);
    (void)dc;
    if (err) return err;
    if (!strncasecmp(value, "mailto:", 7)) value += 7;
    md->contacts = apr_array_make(cmd->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(md->contacts, const char *) = apr_pstrcat(cmd->pool, "mailto:", value, NULL);
    return NULL;
}

static const char *set_challenges(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    static const char *const known[] = { "http-01", "tls-alpn-01", "dns-01" };
    const char *err = check_context(cmd, 1);
    apr_array_header_t *list;
    size_t k;
    int i;

    (void)dc;
    if (err) return err;
    if (argc < 1) {                         /* as the reference: the default types */
        target_md(cmd)->ca_challenges = NULL;
        return NULL;
    }
    list = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; ++i) {
        for (k = 0; k < sizeof(known) / sizeof(known[0]); ++k) {
            if (!strcasecmp(argv[i], known[k])) break;
        }
        if (k == sizeof(known) / sizeof(known[0]))
            return apr_psprintf(cmd->pool, "%s: unknown challenge type '%s'; use http-01, "
                                "tls-alpn-01 or dns-01 (a CA offers none of the types it does "
                                "not know: challenge-mismatch)", cmd->cmd->name, argv[i]);
        md_util_array_add_unique(list, known[k]);
    }
    target_md(cmd)->ca_challenges = list;
    return NULL;
}

/* "http:N", "https:N", "80:N", "443:N"; N is a port or '-' (not reachable). The reference
 * reads N with strtol (trailing text is ignored) and the schemes in lower case only. */
static const char *parse_port_map(cmd_parms *cmd, const char *value)
{
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    const char *port;
    char *end;
    long from, n;

    if (!strncmp(value, "http:", 5)) {
        from = 80;
        port = value + 5;
    }
    else if (!strncmp(value, "https:", 6)) {
        from = 443;
        port = value + 6;
    }
    else {
        from = strtol(value, &end, 10);
        if (end == value || *end != ':')
            return bad_value(cmd, value, "no ':' after first port number; use 80:PORT, 443:PORT, "
                             "http:PORT or https:PORT (PORT may be '-')");
        if (from != 80 && from != 443)
            return bad_value(cmd, value, "mapped port number must be 80 or 443");
        port = end + 1;
    }
    if (!strcmp(port, "-")) {
        *(from == 80 ? &mc->local_80 : &mc->local_443) = -1;
        return NULL;
    }
    n = strtol(port, &end, 10);
    if (n <= 0 || n > 65535)
        return bad_value(cmd, value, "invalid number for port map, must be in ]0,65535] "
                         "(or '-': not reachable)");
    *(from == 80 ? &mc->local_80 : &mc->local_443) = (int)n;
    return NULL;
}

static const char *set_port_map(cmd_parms *cmd, void *dc, const char *v1, const char *v2)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    if (err) return err;
    if ((err = parse_port_map(cmd, v1))) return err;
    return v2 ? parse_port_map(cmd, v2) : NULL;
}

/* A program line; empty means none, as with the reference. */
static const char *set_cmd_line(cmd_parms *cmd, const char *line, const char **pline)
{
    int argc = 0;
    md_util_cmdline_split(cmd->pool, line, &argc);
    *pline = argc > 0 ? line : NULL;
    return NULL;
}

static const char *set_dns01_cmd(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    return set_cmd_line(cmd, value, &target_md(cmd)->dns01_cmd);
}

static const char *set_dns01_version(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    if (err) return err;
    if (strcmp(value, "1") && strcmp(value, "2"))
        return apr_psprintf(cmd->pool, "%s: Only versions `1` and `2` are supported, not '%s'",
                            cmd->cmd->name, value);
    target_md(cmd)->dns01_version = atoi(value);
    return NULL;
}

static const char *set_pkeys(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    const char *err = check_context(cmd, 1), *why;
    apr_array_header_t *specs;
    (void)dc;
    if (err) return err;
    if (argc < 1)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " needs to specify the private key type, "
                           "e.g. RSA 2048 or P-256", NULL);
    why = md_pkey_specs_parse(cmd->pool, argc, argv, &specs);
    if (why) return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
    target_md(cmd)->pkey_specs = specs;
    return NULL;
}

static const char *set_renew_mode(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    md_t *md = target_md(cmd);
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "auto") || !strcasecmp(value, "automatic")) md->renew_mode = MD_RENEW_AUTO;
    else if (!strcasecmp(value, "always")) md->renew_mode = MD_RENEW_ALWAYS;
    else if (!strcasecmp(value, "manual")) md->renew_mode = MD_RENEW_MANUAL;
    else return apr_psprintf(cmd->pool, "%s: unknown MDDriveMode %s (use always, auto or manual; "
                             "MDDriveMode is the old name of MDRenewMode)", cmd->cmd->name, value);
    return NULL;
}

static const char *set_renew_window(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    return err ? err : parse_timeslice(cmd, value, &target_md(cmd)->renew_window);
}

static const char *set_warn_window(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    return err ? err : parse_timeslice(cmd, value, &target_md(cmd)->warn_window);
}

#define GLOBAL_DURATION(fn, field)                                                 \
static const char *fn(cmd_parms *cmd, void *dc, const char *value)                \
{                                                                                 \
    const char *err = check_context(cmd, 0);                                      \
    (void)dc;                                                                     \
    return err ? err : parse_duration(cmd, value, &cmd_sc(cmd)->mc->field);       \
}
GLOBAL_DURATION(set_activation_delay, activation_delay)

static const char *set_retry_delay(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    (void)dc;
    if (err || (err = parse_duration(cmd, value, &mc->retry_delay))) return err;
    if (mc->retry_delay <= 0)
        return apr_psprintf(cmd->pool, "%s: minimum delay must be greater than 0, not '%s'",
                            cmd->cmd->name, value);
    return NULL;
}

static const char *set_initial_delay(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    (void)dc;
    if (err || (err = parse_duration(cmd, value, &mc->initial_delay))) return err;
    if (mc->initial_delay < 0)
        return apr_psprintf(cmd->pool, "%s: initial delay must not be negative, not '%s'",
                            cmd->cmd->name, value);
    return NULL;
}

static const char *set_check_interval(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    (void)dc;
    if (err || (err = parse_duration(cmd, value, &mc->check_interval))) return err;
    if (mc->check_interval < apr_time_from_sec(1))
        return bad_value(cmd, value, "check interval cannot be less than one second");
    return NULL;
}

/* How long OCSP responses are kept: a duration (a plain number is days) or, as with the
 * reference, "N%" of the default of seven days. */
static const char *set_stapling_keep(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1), *why;
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    long n;
    (void)dc;
    if (err) return err;
    why = md_util_parse_duration(value, MD_UNIT_DAYS, &mc->stapling_keep);
    if (!why) return NULL;
    if (md_util_parse_percent(value, &n) == NULL) {
        mc->stapling_keep = apr_time_from_sec(7 * 86400) / 100 * n;
        return NULL;
    }
    if (!strcmp(md_util_parse_percent(value, &n), MD_PERCENT_NEGATIVE))
        return apr_psprintf(cmd->pool, "%s %s and not negative: '%s'", cmd->cmd->name,
                            MD_PERCENT_NEGATIVE, value);
    return apr_psprintf(cmd->pool, "%s has unrecognized format '%s': %s (use a duration like 7d, "
                        "a plain number of days, or a share of 7 days like 50%%)",
                        cmd->cmd->name, value, why);
}

/* A whole number in [min, max] for a global directive. */
static const char *parse_int(cmd_parms *cmd, const char *value, long min, long max,
                             const char *hint, int *pn)
{
    const char *err = check_context(cmd, 0);
    char *end;
    long n;
    if (err) return err;
    errno = 0;
    n = strtol(value, &end, 10);
    if (!*value || *end || errno || n < min || n > max)
        return apr_psprintf(cmd->pool, "%s: %s, not '%s'", cmd->cmd->name, hint, value);
    *pn = (int)n;
    return NULL;
}

/* As the reference reads it: the leading number counts, text after it is ignored. */
static const char *set_retry_failover(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    long n;
    (void)dc;
    if (err) return err;
    n = strtol(value, NULL, 10);
    if (n <= 0 || n > 1000000)
        return apr_psprintf(cmd->pool, "%s: invalid argument, must be a number > 0 (errors before "
                            "the next CA is tried), not '%s'", cmd->cmd->name, value);
    cmd_sc(cmd)->mc->retry_failover = (int)n;
    return NULL;
}

static const char *set_renew_jobs(cmd_parms *cmd, void *dc, const char *value)
{
    (void)dc;
    return parse_int(cmd, value, 1, 256, "invalid argument, must be a number of renewals "
                     "between 1 and 256", &cmd_sc(cmd)->mc->renew_jobs);
}

/* Also allowed in <If> and <Files> (not in <Directory>/<Location>), as with the reference. */
static const char *set_require_https(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    md_t *md = target_md(cmd);
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "off")) md->require_https = MD_REQUIRE_OFF;
    else if (!strcasecmp(value, "temporary")) md->require_https = MD_REQUIRE_TEMPORARY;
    else if (!strcasecmp(value, "permanent")) md->require_https = MD_REQUIRE_PERMANENT;
    else return apr_psprintf(cmd->pool, "%s: unknown '%s', supported parameter values are "
                             "'temporary' and 'permanent' (and 'off')", cmd->cmd->name, value);
    return NULL;
}

#define MD_FLAG(fn, field)                                                        \
static const char *fn(cmd_parms *cmd, void *dc, const char *value)                \
{                                                                                 \
    const char *err = check_context(cmd, 1);                                      \
    (void)dc;                                                                     \
    return err ? err : parse_flag(cmd, value, &target_md(cmd)->field);            \
}
MD_FLAG(set_must_staple, must_staple)
MD_FLAG(set_stapling, stapling)
MD_FLAG(set_profile_mandatory, profile_mandatory)
MD_FLAG(set_ari, ari_renewals)

static const char *set_activation(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    md_t *md = target_md(cmd);
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "graceful")) md->activation = MD_ACTIVATION_GRACEFUL;
    else if (!strcasecmp(value, "hot")) md->activation = MD_ACTIVATION_HOT;
    else return bad_value(cmd, value, "use 'graceful' (at the next restart) or 'hot' (at once)");
    return NULL;
}

static const char *set_activation_slot_size(cmd_parms *cmd, void *dc, const char *value)
{
    (void)dc;
    return parse_int(cmd, value, MD_HOT_SLOT_SIZE_MIN, MD_HOT_SLOT_SIZE_MAX,
                     apr_psprintf(cmd->pool, "a size in bytes from %d to %d", MD_HOT_SLOT_SIZE_MIN,
                                  MD_HOT_SLOT_SIZE_MAX), &cmd_sc(cmd)->mc->hot_slot_size);
}

#define GLOBAL_FLAG(fn, field)                                                    \
static const char *fn(cmd_parms *cmd, void *dc, const char *value)                \
{                                                                                 \
    const char *err = check_context(cmd, 0);                                      \
    (void)dc;                                                                     \
    return err ? err : parse_flag(cmd, value, &cmd_sc(cmd)->mc->field);           \
}
GLOBAL_FLAG(set_base_server, manage_base_server)

/* Module-wide switches the reference takes inside <MDomain> too (for the whole server). */
#define SERVER_FLAG(fn, field)                                                    \
static const char *fn(cmd_parms *cmd, void *dc, const char *value)                \
{                                                                                 \
    const char *err = check_context(cmd, 1);                                      \
    (void)dc;                                                                     \
    return err ? err : parse_flag(cmd, value, &cmd_sc(cmd)->mc->field);           \
}
SERVER_FLAG(set_server_status, server_status_enabled)
SERVER_FLAG(set_certificate_status, certificate_status_enabled)
SERVER_FLAG(set_staple_others, staple_others)

static const char *set_notify_cmd(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    return err ? err : set_cmd_line(cmd, value, &cmd_sc(cmd)->mc->notify_cmd);
}

static const char *set_message_cmd(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    return err ? err : set_cmd_line(cmd, value, &cmd_sc(cmd)->mc->message_cmd);
}

/* A file that must exist and be readable now, relative to ServerRoot. not_found: the
 * reference's words for a file that is missing (or no regular file). */
static const char *existing_file(cmd_parms *cmd, const char *value, const char **ppath)
{
    const char *path = ap_server_root_relative(cmd->pool, value);
    apr_finfo_t fi;
    apr_status_t rv;

    if (!path) return bad_value(cmd, value, "not a valid path");
    rv = apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool);
    if (rv != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "%s: file not found: %s (%s)", cmd->cmd->name, path,
                            apr_strerror(rv, apr_palloc(cmd->pool, 128), 128));
    if (fi.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "%s: file not found: %s is not a regular file",
                            cmd->cmd->name, path);
    *ppath = path;
    return NULL;
}

static const char *add_file(cmd_parms *cmd, const char *value, apr_array_header_t **plist)
{
    const char *path, *err = existing_file(cmd, value, &path);
    if (err) return err;
    if (!*plist) *plist = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(*plist, const char *) = path;
    return NULL;
}

/* MDCertificateFile / MDCertificateKeyFile: cmd->info says which list the file goes to. */
static const char *set_static_file(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    int is_key = cmd->info != NULL;
    md_t *md = target_md(cmd);
    (void)dc;
    if (err) return err;
    if (!in_section(cmd))
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " is only valid inside a '", MD_SECTION_NAME,
                           "' context, not here: a static ", is_key ? "key" : "certificate",
                           " is for one managed domain, write it inside <MDomain NAME>", NULL);
    return add_file(cmd, value, is_key ? &md->pkey_files : &md->cert_files);
}

static const char *set_store_dir(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    (void)dc;
    if (err) return err;
    if (!*value) return bad_value(cmd, value, "the path is empty");
    cmd_sc(cmd)->mc->base_dir = value;
    return NULL;
}

static const char *set_store_locks(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 0);
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    apr_interval_time_t d;
    (void)dc;
    if (err) return err;
    if (!strcasecmp(value, "on")) mc->use_store_locks = 1;
    else if (!strcasecmp(value, "off")) mc->use_store_locks = 0;
    else if (md_util_parse_duration(value, md_util_plain_unit(cmd->cmd->name), &d) != NULL)
        return apr_psprintf(cmd->pool, "%s: neither 'on', 'off' or a duration specified: '%s' "
                            "(e.g. 10s, a plain number counts seconds)", cmd->cmd->name, value);
    else {
        mc->use_store_locks = 1;
        mc->lock_wait_timeout = d > 0 ? d : 0;
    }
    return NULL;
}

static const char *set_proxy(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1), *why;
    apr_uri_t uri;
    (void)dc;
    if (err) return err;
    if ((why = md_util_uri_problem(cmd->pool, value)) != NULL)
        return apr_psprintf(cmd->pool, "%s: invalid proxy URL '%s': %s (use e.g. "
                            "http://proxy.local:3128)", cmd->cmd->name, value, why);
    if (apr_uri_parse(cmd->pool, value, &uri) != APR_SUCCESS
        || (strcasecmp(uri.scheme, "http") && strcasecmp(uri.scheme, "https")))
        return apr_psprintf(cmd->pool, "%s: invalid proxy URL '%s': uri scheme must be http or "
                            "https", cmd->cmd->name, value);
    target_md(cmd)->proxy_url = value;
    return NULL;
}

/* The trust anchors for talking to the CA; inside <MDomain> for that MD only. As with the
 * reference, a file that does not exist yet is no configuration error: connections fail
 * (and say so in md-status) until it does. */
static const char *ca_file_path(cmd_parms *cmd, const char *value, const char **ppath)
{
    const char *path = ap_server_root_relative(cmd->pool, value);
    if (!path) return bad_value(cmd, value, "not a valid path");
    if (!md_util_file_exists(path, cmd->pool))
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, APLOGNO(10917)
                     "%s: the file %s does not exist (yet): connections that need it fail "
                     "until it does", cmd->cmd->name, path);
    *ppath = path;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    if (in_section(cmd)) return ca_file_path(cmd, value, &cmd_sc(cmd)->current->ca_certs);
    return ca_file_path(cmd, value, &cmd_sc(cmd)->mc->ca_certs_file);
}

static const char *set_proxy_ca_file(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    return err ? err : ca_file_path(cmd, value, &cmd_sc(cmd)->mc->proxy_ca_certs_file);
}

/* The EAB key id and HMAC key, or a JSON file {"kid": ..., "hmac": ...}, or 'none'. The
 * HMAC may be base64url or standard base64 (with padding); one that decodes to nothing can
 * never work and is refused now (the reference fails at the first renewal). */
static const char *set_eab(cmd_parms *cmd, void *dc, const char *v1, const char *v2)
{
    const char *err = check_context(cmd, 1), *path;
    md_t *md = target_md(cmd);
    unsigned char *raw;
    (void)dc;
    if (err) return err;
    if (!v2 || !*v2) {
        json_t *j;
        const char *kid, *hmac;
        if (!strcasecmp(v1, "none")) {
            md->eab_kid = "none";
            md->eab_hmac = NULL;
            return NULL;
        }
        if ((err = existing_file(cmd, v1, &path))) return err;
        if (md_json_read_file(&j, path, cmd->pool, &err) != APR_SUCCESS)
            return apr_psprintf(cmd->pool, "%s: error reading JSON file %s: %s", cmd->cmd->name,
                                path, err);
        kid = json_string_value(json_object_get(j, "kid"));
        hmac = json_string_value(json_object_get(j, "hmac"));
        if (!kid || !*kid)
            return apr_psprintf(cmd->pool, "%s: JSON does not contain 'kid' element in file %s "
                                "(it must hold {\"kid\": \"...\", \"hmac\": \"...\"})",
                                cmd->cmd->name, path);
        if (!hmac || !*hmac)
            return apr_psprintf(cmd->pool, "%s: JSON does not contain 'hmac' element in file %s "
                                "(it must hold {\"kid\": \"...\", \"hmac\": \"...\"})",
                                cmd->cmd->name, path);
        v1 = apr_pstrdup(cmd->pool, kid);
        v2 = apr_pstrdup(cmd->pool, hmac);
    }
    if (md_util_base64url_decode(cmd->pool, v2, &raw) <= 0)
        return apr_psprintf(cmd->pool, "%s: external account binding HMAC value is not valid "
                            "base64: '%s' (give the key as base64url or standard base64)",
                            cmd->cmd->name, v2);
    md->eab_kid = v1;
    md->eab_hmac = v2;
    return NULL;
}

static const char *set_profile(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    if (err) return err;
    target_md(cmd)->profile = value;    /* the CA knows its profiles */
    return NULL;
}

static const char *set_cert_check(cmd_parms *cmd, void *dc, const char *name, const char *url)
{
    const char *err = check_context(cmd, 1);
    md_mod_conf_t *mc = cmd_sc(cmd)->mc;
    (void)dc;
    if (err) return err;
    mc->cert_check_name = name;
    mc->cert_check_url = url;
    return NULL;
}

static const char *set_ocsp_renew_window(cmd_parms *cmd, void *dc, const char *value)
{
    const char *err = check_context(cmd, 1);
    (void)dc;
    return err ? err : parse_timeslice(cmd, value, &cmd_sc(cmd)->mc->ocsp_renew_window);
}

#define M_TAKE1(name, fn, help) AP_INIT_TAKE1(name, fn, NULL, RSRC_CONF, help)
#define M_ITERATE(name, fn, help) AP_INIT_TAKE_ARGV(name, fn, NULL, RSRC_CONF, help)

const command_rec mod_md_cmds[] = {
    M_ITERATE("MDomain", set_mdomain, "a managed domain: dns-name... [auto|manual]"),
    AP_INIT_RAW_ARGS(MD_SECTION_NAME, section_mdomain, NULL, RSRC_CONF,
                     "container for settings of one managed domain"),
    AP_INIT_RAW_ARGS(MD_SECTION_ALIAS, section_mdomain, NULL, RSRC_CONF,
                     "short form of <MDomainSet>"),
    M_ITERATE("MDMember", set_member, "an additional name of the managed domain"),
    M_TAKE1("MDMembers", set_members, "auto|manual: add names of matching hosts"),
    M_TAKE1("MDMatchNames", set_match_names, "all|servernames: host names matched against MDs"),
    M_ITERATE("MDCertificateAuthority", set_ca, "ACME directory URLs or CA names"),
    M_TAKE1("MDCertificateProtocol", set_ca_proto, "ACME|tailscale"),
    M_TAKE1("MDCertificateAgreement", set_agreement, "accepted: the CA's terms of service"),
    M_TAKE1("MDContactEmail", set_contact, "e-mail address for the CA account"),
    M_ITERATE("MDCAChallenges", set_challenges, "challenge types to use, in order"),
    AP_INIT_TAKE12("MDPortMap", set_port_map, NULL, RSRC_CONF, "http:N|- https:N|-"),
    AP_INIT_RAW_ARGS("MDChallengeDns01", set_dns01_cmd, NULL, RSRC_CONF, "program for dns-01"),
    M_TAKE1("MDChallengeDns01Version", set_dns01_version, "1|2"),
    M_ITERATE("MDPrivateKeys", set_pkeys, "key types: RSA [bits], secp256r1, ..."),
    M_TAKE1("MDRenewMode", set_renew_mode, "always|auto|manual"),
    M_TAKE1("MDDriveMode", set_renew_mode, "old name of MDRenewMode"),
    M_TAKE1("MDRenewWindow", set_renew_window, "duration or N% of the lifetime"),
    M_TAKE1("MDWarnWindow", set_warn_window, "duration or N% of the lifetime"),
    M_TAKE1("MDRetryDelay", set_retry_delay, "delay after an error, doubled per error"),
    M_TAKE1("MDRetryFailover", set_retry_failover, "errors before the next CA is tried"),
    M_TAKE1("MDRenewJobs", set_renew_jobs, "how many MDs are renewed at the same time"),
    M_TAKE1("MDCheckInterval", set_check_interval, "how often the driver looks"),
    M_TAKE1("MDInitialDelay", set_initial_delay, "delay before the first check"),
    M_TAKE1("MDActivationDelay", set_activation_delay, "minimum age of a staged certificate"),
    M_TAKE1("MDActivation", set_activation, "graceful|hot: when staged certificates go live"),
    M_TAKE1("MDActivationSlotSize", set_activation_slot_size, "bytes of shared memory per MD"),
    AP_INIT_TAKE1("MDRequireHttps", set_require_https, NULL, RSRC_CONF | ACCESS_CONF,
                  "off|temporary|permanent"),
    M_TAKE1("MDMustStaple", set_must_staple, "on|off"),
    AP_INIT_RAW_ARGS("MDNotifyCmd", set_notify_cmd, NULL, RSRC_CONF, "program run after renewal"),
    AP_INIT_RAW_ARGS("MDMessageCmd", set_message_cmd, NULL, RSRC_CONF, "program run on events"),
    AP_INIT_TAKE1("MDCertificateFile", set_static_file, NULL, RSRC_CONF, "static certificate file of the MD"),
    AP_INIT_TAKE1("MDCertificateKeyFile", set_static_file, "key", RSRC_CONF, "static key file of the MD"),
    M_TAKE1("MDStoreDir", set_store_dir, "store directory"),
    M_TAKE1("MDStoreLocks", set_store_locks, "on|off|duration"),
    M_TAKE1("MDBaseServer", set_base_server, "on|off: may the main server be managed"),
    M_TAKE1("MDHttpProxy", set_proxy, "proxy URL for outgoing connections"),
    M_TAKE1("MDCACertificateFile", set_ca_file, "trust anchors for the CA connection"),
    M_TAKE1("MDHttpProxyCACertificateFile", set_proxy_ca_file, "trust anchors for the proxy"),
    AP_INIT_TAKE12("MDExternalAccountBinding", set_eab, NULL, RSRC_CONF, "kid hmac | file | none"),
    M_TAKE1("MDProfile", set_profile, "ACME profile name"),
    M_TAKE1("MDProfileMandatory", set_profile_mandatory, "on|off"),
    M_TAKE1("MDRenewViaARI", set_ari, "on|off"),
    M_TAKE1("MDServerStatus", set_server_status, "on|off"),
    M_TAKE1("MDCertificateStatus", set_certificate_status, "on|off"),
    AP_INIT_TAKE2("MDCertificateCheck", set_cert_check, NULL, RSRC_CONF, "name url"),
    AP_INIT_TAKE2("MDCertificateMonitor", set_cert_check, NULL, RSRC_CONF, "name url"),
    M_TAKE1("MDStapling", set_stapling, "on|off"),
    M_TAKE1("MDStapleOthers", set_staple_others, "on|off"),
    M_TAKE1("MDStaplingKeepResponse", set_stapling_keep, "duration"),
    M_TAKE1("MDStaplingRenewWindow", set_ocsp_renew_window, "duration or N%"),
    { NULL }
};
