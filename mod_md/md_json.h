/* md_json.h: JSON documents in files, whole.
 *
 * Owns: reading a JSON file (bounded in size, duplicate keys refused, the document freed
 * with the pool) and writing one atomically.
 * Never: knows where in the store a file lives (md_store does) or what a document means
 * (md_core, md_job, md_acme... do).
 */
#ifndef MD_JSON_H
#define MD_JSON_H

#include <apr_pools.h>
#include <apr_file_info.h>
#include <jansson.h>

/* The largest JSON file read (and file copied by the store). */
#define MD_JSON_MAX (16 * 1024 * 1024)

/* Read a JSON file; APR_ENOENT when missing; APR_EINVAL with *perr when corrupt. The
 * document lives as long as p. */
apr_status_t md_json_read_file(json_t **pjson, const char *path, apr_pool_t *p, const char **perr);
/* Write a JSON document atomically with the given permissions. */
apr_status_t md_json_write_file(json_t *json, const char *path, apr_fileperms_t perms, apr_pool_t *p);

#endif
