/* What `nala seg` was given and where its outputs go (tools/cli_seg_paths.c). */
#ifndef NALA_TOOLS_CLI_SEG_PATHS_H
#define NALA_TOOLS_CLI_SEG_PATHS_H

#include <stddef.h>

#include "nala/status.h"

typedef enum seg_input_kind { SEG_IN_IMAGE, SEG_IN_FOLDER, SEG_IN_VIDEO, SEG_IN_CAMERA } seg_input_kind;

/* camera:N, a folder, a file whose first bytes are an image format (nala_image_format; refused
 * formats included so their own error is given, unless the name is a video's), else a video.
 * Fails naming a missing input. */
nala_status seg_input_classify(const char *input, seg_input_kind *kind, int *camera, nala_err *err);

/* Image files (by extension: jpg jpeg png bmp tif tiff webp pbm pgm ppm pnm, any case) under dir
 * and its subfolders, as paths relative to dir in byte order; hidden entries are skipped. */
typedef struct seg_file_list {
  char **rel;
  size_t count, cap;
  size_t other_files; /* files without an image extension, not segmented */
} seg_file_list;
nala_status seg_list_images(const char *dir, seg_file_list *out, nala_err *err);
void seg_file_list_free(seg_file_list *list);

/* first_of[i] (list->count entries) = the first file in byte order whose name without extension is
 * file i's (a.jpg and a.png would write the same a.png): i itself for the first or only one. */
nala_status seg_mark_same_stem(const seg_file_list *list, size_t *first_of, nala_err *err);

/* mkdir -p. */
nala_status seg_make_dirs(const char *path, nala_err *err);

/* Creates and removes a probe file in dir: the real test of writability (root ignores modes). */
nala_status seg_check_dir_writable(const char *dir, nala_err *err);

/* path is not a folder and its folder exists (created if missing) and is writable (probed). */
nala_status seg_check_file_writable(const char *path, nala_err *err);

/* Ends in a video container extension (mp4 avi mkv mov m4v webm, any case). */
int seg_is_video_name(const char *path);

/* Case-insensitive "does path end in .ext" for ext without the dot. */
int seg_has_ext(const char *path, const char *ext);

/* out + "/" + rel with rel's extension replaced by suffix (".png", "_overlay.png"). 0 if too long. */
int seg_output_name(const char *out_dir, const char *rel, const char *suffix, char *dst, size_t cap);

#endif
