/* ct_merkle.h: RFC 6962 Merkle tree hashes and audit path verification (section 2.1).
 *
 * Owns: the leaf hash of a timestamped X.509 or precertificate entry for an SCT, and the
 * check that an audit path leads from a leaf hash to a tree head's root hash.
 * Never: includes httpd headers, logs, talks to the network (ctauditscts does).
 */
#ifndef CT_MERKLE_H
#define CT_MERKLE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/x509.h>
#include "ct_util.h"

#define CT_HASH_LEN 32

/* SHA-256(0x00 || MerkleTreeLeaf) for the entry an SCT signs. The entry is a precert
 * (embedded SCT: issuer needed) when precert is set, else the X.509 leaf. */
apr_status_t ct_merkle_leaf_hash(unsigned char out[CT_HASH_LEN], const ct_blob_t *sct,
                                 X509 *cert, X509 *issuer, int precert);

/* SHA-256(0x01 || left || right). */
void ct_merkle_node_hash(unsigned char out[CT_HASH_LEN], const unsigned char *left,
                         const unsigned char *right);

/* Verify an audit path (array of CT_HASH_LEN byte strings) for leaf_index in a tree of
 * tree_size leaves with the given root. 1 when it leads to the root, else 0. */
int ct_merkle_verify_path(const unsigned char leaf[CT_HASH_LEN], apr_uint64_t leaf_index,
                          apr_uint64_t tree_size, const apr_array_header_t *path,
                          const unsigned char root[CT_HASH_LEN]);

#endif
