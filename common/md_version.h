/* md_version.h: the version of this package's modules (status pages, User-Agent). */
#ifndef MD_VERSION_H
#define MD_VERSION_H

#define MD_VERSION "2.6.10-ng"

#endif
