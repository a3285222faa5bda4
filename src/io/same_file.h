/* Whether two path names reach the same file. Internal API. */
#ifndef GEOLOC_IO_SAME_FILE_H
#define GEOLOC_IO_SAME_FILE_H

/* 1 when a and b are the same file: equal names, or both exist and have the
 * same device and inode (hard links, symbolic links, "./x" and "x"); else 0. */
int paths_same_file(const char *a, const char *b);

#endif
