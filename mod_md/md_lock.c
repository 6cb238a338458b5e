/* md_lock.c: lease locks in a (possibly shared) store; see md_lock.h for the rules. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "md_lock.h"
#include "md_util.h"

#define LOCK_MAX_SIZE 4096

struct md_lock_t {
    apr_pool_t *p;
    const char *path;
    const char *node;
    const char *token;
    apr_interval_time_t lease;
    apr_time_t refreshed;             /* written by md_lock_refresh only */
    int released;
    int from_self;                    /* taken over from a dead process of this node */
};

/* What a lock file says; ok is 0 for garbage. */
typedef struct {
    int ok;
    const char *host, *node, *token;
    long pid;
    apr_time_t expires;
    char *raw;                        /* the bytes read */
    apr_time_t mtime;
} lock_info_t;

static const char *this_host(apr_pool_t *p)
{
    char name[256];
    if (gethostname(name, sizeof(name)) != 0) return "unknown";
    name[sizeof(name) - 1] = '\0';
    return apr_pstrdup(p, name);
}

static apr_status_t read_info(lock_info_t *info, const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;
    json_t *j;
    apr_status_t rv;

    memset(info, 0, sizeof(*info));
    rv = md_util_file_read(&info->raw, NULL, path, LOCK_MAX_SIZE, p);
    if (rv == APR_EINVAL) info->raw = "";          /* too big: garbage */
    else if (rv != APR_SUCCESS) return rv;
    if (apr_stat(&fi, path, APR_FINFO_MTIME, p) == APR_SUCCESS) info->mtime = fi.mtime;
    j = json_loads(info->raw, 0, NULL);
    if (j && json_is_object(j)) {
        info->host = apr_pstrdup(p, json_string_value(json_object_get(j, "host")));
        info->node = apr_pstrdup(p, json_string_value(json_object_get(j, "node")));
        info->token = apr_pstrdup(p, json_string_value(json_object_get(j, "token")));
        info->pid = json_is_integer(json_object_get(j, "pid")) ? (long)json_integer_value(json_object_get(j, "pid")) : 0;
        info->expires = md_util_time_parse(json_string_value(json_object_get(j, "expires")));
        info->ok = info->host && info->node && info->token && info->pid > 0 && info->expires;
    }
    json_decref(j);
    return APR_SUCCESS;
}

static int process_gone(long pid)
{
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Why the lock in info may be taken over now, or NULL when its holder's lease is valid. */
static const char *stale_reason(const lock_info_t *info, apr_interval_time_t lease, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();

    if (!info->ok)
        return info->mtime && now - info->mtime > lease
               ? apr_psprintf(p, "it is not a lock file of ours (garbage), untouched since %s",
                              md_util_time_format(p, info->mtime))
               : NULL;
    if (info->expires < now)
        return apr_psprintf(p, "the lease of %s (pid %ld on %s) expired on %s", info->node,
                            info->pid, info->host, md_util_time_format(p, info->expires));
    if (!strcmp(info->host, this_host(p)) && process_gone(info->pid))
        return apr_psprintf(p, "its holder %s (pid %ld on this host) no longer exists",
                            info->node, info->pid);
    return NULL;
}

static const char *busy_msg(const char *path, const lock_info_t *info, apr_interval_time_t lease,
                            apr_pool_t *p)
{
    if (!info->ok)
        return apr_psprintf(p, "%s is garbage (not a lock file of ours); it is taken over when "
                            "nobody has touched it for %s", path, md_util_duration_format(p, lease));
    return apr_psprintf(p, "held by %s (pid %ld on %s) until %s", info->node, info->pid,
                        info->host, md_util_time_format(p, info->expires));
}

static char *content(const md_lock_t *lock, apr_time_t now, apr_pool_t *p)
{
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "host", this_host(p), "node", lock->node,
                          "pid", (json_int_t)getpid(), "token", lock->token,
                          "acquired", md_util_time_format(p, now),
                          "expires", md_util_time_format(p, now + lock->lease));
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *r = apr_pstrdup(p, s);
    free(s);
    json_decref(j);
    return r;
}

static apr_status_t release_cleanup(void *data)
{
    md_lock_release(data);
    return APR_SUCCESS;
}

