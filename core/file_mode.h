/* The one file-mode policy of every file nala creates (atomic writes, video temp files). Internal. */
#ifndef NALA_CORE_FILE_MODE_H
#define NALA_CORE_FILE_MODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Gives fd (made 0600 by mkstemp) the mode open(..., O_CREAT, 0666) would have given it under
 * the process umask, so outputs are readable as any other file the user creates. */
void nala_file_mode_default(int fd);

#ifdef __cplusplus
}
#endif

#endif
