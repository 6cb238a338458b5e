/* md_hot.h: hot activation: the shared-memory slots through which the parent hands newly
 * activated certificates to the children (MDActivation hot).
 *
 * Owns: the layout of the area (a header, then one fixed-size slot per MD), the writing of
 * a certificate set into a slot (every key type's chain and private key, all at once) by
 * its one writer, the lock-free reading of a consistent snapshot by any number of readers
 * in other processes and threads, and the parsing of a snapshot into OpenSSL objects with
 * each key checked against its certificate.
 * Invariants: one writer per slot (the parent process); a slot's generation only grows and
 * changes exactly when a new set is complete in it; a reader never blocks the writer nor
 * another reader (sequence counter, odd while the writer is inside); generation 0 means
 * "nothing published: serve what mod_ssl loaded at start".
 * Never: allocates or maps the memory (the glue does, before the children are forked),
 * touches the store, logs, or takes a lock.
 */
#ifndef MD_HOT_H
#define MD_HOT_H

#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "md.h"

#define MD_HOT_SLOT_SIZE_DEFAULT (64 * 1024)
#define MD_HOT_SLOT_SIZE_MIN 1024
#define MD_HOT_SLOT_SIZE_MAX (16 * 1024 * 1024)
#define MD_HOT_MSG_MAX 512

typedef struct md_hot_area_t md_hot_area_t;
typedef struct md_hot_slot_t md_hot_slot_t;

/* One key type of a set, as written into and read from a slot (PEM text). */
typedef struct md_hot_cert_t {
    const char *spec;                 /* key spec name, "rsa", "secp256r1", ... */
    const char *chain_pem;            /* leaf first */
    apr_size_t chain_len;
    const char *key_pem;              /* unencrypted PKCS#8 */
    apr_size_t key_len;
} md_hot_cert_t;

/* Bytes needed for an area of nslots slots of slot_size bytes each. */
apr_size_t md_hot_area_size(int nslots, apr_size_t slot_size);
/* Lay out an empty area in mem (md_hot_area_size bytes, zero or not). */
md_hot_area_t *md_hot_area_init(void *mem, int nslots, apr_size_t slot_size);
/* Slot i of the area, NULL when out of range. */
md_hot_slot_t *md_hot_area_slot(md_hot_area_t *area, int i);

/* Bytes of payload a set needs in a slot (to say how large MDActivationSlotSize must be). */
apr_size_t md_hot_set_size(const md_hot_cert_t *certs, int n);
/* The payload capacity of a slot. */
apr_size_t md_hot_slot_capacity(const md_hot_slot_t *slot);

/* Writer: put the set into the slot and make it the next generation. APR_ENOSPC (the slot
 * keeps what it had) when it does not fit; *pneeded (may be NULL) gets the bytes needed. */
apr_status_t md_hot_publish(md_hot_slot_t *slot, const md_hot_cert_t *certs, int n,
                            apr_size_t *pneeded);
/* Writer: set (msg) or clear (NULL) the slot's problem message; the generation stays. */
void md_hot_set_message(md_hot_slot_t *slot, const char *msg);

/* Reader: the generation of the set in the slot (0: none); one atomic load. */
apr_uint32_t md_hot_generation(const md_hot_slot_t *slot);
/* Reader: a consistent copy of the slot: the set (*pcerts, *pn; none when the generation is
 * 0) and the message (NULL if none). APR_EAGAIN when the writer was busy in every try. */
apr_status_t md_hot_read(md_hot_slot_t *slot, apr_uint32_t *pgen, md_hot_cert_t **pcerts,
                         int *pn, const char **pmsg, apr_pool_t *p);

/* A set parsed for serving. The OpenSSL objects live as long as the pool given. */
typedef struct md_hot_key_t {
    const char *spec;
    X509 *cert;                       /* the leaf */
    STACK_OF(X509) *chain;            /* the rest, may be empty */
    EVP_PKEY *pkey;
} md_hot_key_t;

typedef struct md_hot_set_t {
    apr_uint32_t generation;
    int n;
    md_hot_key_t *keys;
    apr_time_t not_before;            /* latest notBefore of the leaves */
    apr_time_t not_after;             /* earliest notAfter of the leaves */
} md_hot_set_t;

/* Parse a set: every chain, every key, each key matching its leaf. *perr says what is wrong
 * otherwise (APR_EINVAL). */
apr_status_t md_hot_set_parse(md_hot_set_t **pset, apr_uint32_t generation,
                              const md_hot_cert_t *certs, int n, apr_pool_t *p,
                              const char **perr);
/* The key of the set for a spec name, NULL if it has none. */
const md_hot_key_t *md_hot_set_key(const md_hot_set_t *set, const char *spec);

#endif
