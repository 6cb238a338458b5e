/* md_lock.c: lease locks in a (possibly shared) store; see md_lock.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
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
    md_lock_create_t how;
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

/* Create path with data unless it exists (APR_EEXIST), the way the store's file system allows. */
static apr_status_t create_file(md_lock_create_t how, const char *path, const char *data,
                                apr_pool_t *p)
{
    return how == MD_LOCK_CREATE_EXCL ? md_util_file_create_excl(path, data, strlen(data), 0x0644, p)
                                      : md_util_file_create_atomic(path, data, strlen(data), 0x0644, p);
}

static apr_status_t release_cleanup(void *data)
{
    md_lock_release(data);
    return APR_SUCCESS;
}

apr_status_t md_lock_acquire(md_lock_t **plock, const char *path, const char *node,
                             apr_interval_time_t lease, md_lock_create_t how, apr_pool_t *p,
                             const char **pmsg)
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
    lock->how = how;
    for (attempt = 0; attempt < 2; ++attempt) {
        apr_time_t now = apr_time_now();
        data = content(lock, now, p);
        rv = create_file(how, path, data, p);
        if (rv == APR_SUCCESS) {
            /* Read back: the holder is the one whose token is in the file. Exclusive create
             * is not exclusive everywhere (old NFS clients, caching FUSE file systems). */
            if (!md_lock_is_held(lock, p)) {
                *pmsg = apr_psprintf(p, "%s was created by us but holds another server's token "
                                     "(the file system does not create files exclusively?)", path);
                return APR_EBUSY;
            }
            lock->refreshed = now;
            apr_pool_cleanup_register(p, lock, release_cleanup, apr_pool_cleanup_null);
            *plock = lock;
            *pmsg = why ? apr_psprintf(p, "took over the lock %s: %s", path, why) : NULL;
            return APR_SUCCESS;
        }
        if (!APR_STATUS_IS_EEXIST(rv)) goto failed;
        rv = read_info(&info, path, p);
        if (APR_STATUS_IS_ENOENT(rv)) continue;          /* released meanwhile */
        if (rv != APR_SUCCESS) {
            *pmsg = apr_psprintf(p, "cannot read the lock file %s: %s", path,
                                 apr_strerror(rv, apr_palloc(p, 128), 128));
            return rv;
        }
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
        if (how == MD_LOCK_CREATE_LINK && link(aside, path) == 0) rv = APR_SUCCESS;
        else if (how == MD_LOCK_CREATE_LINK && !md_util_link_refused(APR_FROM_OS_ERROR(errno)))
            rv = APR_EEXIST;                             /* a third server's lock is there */
        else rv = back ? md_util_file_create_excl(path, back, strlen(back), 0x0644, p) : APR_EINVAL;
        if (rv == APR_EINVAL) apr_file_rename(aside, path, p);   /* unreadable: back as it is */
        else apr_file_remove(aside, p);
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

apr_status_t md_lock_acquire_wait(md_lock_t **plock, const char *path, const char *node,
                                  apr_interval_time_t lease, md_lock_create_t how,
                                  apr_interval_time_t wait, apr_pool_t *p, const char **pmsg)
{
    apr_time_t end = apr_time_now() + wait;
    apr_status_t rv;

    while ((rv = md_lock_acquire(plock, path, node, lease, how, p, pmsg)) == APR_EBUSY
           && apr_time_now() < end)
        apr_sleep(apr_time_from_msec(100));
    return rv;
}

/* ---- what the file system offers ---- */

/* Is opt one of the comma-separated options (exactly, or as "opt=...")? */
static int has_option(const char *options, const char *opt)
{
    size_t n = strlen(opt);
    const char *s = options;

    while (s && *s) {
        if (!strncmp(s, opt, n) && (s[n] == ',' || s[n] == '\0')) return 1;
        s = strchr(s, ',');
        if (s) ++s;
    }
    return 0;
}

int md_lock_fs_flock_nodes(const char *fs_type, const char *options)
{
    static const char *const cluster_fs[] = { "gfs2", "ocfs2", "lustre", "gpfs", "ceph", NULL };
    int i;

    if (!fs_type) return 0;
    if (!strncmp(fs_type, "nfs", 3))     /* Linux NFS: flock() becomes a lock on the server */
        return !has_option(options, "nolock") && !has_option(options, "local_lock=all")
               && !has_option(options, "local_lock=flock");
    if (!strcmp(fs_type, "cifs") || !strcmp(fs_type, "smb3"))
        return !has_option(options, "nobrl");
    for (i = 0; cluster_fs[i]; ++i)
        if (!strcmp(fs_type, cluster_fs[i])) return 1;
    return 0;                            /* local, FUSE (sshfs): on this node only */
}

/* The file system type and options of the mount that holds dir (the longest mount point
 * above it in /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS] - TYPE
 * SOURCE SUPEROPTS"). */
static void mount_of(const char *dir, const char **ptype, const char **poptions, apr_pool_t *p)
{
    char real[PATH_MAX], line[4096];
    size_t best = 0;
    FILE *f;

    *ptype = "unknown";
    *poptions = "";
    if (!realpath(dir, real) || !(f = fopen("/proc/self/mountinfo", "r"))) return;
    while (fgets(line, sizeof(line), f)) {
        char *save = NULL, *tok, *mnt = NULL, *opts = NULL, *type = NULL, *super = "";
        int field = 0, after_dash = 0;
        size_t n;

        for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), ++field) {
            if (field == 4) mnt = tok;
            else if (field == 5) opts = tok;
            else if (field > 5 && !after_dash && !strcmp(tok, "-")) after_dash = 1;
            else if (after_dash == 1) { type = tok; after_dash = 2; }
            else if (after_dash == 2) after_dash = 3;            /* the source */
            else if (after_dash == 3) { super = tok; after_dash = 4; }
        }
        if (!mnt || !opts || !type) continue;
        n = strlen(mnt);
        if (!strcmp(mnt, "/")) n = 0;
        else if (strncmp(real, mnt, n) || (real[n] != '/' && real[n] != '\0')) continue;
        if (n >= best) {                 /* the last of equals: mounted over the others */
            best = n;
            *ptype = apr_pstrdup(p, type);
            *poptions = apr_pstrcat(p, opts, ",", super, NULL);
        }
    }
    fclose(f);
}

