/* Unit tests of md_lock: lease locks shared by the servers of one store, and store.lock. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <jansson.h>
#include "md_unit.h"
#include "md_lock.h"
#include "md_util.h"

static const char *lock_path(void)
{
    return apr_pstrcat(pool, tmp_dir(), "/example.org.lock", NULL);
}

static void write_lock(const char *path, const char *host, long pid, apr_time_t expires)
{
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "host", host, "node", "other:/srv",
                          "pid", (json_int_t)pid, "token", "t0k3n", "acquired",
                          md_util_time_format(pool, apr_time_now()),
                          "expires", md_util_time_format(pool, expires));
    char *s = json_dumps(j, 0);
    ck_assert_int_eq(md_util_file_write_atomic(path, s, strlen(s), 0x0644, pool), APR_SUCCESS);
    free(s);
    json_decref(j);
}

static const char *hostname(void)
{
    char h[256];
    ck_assert_int_eq(gethostname(h, sizeof(h)), 0);
    return apr_pstrdup(pool, h);
}

static long dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    return (long)pid;
}

START_TEST(create_atomic_only_once)
{
    const char *path = apr_pstrcat(pool, tmp_dir(), "/f", NULL);
    char *data;
    ck_assert_int_eq(md_util_file_create_atomic(path, "one", 3, 0x0600, pool), APR_SUCCESS);
    ck_assert(APR_STATUS_IS_EEXIST(md_util_file_create_atomic(path, "two", 3, 0x0600, pool)));
    ck_assert_int_eq(md_util_file_read(&data, NULL, path, 100, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "one");
}
END_TEST

START_TEST(acquire_busy_release)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a, *b;
    char *data;

    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(md_util_file_read(&data, NULL, path, 4096, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(data, "node-a"));
    ck_assert_int_eq(md_lock_acquire(&b, path, "node-b", MD_LOCK_LEASE, how, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "node-a"));
    ck_assert(md_lock_is_held(a, pool));
    md_lock_release(a);
    ck_assert(!md_util_file_exists(path, pool));
    ck_assert_int_eq(md_lock_acquire(&b, path, "node-b", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
}
END_TEST

START_TEST(released_with_its_pool)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    apr_pool_t *p;
    md_lock_t *a;

    apr_pool_create(&p, pool);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, p, &msg), APR_SUCCESS);
    ck_assert(md_util_file_exists(path, pool));
    apr_pool_destroy(p);
    ck_assert(!md_util_file_exists(path, pool));
}
END_TEST

START_TEST(expired_lease_taken_over)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    write_lock(path, "gone.example", 4242, apr_time_now() - apr_time_from_sec(5));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "expired"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

START_TEST(valid_lease_elsewhere_is_busy)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    /* a live lease of another host: its pid means nothing here */
    write_lock(path, "other.example", dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "other.example"));
    /* this host, live process */
    write_lock(path, hostname(), (long)getpid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_EBUSY);
}
END_TEST

START_TEST(dead_holder_on_this_host_taken_over)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    write_lock(path, hostname(), dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "no longer exists"));
    ck_assert(!md_lock_from_self(a));                  /* written by "other:/srv" */
    md_lock_release(a);
    write_lock(path, hostname(), dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "other:/srv", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert(md_lock_from_self(a));
}
END_TEST

