/* md_hot.c: see md_hot.h.
 *
 * A slot is a sequence lock: the writer makes 'seq' odd, writes, then makes it even again;
 * a reader copies everything and keeps the copy only when 'seq' was the same even number
 * before and after. Readers never write to the slot, so a child can never disturb the
 * parent or another child, and a reader that is descheduled mid-copy just tries again.
 * Payload: u32 count, then per key type: u32+spec, u32+chain PEM, u32+key PEM.
 */
#include <sched.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/pem.h>

#include "md_crypt.h"
#include "md_hot.h"

#define MD_HOT_MAGIC 0x6d64686fU      /* "mdho" */
#define MD_HOT_ALIGN 64
#define MD_HOT_READ_TRIES 1000

struct md_hot_slot_t {
    apr_uint32_t seq;                 /* odd while the writer is inside */
    apr_uint32_t generation;
    apr_uint32_t len;                 /* payload bytes in data */
    apr_uint32_t capacity;            /* bytes available in data */
    char msg[MD_HOT_MSG_MAX];
    char data[];
};

struct md_hot_area_t {
    apr_uint32_t magic;
    apr_uint32_t nslots;
    apr_uint64_t slot_bytes;          /* stride between slots, header included */
    char slots[];
};

static apr_size_t align_up(apr_size_t n)
{
    return (n + MD_HOT_ALIGN - 1) & ~(apr_size_t)(MD_HOT_ALIGN - 1);
}

static apr_size_t slot_bytes(apr_size_t slot_size)
{
    return align_up(sizeof(md_hot_slot_t) + slot_size);
}

apr_size_t md_hot_area_size(int nslots, apr_size_t slot_size)
{
    return align_up(sizeof(md_hot_area_t)) + (apr_size_t)(nslots > 0 ? nslots : 0) * slot_bytes(slot_size);
}

md_hot_area_t *md_hot_area_init(void *mem, int nslots, apr_size_t slot_size)
{
    md_hot_area_t *a = mem;
    int i;

    memset(mem, 0, md_hot_area_size(nslots, slot_size));
    a->magic = MD_HOT_MAGIC;
    a->nslots = (apr_uint32_t)(nslots > 0 ? nslots : 0);
    a->slot_bytes = slot_bytes(slot_size);
    for (i = 0; i < nslots; ++i)
        md_hot_area_slot(a, i)->capacity = (apr_uint32_t)(slot_bytes(slot_size) - sizeof(md_hot_slot_t));
    return a;
}

md_hot_slot_t *md_hot_area_slot(md_hot_area_t *a, int i)
{
    if (!a || a->magic != MD_HOT_MAGIC || i < 0 || (apr_uint32_t)i >= a->nslots) return NULL;
    return (md_hot_slot_t *)((char *)a + align_up(sizeof(md_hot_area_t)) + (apr_size_t)i * a->slot_bytes);
}

apr_size_t md_hot_slot_capacity(const md_hot_slot_t *slot)
{
    return slot->capacity;
}

apr_size_t md_hot_set_size(const md_hot_cert_t *certs, int n)
{
    apr_size_t size = 4;
    int i;
    for (i = 0; i < n; ++i)
        size += 12 + strlen(certs[i].spec) + certs[i].chain_len + certs[i].key_len;
    return size;
}

/* ---- writer ---- */

static void write_begin(md_hot_slot_t *slot)
{
    apr_uint32_t s = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->seq, s + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void write_end(md_hot_slot_t *slot)
{
    apr_uint32_t s = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->seq, s + 1, __ATOMIC_RELEASE);
}

static char *put(char *at, const void *data, apr_size_t len)
{
    apr_uint32_t l = (apr_uint32_t)len;
    memcpy(at, &l, 4);
    memcpy(at + 4, data, len);
    return at + 4 + len;
}

apr_status_t md_hot_publish(md_hot_slot_t *slot, const md_hot_cert_t *certs, int n,
                            apr_size_t *pneeded)
{
    apr_size_t needed = md_hot_set_size(certs, n);
    apr_uint32_t count = (apr_uint32_t)n;
    char *at;
    int i;

    if (pneeded) *pneeded = needed;
    if (needed > slot->capacity) return APR_ENOSPC;
    write_begin(slot);
    at = slot->data;
    memcpy(at, &count, 4);
    at += 4;
    for (i = 0; i < n; ++i) {
        at = put(at, certs[i].spec, strlen(certs[i].spec));
        at = put(at, certs[i].chain_pem, certs[i].chain_len);
        at = put(at, certs[i].key_pem, certs[i].key_len);
    }
    slot->len = (apr_uint32_t)needed;
    __atomic_store_n(&slot->generation, slot->generation + 1, __ATOMIC_RELEASE);
    write_end(slot);
    return APR_SUCCESS;
}

void md_hot_set_message(md_hot_slot_t *slot, const char *msg)
{
    write_begin(slot);
    if (msg) apr_cpystrn(slot->msg, msg, sizeof(slot->msg));
    else slot->msg[0] = '\0';
    write_end(slot);
}

/* ---- readers ---- */

apr_uint32_t md_hot_generation(const md_hot_slot_t *slot)
{
    return __atomic_load_n(&slot->generation, __ATOMIC_ACQUIRE);
}