/* Does flock() on one open file keep out another open file of the same file, here? */
static int flock_excludes(const char *path)
{
    int a = open(path, O_RDONLY), b = open(path, O_RDONLY), works = 0;

    if (a >= 0 && b >= 0 && flock(a, LOCK_EX | LOCK_NB) == 0) {
        works = flock(b, LOCK_EX | LOCK_NB) != 0 && (errno == EWOULDBLOCK || errno == EAGAIN);
        flock(a, LOCK_UN);
    }
    if (a >= 0) close(a);
    if (b >= 0) close(b);
    return works;
}

apr_status_t md_lock_probe(md_lock_fs_t *fs, const char *dir, apr_pool_t *p, const char **perr)
{
    unsigned char rnd[8];
    const char *probe, *linked, *options;
    char buf[128];
    apr_status_t rv;

    memset(fs, 0, sizeof(*fs));
    *perr = NULL;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        *perr = "no random bytes for a probe file name";
        return APR_EGENERAL;
    }
    probe = apr_psprintf(p, "%s/.probe.%s", dir, md_util_base64url_encode(p, rnd, sizeof(rnd)));
    linked = apr_pstrcat(p, probe, ".link", NULL);
    rv = md_util_file_create_excl(probe, "probe\n", 6, 0x0644, p);
    if (rv != APR_SUCCESS) {
        *perr = apr_psprintf(p, "cannot create %s: %s", probe, apr_strerror(rv, buf, sizeof(buf)));
        return rv;
    }
    if (!APR_STATUS_IS_EEXIST(md_util_file_create_excl(probe, "x", 1, 0x0644, p))) {
        *perr = apr_psprintf(p, "the file system of %s does not refuse O_CREAT|O_EXCL of an existing "
                             "file: no lock file can work there", dir);
        rv = APR_EGENERAL;
        goto out;
    }
    if (link(probe, linked) == 0) {
        fs->create = MD_LOCK_CREATE_LINK;
        apr_file_remove(linked, p);
    }
    else {
        fs->create = MD_LOCK_CREATE_EXCL;
        fs->link_refused = apr_pstrdup(p, strerror(errno));
    }
    fs->flock_works = flock_excludes(probe);
    mount_of(dir, &fs->fs_type, &options, p);
    fs->flock_nodes = fs->flock_works && md_lock_fs_flock_nodes(fs->fs_type, options);
out:
    apr_file_remove(probe, p);
    return rv;
}

const char *md_lock_fs_describe(const md_lock_fs_t *fs, apr_pool_t *p)
{
    const char *create = fs->create == MD_LOCK_CREATE_LINK
        ? "lock files are created with link()"
        : apr_psprintf(p, "lock files are created with O_CREAT|O_EXCL, written and read back "
                       "(link() is refused here: %s)", fs->link_refused);
    const char *fl = !fs->flock_works
        ? "flock() does not work here"
        : fs->flock_nodes
        ? "flock() may reach other nodes through the file server, but only the lock files are "
          "relied upon"
        : "flock() keeps out processes on this node only: other nodes are kept apart by the "
          "lock files alone";
    return apr_psprintf(p, "file system %s: %s; %s", fs->fs_type, create, fl);
}

apr_status_t md_lock_store_file(apr_file_t **pfile, const char *store_dir,
                                apr_interval_time_t wait, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, store_dir, "/", MD_LOCK_STORE_FILE, NULL);
    apr_time_t end = apr_time_now() + wait;
    apr_status_t rv;

    *pfile = NULL;
    rv = apr_file_open(pfile, path, APR_FOPEN_CREATE | APR_FOPEN_WRITE, 0x0600, p);
    if (rv != APR_SUCCESS) {
        *pfile = NULL;
        return rv;
    }
    while ((rv = apr_file_lock(*pfile, APR_FLOCK_EXCLUSIVE | APR_FLOCK_NONBLOCK)) != APR_SUCCESS
           && APR_STATUS_IS_EAGAIN(rv) && apr_time_now() < end)
        apr_sleep(apr_time_from_msec(20));
    if (rv != APR_SUCCESS) {
        apr_file_close(*pfile);
        *pfile = NULL;
    }
    return rv;
}

void md_lock_store_file_release(apr_file_t *file)
{
    if (!file) return;
    apr_file_unlock(file);
    apr_file_close(file);
}