apr_status_t md_lock_acquire(md_lock_t **plock, const char *path, const char *node,
                             apr_interval_time_t lease, apr_pool_t *p, const char **pmsg)
{
    md_lock_t *lock = apr_pcalloc(p, sizeof(*lock));
    unsigned char rnd[16];
    lock_info_t info;
    const char *why = NULL, *aside, *data;
    char *back;
    apr_status_t rv;
    int attempt;

    *plock = NULL;
    *pmsg = NULL;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        *pmsg = "no random bytes for the lock token";
        return APR_EGENERAL;
    }
    lock->p = p;
    lock->path = apr_pstrdup(p, path);
    lock->node = apr_pstrdup(p, node);
    lock->token = md_util_base64url_encode(p, rnd, sizeof(rnd));
    lock->lease = lease;
    for (attempt = 0; attempt < 2; ++attempt) {
        apr_time_t now = apr_time_now();
        data = content(lock, now, p);
        rv = md_util_file_create_atomic(path, data, strlen(data), 0x0644, p);
        if (rv == APR_SUCCESS) {
            lock->refreshed = now;
            apr_pool_cleanup_register(p, lock, release_cleanup, apr_pool_cleanup_null);
            *plock = lock;
            *pmsg = why ? apr_psprintf(p, "took over the lock %s: %s", path, why) : NULL;
            return APR_SUCCESS;
        }
        if (!APR_STATUS_IS_EEXIST(rv)) goto failed;
        rv = read_info(&info, path, p);
        if (APR_STATUS_IS_ENOENT(rv)) continue;          /* released meanwhile */
        if (rv != APR_SUCCESS) goto failed;
        if (attempt || !(why = stale_reason(&info, lease, p))) {
            *pmsg = busy_msg(path, &info, lease, p);
            return APR_EBUSY;
        }
        lock->from_self = info.ok && !strcmp(info.node, node) && !strcmp(info.host, this_host(p))
                          && process_gone(info.pid);
        /* Take the stale file aside and make sure it is the one judged stale: another
         * server may have replaced it between our read and the rename. */
        aside = apr_psprintf(p, "%s.stale.%s", path, lock->token);
        if (rename(path, aside) != 0) continue;          /* someone else moved it first */
        rv = md_util_file_read(&back, NULL, aside, LOCK_MAX_SIZE, p);
        if (rv == APR_EINVAL) {
            back = "";                   /* too big: the garbage read_info() judged */
            rv = APR_SUCCESS;
        }
        if (rv == APR_SUCCESS && !strcmp(back, info.raw)) {
            apr_file_remove(aside, p);
            continue;
        }
        /* It was a fresh lock of another server: put it back. Should a third server have
         * created one meanwhile, the one we moved has lost; its holder learns that at its
         * next refresh (md_lock_refresh) and stops before it writes anything. */
        rv = link(aside, path) == 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
        apr_file_remove(aside, p);
        *pmsg = apr_psprintf(p, "%s was just taken by another server", path);
        return APR_EBUSY;
    }
    *pmsg = apr_psprintf(p, "%s is contended by several servers", path);
    return APR_EBUSY;
failed:
    *pmsg = apr_psprintf(p, "cannot create the lock file %s: %s", path,
                         apr_strerror(rv, apr_palloc(p, 128), 128));
    return rv;
}

int md_lock_is_held(md_lock_t *lock, apr_pool_t *ptemp)
{
    lock_info_t info;
    return lock && !lock->released && read_info(&info, lock->path, ptemp) == APR_SUCCESS
           && info.ok && !strcmp(info.token, lock->token);
}

apr_status_t md_lock_refresh(md_lock_t *lock, int force, apr_pool_t *ptemp)
{
    apr_time_t now = apr_time_now();
    const char *data;
    apr_status_t rv;

    if (!force && now - lock->refreshed < MD_LOCK_REFRESH) return APR_SUCCESS;
    if (!md_lock_is_held(lock, ptemp)) return APR_EBUSY;
    data = content(lock, now, ptemp);
    rv = md_util_file_write_atomic(lock->path, data, strlen(data), 0x0644, ptemp);
    if (rv == APR_SUCCESS) lock->refreshed = now;
    return rv;
}

void md_lock_release(md_lock_t *lock)
{
    apr_pool_t *p;

    if (!lock || lock->released) return;
    apr_pool_create_unmanaged(&p);
    if (md_lock_is_held(lock, p)) apr_file_remove(lock->path, p);
    apr_pool_destroy(p);
    lock->released = 1;
}

int md_lock_from_self(const md_lock_t *lock)
{
    return lock->from_self;
}