/* The next length-prefixed field of a copied payload, NULL when it overruns. */
static const char *get(const char **pat, const char *end, apr_size_t *plen, apr_pool_t *p)
{
    apr_uint32_t l;
    const char *at = *pat;
    if (end - at < 4) return NULL;
    memcpy(&l, at, 4);
    at += 4;
    if ((apr_size_t)(end - at) < l) return NULL;
    *pat = at + l;
    *plen = l;
    return apr_pstrmemdup(p, at, l);
}

static apr_status_t decode(const char *buf, apr_size_t len, md_hot_cert_t **pcerts, int *pn,
                           apr_pool_t *p)
{
    const char *at = buf, *end = buf + len;
    apr_uint32_t count;
    md_hot_cert_t *certs;
    apr_size_t l;
    apr_uint32_t i;

    if (len < 4) return APR_EINVAL;
    memcpy(&count, at, 4);
    at += 4;
    if (count > 16) return APR_EINVAL;
    certs = apr_pcalloc(p, sizeof(*certs) * (count ? count : 1));
    for (i = 0; i < count; ++i) {
        if (!(certs[i].spec = get(&at, end, &l, p))
            || !(certs[i].chain_pem = get(&at, end, &certs[i].chain_len, p))
            || !(certs[i].key_pem = get(&at, end, &certs[i].key_len, p)))
            return APR_EINVAL;
    }
    *pcerts = certs;
    *pn = (int)count;
    return APR_SUCCESS;
}

apr_status_t md_hot_read(md_hot_slot_t *slot, apr_uint32_t *pgen, md_hot_cert_t **pcerts,
                         int *pn, const char **pmsg, apr_pool_t *p)
{
    char *buf = apr_palloc(p, slot->capacity), msg[MD_HOT_MSG_MAX];
    apr_uint32_t s1, s2, gen = 0, len = 0;
    int tries;

    *pcerts = NULL;
    *pn = 0;
    *pgen = 0;
    if (pmsg) *pmsg = NULL;
    for (tries = 0; tries < MD_HOT_READ_TRIES; ++tries) {
        s1 = __atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            sched_yield();
            continue;
        }
        gen = __atomic_load_n(&slot->generation, __ATOMIC_RELAXED);
        len = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);
        if (len > slot->capacity) len = slot->capacity;
        memcpy(buf, slot->data, len);
        memcpy(msg, slot->msg, sizeof(msg));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        s2 = __atomic_load_n(&slot->seq, __ATOMIC_RELAXED);
        if (s1 == s2) break;
    }
    if (tries == MD_HOT_READ_TRIES) return APR_EAGAIN;
    msg[sizeof(msg) - 1] = '\0';
    if (pmsg && msg[0]) *pmsg = apr_pstrdup(p, msg);
    *pgen = gen;
    if (!gen) return APR_SUCCESS;
    return decode(buf, len, pcerts, pn, p);
}

/* ---- parsing for serving ---- */

static apr_status_t chain_free(void *data)
{
    sk_X509_pop_free(data, X509_free);
    return APR_SUCCESS;
}

apr_status_t md_hot_set_parse(md_hot_set_t **pset, apr_uint32_t generation,
                              const md_hot_cert_t *certs, int n, apr_pool_t *p,
                              const char **perr)
{
    md_hot_set_t *set = apr_pcalloc(p, sizeof(*set));
    int i, j;

    *pset = NULL;
    *perr = NULL;
    if (n <= 0) {
        *perr = "the set has no certificate";
        return APR_EINVAL;
    }
    set->generation = generation;
    set->n = n;
    set->keys = apr_pcalloc(p, sizeof(*set->keys) * (apr_size_t)n);
    for (i = 0; i < n; ++i) {
        md_hot_key_t *k = &set->keys[i];
        apr_array_header_t *chain;
        apr_time_t t;

        k->spec = apr_pstrdup(p, certs[i].spec);
        if (md_chain_from_pem(&chain, certs[i].chain_pem, certs[i].chain_len, p) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "the %s chain holds no PEM certificate", k->spec);
            return APR_EINVAL;
        }
        if (md_pkey_from_pem(&k->pkey, certs[i].key_pem, certs[i].key_len, NULL, 0, p) != APR_SUCCESS) {
            *perr = apr_psprintf(p, "the %s private key cannot be read", k->spec);
            return APR_EINVAL;
        }
        k->cert = APR_ARRAY_IDX(chain, 0, X509 *);
        if (!md_cert_matches_key(k->cert, k->pkey)) {
            *perr = apr_psprintf(p, "the %s private key does not belong to its certificate", k->spec);
            return APR_EINVAL;
        }
        k->chain = sk_X509_new_null();
        apr_pool_cleanup_register(p, k->chain, chain_free, apr_pool_cleanup_null);
        for (j = 1; j < chain->nelts; ++j) {
            X509 *x = APR_ARRAY_IDX(chain, j, X509 *);
            X509_up_ref(x);
            sk_X509_push(k->chain, x);
        }
        t = md_cert_not_before(k->cert);
        if (t > set->not_before) set->not_before = t;
        t = md_cert_not_after(k->cert);
        if (!set->not_after || t < set->not_after) set->not_after = t;
    }
    *pset = set;
    return APR_SUCCESS;
}

const md_hot_key_t *md_hot_set_key(const md_hot_set_t *set, const char *spec)
{
    int i;
    for (i = 0; set && i < set->n; ++i)
        if (!strcmp(set->keys[i].spec, spec)) return &set->keys[i];
    return NULL;
}
