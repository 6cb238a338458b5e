/* fuzz_md_lock: lock files of the store (md_lock.c), as another server, a crashed process
 * or a damaged disk may leave them.
 *
 * Byte 0: bit 0 makes the file older than a lease (its mtime), bit 1 creates lock files with
 * O_EXCL instead of link() (md_lock_create_t); the rest is the lock file.
 * md_lock_acquire() then runs against it. Properties: a lock that a live holder still leases
 * (a well-formed file whose lease runs longer, held on another host or by a living process
 * here) is never taken; a refused lock file is left exactly as it was; garbage nobody has
 * touched for a lease is always taken over; a lock we got is ours until we release it, and
 * then the file is gone; nothing is left behind beside it.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"
#include "md_lock.h"
#include "md_util.h"

static const char *dir, *path;
static char host[256];

static void write_seeds(void)
{
    char buf[1024];
    int n;
    static char big[6000];

    n = snprintf(buf, sizeof(buf), "{\n  \"host\": \"%s\",\n  \"node\": \"%s:/etc/apache2\",\n  \"pid\": 1,\n"
                 "  \"token\": \"q2lAcmPD3ZYsUfNQ2fE1Ww\",\n  \"acquired\": \"Tue, 24 Nov 2026 12:41:22 GMT\",\n"
                 "  \"expires\": \"Thu, 01 Jan 2099 00:00:00 GMT\"\n}", host, host);
    fuzz_seed("held-here", 0, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "{\"host\": \"other\", \"node\": \"other:/etc/apache2\", \"pid\": 4711, "
                 "\"token\": \"t\", \"acquired\": \"Tue, 24 Nov 2026 12:41:22 GMT\", "
                 "\"expires\": \"Thu, 01 Jan 2099 00:00:00 GMT\"}");
    fuzz_seed("held-elsewhere", 0, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "{\"host\": \"other\", \"node\": \"other:/etc/apache2\", \"pid\": 4711, "
                 "\"token\": \"t\", \"acquired\": \"Tue, 24 Nov 2020 12:41:22 GMT\", "
                 "\"expires\": \"Tue, 24 Nov 2020 12:41:52 GMT\"}");
    fuzz_seed("expired", 0, buf, (size_t)n);
    n = snprintf(buf, sizeof(buf), "{\"host\": \"%s\", \"node\": \"x\", \"pid\": 2147483646, \"token\": \"t\", "
                 "\"expires\": \"Thu, 01 Jan 2099 00:00:00 GMT\"}", host);
    fuzz_seed("holder-gone", 0, buf, (size_t)n);
    fuzz_seed("garbage-old", 1, "\x00\x01garbage", 9);
    fuzz_seed("garbage-new", 0, "{\"host\": 1}", 11);
    memset(big, 'x', sizeof(big));
    fuzz_seed("garbage-big-old", 1, big, sizeof(big));
    _exit(0);
}

/* Does the file say that a live holder leases it for a while yet? (what md_lock must respect) */
static int validly_held(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *h, *node, *token;
    long pid;
    apr_time_t expires;
    int held = 0;

    if (json_is_object(j)) {
        h = json_string_value(json_object_get(j, "host"));
        node = json_string_value(json_object_get(j, "node"));
        token = json_string_value(json_object_get(j, "token"));
        pid = json_is_integer(json_object_get(j, "pid")) ? (long)json_integer_value(json_object_get(j, "pid")) : 0;
        expires = md_util_time_parse(json_string_value(json_object_get(j, "expires")));
        held = h && node && token && pid > 0 && expires > apr_time_now() + apr_time_from_sec(5)
               && (strcmp(h, host) || !(kill((pid_t)pid, 0) != 0 && errno == ESRCH));
    }
    json_decref(j);
    return held;
}

static void check_no_litter(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    FUZZ_ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL) FUZZ_ASSERT(!strstr(e->d_name, ".stale."));
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    md_lock_t *lock = NULL;
    const char *msg = NULL, *text;
    char *after;
    apr_size_t alen = 0;
    apr_status_t rv;
    FILE *f;

    if (!dir) {
        fuzz_init_begin();
        fuzz_root();
        dir = fuzz_tmpdir();
        path = apr_pstrcat(fuzz_root(), dir, "/example.org.lock", NULL);
        if (gethostname(host, sizeof(host)) != 0) strcpy(host, "unknown");
        host[sizeof(host) - 1] = '\0';
        if (fuzz_seeds_wanted()) write_seeds();
        fuzz_init_end();
    }
    if (size < 1) return 0;
    p = fuzz_run_pool();
    unlink(path);
    if (!(f = fopen(path, "wb")) || fwrite(data + 1, 1, size - 1, f) != size - 1 || fclose(f)) abort();
    if (data[0] & 1) {
        struct timeval old[2];
        gettimeofday(&old[0], NULL);
        old[0].tv_sec -= 2 * apr_time_sec(MD_LOCK_LEASE);
        old[1] = old[0];
        utimes(path, old);
    }
    text = fuzz_str(p, data + 1, size - 1);

    rv = md_lock_acquire(&lock, path, "fuzz:/etc/apache2", MD_LOCK_LEASE,
                         (data[0] & 2) ? MD_LOCK_CREATE_EXCL : MD_LOCK_CREATE_LINK, p, &msg);
    if (rv == APR_SUCCESS) {
        FUZZ_ASSERT(size - 1 > 4096 || !validly_held(text));
        FUZZ_ASSERT(md_lock_is_held(lock, p));
        FUZZ_ASSERT(md_lock_refresh(lock, 1, p) == APR_SUCCESS && md_lock_is_held(lock, p));
        md_lock_release(lock);
        FUZZ_ASSERT(access(path, F_OK) != 0);
    }
    else {
        FUZZ_ASSERT(msg && *msg);
        if (rv == APR_EBUSY) {
            FUZZ_ASSERT(md_util_file_read(&after, &alen, path, 1 << 20, p) == APR_SUCCESS);
            FUZZ_ASSERT(alen == size - 1 && !memcmp(after, data + 1, alen));
        }
        /* garbage untouched for longer than a lease is taken over */
        FUZZ_ASSERT(!(data[0] & 1) || (size - 1 <= 4096 && validly_held(text)));
    }
    check_no_litter();
    fuzz_run_end(p);
    return 0;
}
