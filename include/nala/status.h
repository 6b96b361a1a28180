/* Status codes and error messages shared by every nala call.
 *
 * Every fallible function returns a nala_status and, when given a non-NULL nala_err,
 * fills it with a message naming the file, key, field or value at fault. The library never
 * exits or aborts on bad input, and keeps no global error state: the nala_err belongs to
 * the caller, so two threads each pass their own. */
#ifndef NALA_STATUS_H
#define NALA_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nala_status {
  NALA_OK = 0,
  NALA_E_ARG,         /* a caller argument is invalid (NULL, out of range, bad option) */
  NALA_E_IO,          /* a file or device could not be opened, read or written */
  NALA_E_FORMAT,      /* a file's content is malformed (JSON, safetensors, image, RLE...) */
  NALA_E_SHAPE,       /* tensor or image shapes do not match what is expected */
  NALA_E_NOMEM,       /* an allocation failed, or a planned workspace is too small */
  NALA_E_UNSUPPORTED, /* valid request this build or CPU cannot serve */
  NALA_E_BACKEND,     /* oneDNN or OpenCV reported a failure */
  NALA_E_STATE        /* call out of order (e.g. run before plan) */
} nala_status;

#define NALA_ERR_MSG_MAX 2048

/* Caller-owned error record; msg is always NUL-terminated. */
typedef struct nala_err {
  nala_status status;
  char msg[NALA_ERR_MSG_MAX];
} nala_err;

/* Short constant name of a status, e.g. "NALA_E_FORMAT". */
const char *nala_status_string(nala_status status);

/* Records status and a printf-style message in err (if non-NULL); returns status. */
nala_status nala_fail(nala_err *err, nala_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends printf-style context ("file.json: ") to err's message; returns err->status. */
nala_status nala_err_prefix(nala_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to NALA_OK with an empty message. */
void nala_err_clear(nala_err *err);

#ifdef __cplusplus
}
#endif

/* NALA_CHECK(call): returns the status of a failing call from the enclosing function. */
#define NALA_CHECK(call)                 \
  do {                                   \
    nala_status nala_check_st_ = (call); \
    if (nala_check_st_ != NALA_OK)       \
      return nala_check_st_;             \
  } while (0)

#endif