START_TEST(garbage_taken_over_only_when_old)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    ck_assert_int_eq(md_util_file_write_atomic(path, "\x01garbage{", 9, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert_int_eq(apr_file_mtime_set(path, apr_time_now() - MD_LOCK_LEASE - apr_time_from_sec(1),
                                        pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

/* found by fuzz/fuzz_md_lock: garbage larger than a lock file can be was never taken over
 * (compared as "" when judged, as unreadable when taken aside), blocking renewals for good */
START_TEST(big_garbage_taken_over_when_old)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    char *big = apr_palloc(pool, 10000);
    md_lock_t *a;

    memset(big, 'x', 10000);
    ck_assert_int_eq(md_util_file_write_atomic(path, big, 10000, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_EBUSY);
    ck_assert_int_eq(apr_file_mtime_set(path, apr_time_now() - MD_LOCK_LEASE - apr_time_from_sec(1),
                                        pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, how, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

START_TEST(refresh_extends_and_detects_loss)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path(), *msg;
    md_lock_t *a;
    char *before, *after;

    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", apr_time_from_sec(2), how, pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&before, NULL, path, 4096, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_refresh(a, 0, pool), APR_SUCCESS);     /* not due: unchanged */
    apr_sleep(apr_time_from_msec(1100));
    ck_assert_int_eq(md_lock_refresh(a, 1, pool), APR_SUCCESS);
    ck_assert_int_eq(md_util_file_read(&after, NULL, path, 4096, pool), APR_SUCCESS);
    ck_assert_str_ne(before, after);
    /* another server took it over */
    write_lock(path, "other.example", 1, apr_time_now() + apr_time_from_sec(20));
    ck_assert(!md_lock_is_held(a, pool));
    ck_assert_int_eq(md_lock_refresh(a, 1, pool), APR_EBUSY);
    md_lock_release(a);                      /* leaves the other's file alone */
    ck_assert(md_util_file_exists(path, pool));
}
END_TEST

START_TEST(racing_processes_one_winner)
{
    md_lock_create_t how = (md_lock_create_t)_i;   /* each test runs with link() and O_EXCL */
    const char *path = lock_path();
    int i, winners = 0, status;
    pid_t pids[8];

    /* a stale lock that eight processes try to take over at once */
    write_lock(path, "gone.example", 4242, apr_time_now() - apr_time_from_sec(5));
    for (i = 0; i < 8; ++i) {
        if ((pids[i] = fork()) == 0) {
            apr_pool_t *p;
            md_lock_t *l;
            const char *msg;
            apr_pool_create(&p, NULL);
            if (md_lock_acquire(&l, path, "racer", MD_LOCK_LEASE, how, p, &msg) == APR_SUCCESS) {
                apr_sleep(apr_time_from_msec(300));      /* hold it while the others try */
                _exit(md_lock_is_held(l, p) ? 10 : 11);
            }
            _exit(0);
        }
    }
    for (i = 0; i < 8; ++i) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_ne(WEXITSTATUS(status), 11);
        if (WEXITSTATUS(status) == 10) ++winners;
    }
    ck_assert_int_eq(winners, 1);
}
END_TEST

START_TEST(create_excl_only_once)
{
    const char *path = apr_pstrcat(pool, tmp_dir(), "/f", NULL);
    char *data;
    apr_finfo_t fi;
    ck_assert_int_eq(md_util_file_create_excl(path, "one", 3, 0x0600, pool), APR_SUCCESS);
    ck_assert(APR_STATUS_IS_EEXIST(md_util_file_create_excl(path, "two", 3, 0x0600, pool)));
    ck_assert_int_eq(md_util_file_read(&data, NULL, path, 100, pool), APR_SUCCESS);
    ck_assert_str_eq(data, "one");
    ck_assert_int_eq(apr_stat(&fi, path, APR_FINFO_PROT, pool), APR_SUCCESS);
    ck_assert_int_eq(fi.protection & 0x0077, 0);
    /* what link() says when a file system refuses hard links, as opposed to a conflict */
    ck_assert(md_util_link_refused(APR_FROM_OS_ERROR(EPERM)));
    ck_assert(md_util_link_refused(APR_FROM_OS_ERROR(EXDEV)));
    ck_assert(md_util_link_refused(APR_FROM_OS_ERROR(ENOTSUP)));
    ck_assert(!md_util_link_refused(APR_FROM_OS_ERROR(EEXIST)));
    ck_assert(!md_util_link_refused(APR_FROM_OS_ERROR(ENOENT)));
}
END_TEST

START_TEST(excl_lock_being_written_is_busy)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    /* another server has just created the file with O_EXCL and not written it yet */
    ck_assert_int_eq(md_util_file_create_excl(path, "", 0, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, MD_LOCK_CREATE_EXCL, pool,
                                     &msg), APR_EBUSY);
    ck_assert_ptr_null(a);
    ck_assert(md_util_file_exists(path, pool));
}
END_TEST

START_TEST(acquire_wait_gets_it_when_released)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a, *b;
    apr_time_t start;
    pid_t pid;
    int status;

    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, MD_LOCK_CREATE_LINK, pool,
                                     &msg), APR_SUCCESS);
    start = apr_time_now();
    ck_assert_int_eq(md_lock_acquire_wait(&b, path, "node-b", MD_LOCK_LEASE, MD_LOCK_CREATE_LINK,
                                          apr_time_from_msec(300), pool, &msg), APR_EBUSY);
    ck_assert(apr_time_now() - start >= apr_time_from_msec(300));
    ck_assert_ptr_nonnull(strstr(msg, "held by node-a"));
    if ((pid = fork()) == 0) {                    /* the holder lets go after 300 ms */
        apr_sleep(apr_time_from_msec(300));
        unlink(path);
        _exit(0);
    }
    ck_assert_int_eq(md_lock_acquire_wait(&b, path, "node-b", MD_LOCK_LEASE, MD_LOCK_CREATE_EXCL,
                                          apr_time_from_sec(5), pool, &msg), APR_SUCCESS);
    ck_assert(md_lock_is_held(b, pool));
    ck_assert(!md_lock_is_held(a, pool));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

START_TEST(store_file_waits_then_is_busy)
{
    const char *dir = tmp_dir();
    apr_file_t *a, *b;
    apr_time_t start;
    apr_status_t rv;

    ck_assert_int_eq(md_lock_store_file(&a, dir, 0, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(a);
    ck_assert(md_util_file_exists(apr_pstrcat(pool, dir, "/store.lock", NULL), pool));
    /* a second open file (another server) waits for as long as it was told, then gives up */
    start = apr_time_now();
    rv = md_lock_store_file(&b, dir, apr_time_from_msec(300), pool);
    ck_assert_msg(APR_STATUS_IS_EAGAIN(rv), "status %d", rv);
    ck_assert(apr_time_now() - start >= apr_time_from_msec(300));
    ck_assert(apr_time_now() - start < apr_time_from_sec(3));
    ck_assert_ptr_null(b);
    /* without a wait it tries once */
    start = apr_time_now();
    ck_assert(APR_STATUS_IS_EAGAIN(md_lock_store_file(&b, dir, 0, pool)));
    ck_assert(apr_time_now() - start < apr_time_from_msec(200));
    md_lock_store_file_release(a);
    ck_assert_int_eq(md_lock_store_file(&b, dir, 0, pool), APR_SUCCESS);
    md_lock_store_file_release(b);
    md_lock_store_file_release(NULL);
}
END_TEST

START_TEST(store_file_gets_it_when_released)
{
    const char *dir = tmp_dir();
    apr_file_t *a, *b;
    apr_time_t start;
    pid_t pid;
    int status, ready[2];
    char c;

    ck_assert_int_eq(pipe(ready), 0);
    if ((pid = fork()) == 0) {                    /* another server holds it for 300 ms */
        if (md_lock_store_file(&a, dir, 0, pool) != APR_SUCCESS) _exit(1);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        apr_sleep(apr_time_from_msec(300));
        md_lock_store_file_release(a);
        _exit(0);
    }
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    start = apr_time_now();
    ck_assert_int_eq(md_lock_store_file(&b, dir, apr_time_from_sec(5), pool), APR_SUCCESS);
    ck_assert(apr_time_now() - start >= apr_time_from_msec(200));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    md_lock_store_file_release(b);
    close(ready[0]);
    close(ready[1]);
}
END_TEST

START_TEST(store_file_in_missing_dir_fails)
{
    apr_file_t *a = (apr_file_t *)&a;
    apr_status_t rv = md_lock_store_file(&a, apr_pstrcat(pool, tmp_dir(), "/none", NULL),
                                         apr_time_from_sec(5), pool);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert(!APR_STATUS_IS_EAGAIN(rv));
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(probe_local_file_system)
{
    const char *dir = tmp_dir(), *err, *text;
    md_lock_fs_t fs;
    apr_dir_t *d;
    apr_finfo_t fi;
    int n = 0;

    ck_assert_int_eq(md_lock_probe(&fs, dir, pool, &err), APR_SUCCESS);
    ck_assert_int_eq(fs.create, MD_LOCK_CREATE_LINK);
    ck_assert_ptr_null(fs.link_refused);
    ck_assert(fs.flock_works);
    ck_assert(!fs.flock_nodes);
    ck_assert_str_ne(fs.fs_type, "unknown");
    text = md_lock_fs_describe(&fs, pool);
    ck_assert_ptr_nonnull(strstr(text, "created with link()"));
    ck_assert_ptr_nonnull(strstr(text, "this node only"));
    /* it leaves nothing behind */
    ck_assert_int_eq(apr_dir_open(&d, dir, pool), APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, d) == APR_SUCCESS)
        if (strcmp(fi.name, ".") && strcmp(fi.name, "..")) ++n;
    apr_dir_close(d);
    ck_assert_int_eq(n, 0);
    /* a directory that is not there */
    ck_assert_int_ne(md_lock_probe(&fs, apr_pstrcat(pool, dir, "/missing", NULL), pool, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "/missing"));
}
END_TEST

START_TEST(probe_describes_excl)
{
    md_lock_fs_t fs = { MD_LOCK_CREATE_EXCL, "Operation not permitted", "fuse.sshfs", 1, 0 };
    const char *text = md_lock_fs_describe(&fs, pool);
    ck_assert_ptr_nonnull(strstr(text, "fuse.sshfs"));
    ck_assert_ptr_nonnull(strstr(text, "O_CREAT|O_EXCL"));
    ck_assert_ptr_nonnull(strstr(text, "Operation not permitted"));
    fs.flock_works = 0;
    ck_assert_ptr_nonnull(strstr(md_lock_fs_describe(&fs, pool), "flock() does not work"));
}
END_TEST

START_TEST(flock_reaches_nodes_rules)
{
    ck_assert(md_lock_fs_flock_nodes("nfs4", "rw,relatime,vers=4.2,rsize=1048576"));
    ck_assert(md_lock_fs_flock_nodes("nfs", "rw,vers=3,hard"));
    ck_assert(!md_lock_fs_flock_nodes("nfs", "rw,vers=3,nolock"));
    ck_assert(!md_lock_fs_flock_nodes("nfs4", "rw,local_lock=all,vers=4.1"));
    ck_assert(!md_lock_fs_flock_nodes("nfs4", "rw,local_lock=flock"));
    ck_assert(md_lock_fs_flock_nodes("nfs4", "rw,local_lock=posix"));
    ck_assert(md_lock_fs_flock_nodes("cifs", "rw,vers=3.1.1"));
    ck_assert(!md_lock_fs_flock_nodes("cifs", "rw,nobrl"));
    ck_assert(!md_lock_fs_flock_nodes("fuse.sshfs", "rw,nosuid,user_id=0"));
    ck_assert(!md_lock_fs_flock_nodes("ext4", "rw,relatime"));
    ck_assert(!md_lock_fs_flock_nodes("tmpfs", ""));
    ck_assert(md_lock_fs_flock_nodes("gfs2", "rw"));
    ck_assert(!md_lock_fs_flock_nodes(NULL, NULL));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("md_lock");
    TCase *tc = tcase_create("lock");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, create_atomic_only_once);
    tcase_add_test(tc, create_excl_only_once);
    tcase_add_test(tc, excl_lock_being_written_is_busy);
    tcase_add_test(tc, acquire_wait_gets_it_when_released);
    tcase_add_test(tc, store_file_waits_then_is_busy);
    tcase_add_test(tc, store_file_gets_it_when_released);
    tcase_add_test(tc, store_file_in_missing_dir_fails);
    tcase_add_test(tc, probe_local_file_system);
    tcase_add_test(tc, probe_describes_excl);
    tcase_add_test(tc, flock_reaches_nodes_rules);
    tcase_add_loop_test(tc, acquire_busy_release, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, released_with_its_pool, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, expired_lease_taken_over, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, valid_lease_elsewhere_is_busy, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, dead_holder_on_this_host_taken_over, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, garbage_taken_over_only_when_old, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, refresh_extends_and_detects_loss, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, racing_processes_one_winner, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    tcase_add_loop_test(tc, big_garbage_taken_over_when_old, MD_LOCK_CREATE_LINK, MD_LOCK_CREATE_EXCL + 1);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
