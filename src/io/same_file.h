/* Whether two paths name the same file: for refusing an output that would
 * overwrite one of the command's inputs. Internal API. */
#ifndef GEOLOC_IO_SAME_FILE_H
#define GEOLOC_IO_SAME_FILE_H

/* 1 when a and b are the same path or both exist and are the same file
 * (device and inode: links, "./x" and "x", symbolic links); else 0. "-"
 * (standard output or input) is never the same as anything. */
int io_same_file(const char *a, const char *b);

#endif
