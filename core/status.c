#include "nala/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *nala_status_string(nala_status status) {
  switch (status) {
  case NALA_OK: return "NALA_OK";
  case NALA_E_ARG: return "NALA_E_ARG";
  case NALA_E_IO: return "NALA_E_IO";
  case NALA_E_FORMAT: return "NALA_E_FORMAT";
  case NALA_E_SHAPE: return "NALA_E_SHAPE";
  case NALA_E_NOMEM: return "NALA_E_NOMEM";
  case NALA_E_UNSUPPORTED: return "NALA_E_UNSUPPORTED";
  case NALA_E_BACKEND: return "NALA_E_BACKEND";
  case NALA_E_STATE: return "NALA_E_STATE";
  }
  return "NALA_E_UNKNOWN";
}

nala_status nala_fail(nala_err *err, nala_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

nala_status nala_err_prefix(nala_err *err, const char *fmt, ...) {
  if (!err)
    return NALA_E_ARG; /* no record to extend; callers only use the return as a hint */
  char prefix[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  /* Shift the old message right, then copy the prefix in front (truncating at the end). */
  size_t cap = sizeof err->msg, plen = strnlen(prefix, cap - 1), olen = strnlen(err->msg, cap - 1);
  if (plen + olen > cap - 1)
    olen = cap - 1 - plen;
  memmove(err->msg + plen, err->msg, olen);
  memcpy(err->msg, prefix, plen);
  err->msg[plen + olen] = '\0';
  return err->status;
}

void nala_err_clear(nala_err *err) {
  if (err) {
    err->status = NALA_OK;
    err->msg[0] = '\0';
  }
}
