/* Unit tests of md_lock: lease locks shared by the servers of one store. */
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
    const char *path = lock_path(), *msg;
    md_lock_t *a, *b;
    char *data;

    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_null(msg);
    ck_assert_int_eq(md_util_file_read(&data, NULL, path, 4096, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(data, "node-a"));
    ck_assert_int_eq(md_lock_acquire(&b, path, "node-b", MD_LOCK_LEASE, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "node-a"));
    ck_assert(md_lock_is_held(a, pool));
    md_lock_release(a);
    ck_assert(!md_util_file_exists(path, pool));
    ck_assert_int_eq(md_lock_acquire(&b, path, "node-b", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
}
END_TEST

START_TEST(released_with_its_pool)
{
    const char *path = lock_path(), *msg;
    apr_pool_t *p;
    md_lock_t *a;

    apr_pool_create(&p, pool);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, p, &msg), APR_SUCCESS);
    ck_assert(md_util_file_exists(path, pool));
    apr_pool_destroy(p);
    ck_assert(!md_util_file_exists(path, pool));
}
END_TEST

START_TEST(expired_lease_taken_over)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    write_lock(path, "gone.example", 4242, apr_time_now() - apr_time_from_sec(5));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "expired"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

START_TEST(valid_lease_elsewhere_is_busy)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    /* a live lease of another host: its pid means nothing here */
    write_lock(path, "other.example", dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "other.example"));
    /* this host, live process */
    write_lock(path, hostname(), (long)getpid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_EBUSY);
}
END_TEST

START_TEST(dead_holder_on_this_host_taken_over)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    write_lock(path, hostname(), dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "no longer exists"));
    ck_assert(!md_lock_from_self(a));                  /* written by "other:/srv" */
    md_lock_release(a);
    write_lock(path, hostname(), dead_pid(), apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(md_lock_acquire(&a, path, "other:/srv", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert(md_lock_from_self(a));
}
END_TEST

START_TEST(garbage_taken_over_only_when_old)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;

    ck_assert_int_eq(md_util_file_write_atomic(path, "\x01garbage{", 9, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_EBUSY);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert_int_eq(apr_file_mtime_set(path, apr_time_now() - MD_LOCK_LEASE - apr_time_from_sec(1),
                                        pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

/* found by fuzz/fuzz_md_lock: garbage larger than a lock file can be was never taken over
 * (compared as "" when judged, as unreadable when taken aside), blocking renewals for good */
START_TEST(big_garbage_taken_over_when_old)
{
    const char *path = lock_path(), *msg;
    char *big = apr_palloc(pool, 10000);
    md_lock_t *a;

    memset(big, 'x', 10000);
    ck_assert_int_eq(md_util_file_write_atomic(path, big, 10000, 0x0644, pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_EBUSY);
    ck_assert_int_eq(apr_file_mtime_set(path, apr_time_now() - MD_LOCK_LEASE - apr_time_from_sec(1),
                                        pool), APR_SUCCESS);
    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", MD_LOCK_LEASE, pool, &msg), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(msg, "garbage"));
    ck_assert(md_lock_is_held(a, pool));
}
END_TEST

START_TEST(refresh_extends_and_detects_loss)
{
    const char *path = lock_path(), *msg;
    md_lock_t *a;
    char *before, *after;

    ck_assert_int_eq(md_lock_acquire(&a, path, "node-a", apr_time_from_sec(2), pool, &msg), APR_SUCCESS);
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
            if (md_lock_acquire(&l, path, "racer", MD_LOCK_LEASE, p, &msg) == APR_SUCCESS) {
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

static Suite *suite(void)
{
    Suite *s = suite_create("md_lock");
    TCase *tc = tcase_create("lock");
    tcase_add_checked_fixture(tc, pool_setup, pool_teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, create_atomic_only_once);
    tcase_add_test(tc, acquire_busy_release);
    tcase_add_test(tc, released_with_its_pool);
    tcase_add_test(tc, expired_lease_taken_over);
    tcase_add_test(tc, valid_lease_elsewhere_is_busy);
    tcase_add_test(tc, dead_holder_on_this_host_taken_over);
    tcase_add_test(tc, garbage_taken_over_only_when_old);
    tcase_add_test(tc, big_garbage_taken_over_when_old);
    tcase_add_test(tc, refresh_extends_and_detects_loss);
    tcase_add_test(tc, racing_processes_one_winner);
    suite_add_tcase(s, tc);
    return s;
}

MD_UNIT_MAIN(suite)
