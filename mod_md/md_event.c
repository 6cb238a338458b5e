/* md_event.c: see md_event.h. */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "md_util.h"
#include "md_event.h"

apr_status_t md_event_run_cmd(const char *cmdline, const char *const *extra, int *pexit,
                              apr_pool_t *p, const char **perr)
{
    int argc = 0, n = 0, i;
    const char **argv = md_util_cmdline_split(p, cmdline, &argc), **all;
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_exit_why_e why;
    apr_status_t rv;

    *pexit = -1;
    if (!argv || argc < 1) {
        *perr = apr_psprintf(p, "'%s' is no command", cmdline);
        return APR_EINVAL;
    }
    while (extra && extra[n]) ++n;
    all = apr_pcalloc(p, sizeof(*all) * (apr_size_t)(argc + n + 1));
    for (i = 0; i < argc; ++i) all[i] = argv[i];
    for (i = 0; i < n; ++i) all[argc + i] = extra[i];
    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS
        || (rv = apr_procattr_cmdtype_set(attr, strchr(all[0], '/') ? APR_PROGRAM : APR_PROGRAM_PATH))
           != APR_SUCCESS
        || (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS
        || (rv = apr_procattr_io_set(attr, APR_NO_PIPE, APR_NO_PIPE, APR_NO_PIPE)) != APR_SUCCESS
        || (rv = apr_proc_create(&proc, all[0], all, NULL, attr, p)) != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot run %s: %s", all[0], apr_strerror(rv, apr_palloc(p, 128), 128));
        return rv;
    }
    rv = apr_proc_wait(&proc, pexit, &why, APR_WAIT);
    if (rv != APR_CHILD_DONE) {
        *perr = apr_psprintf(p, "waiting for %s failed", all[0]);
        return rv;
    }
    if (why != APR_PROC_EXIT) {
        *perr = apr_psprintf(p, "%s was killed by signal %d", all[0], *pexit);
        *pexit = -1;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

const char *md_event_cmd_failed(const char *directive, const char *cmdline, int code, apr_pool_t *p)
{
    return apr_psprintf(p, "%s %s failed with exit code %d.", directive, cmdline, code < 0 ? 255 : code);
}

apr_status_t md_event_run(const char *cmdline, const char *event, const char *name,
                              apr_pool_t *p, const char **pdetail, const char **pwhy)
{
    const char *extra[3], *err = NULL;
    int code;
    apr_status_t rv;

    extra[0] = event;
    extra[1] = name;
    extra[2] = NULL;
    rv = md_event_run_cmd(cmdline, extra, &code, p, &err);
    if (rv == APR_SUCCESS && code == 0) return APR_SUCCESS;
    if (rv == APR_SUCCESS) rv = APR_EGENERAL;
    *pdetail = md_event_cmd_failed("MDMessageCmd", cmdline, code, p);
    *pwhy = err ? apr_psprintf(p, "%s (%s)", *pdetail, err) : *pdetail;
    return rv;
}

apr_status_t md_event_send(const char *cmdline, const char *event, const char *name,
                            apr_pool_t *p, const char **perr)
{
    const char *detail;

    *perr = NULL;
    if (!cmdline) return APR_SUCCESS;
    return md_event_run(cmdline, event, name, p, &detail, perr);
}
