/* Loading the OpenCV shim (datasets/cv_api.h): dlopen of libnala_cv.so on the first image/video call,
 * so that OpenCV and its ~240 libraries are mapped only in processes that do image or video IO. */
#define _GNU_SOURCE /* dladdr */
#include "datasets/cv_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where CMake puts the shim in this build tree (tests and programs run from the tree find it there). */
#ifndef NALA_CV_BUILD_PATH
#define NALA_CV_BUILD_PATH ""
#endif

/* The outcome of the one load: written once inside pthread_once, read-only afterwards. */
typedef struct cv_loaded {
  const nala_cv_api *api;
  char why[NALA_ERR_MSG_MAX]; /* when api is NULL: every path tried and dlerror()'s reason */
  int from_env;               /* the one path tried was $NALA_CV_LIBRARY */
} cv_loaded;

static pthread_once_t cv_once = PTHREAD_ONCE_INIT;
static cv_loaded cv_state;

/* Appends printf-style text to why (truncating, always terminated). */
__attribute__((format(printf, 2, 3))) static void why_add(cv_loaded *s, const char *fmt, ...) {
  size_t used = strlen(s->why);
  if (used + 1 >= sizeof s->why)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->why + used, sizeof s->why - used, fmt, ap);
  va_end(ap);
}

/* Tries one path; 1 when the table was taken from it. */
static int try_path(cv_loaded *s, const char *path) {
  dlerror();
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    why_add(s, "; %s", e ? e : path); /* dlerror() names the path */
    return 0;
  }
  nala_cv_api_fn get = (nala_cv_api_fn)(uintptr_t)dlsym(lib, NALA_CV_API_SYMBOL);
  if (!get) {
    const char *e = dlerror();
    why_add(s, "; %s", e ? e : path);
    dlclose(lib);
    return 0;
  }
  const nala_cv_api *api = get();
  if (!api || api->version != NALA_CV_API_VERSION || api->struct_size != sizeof(nala_cv_api)) {
    why_add(s, "; %s: API version %d (%zu bytes), this build wants %d (%zu bytes): a stale build", path,
            api ? api->version : -1, api ? api->struct_size : (size_t)0, NALA_CV_API_VERSION, sizeof(nala_cv_api));
    dlclose(lib);
    return 0;
  }
  s->api = api; /* never dlclosed: OpenCV does not unload cleanly, and readers/writers hold its objects */
  return 1;
}

static void cv_load(void) {
  cv_loaded *s = &cv_state;
  const char *env = getenv("NALA_CV_LIBRARY");
  if (env && *env) {
    s->from_env = 1;
    try_path(s, env);
    return;
  }
  /* $ORIGIN of this code: the executable it is linked into, or libnala itself if that is shared. glibc
   * names the main program as it was started ("./build/nala"), which a chdir since would break. */
  char self_path[4096] = "";
  Dl_info self;
  if (dladdr((void *)(uintptr_t)&nala_cv_get, &self) && self.dli_fname && self.dli_fname[0] == '/')
    snprintf(self_path, sizeof self_path, "%s", self.dli_fname);
  else if (!realpath(self.dli_fname ? self.dli_fname : "", self_path)) {
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    self_path[len > 0 ? len : 0] = '\0';
  }
  const char *slash = strrchr(self_path, '/');
  char path[4096 + sizeof NALA_CV_LIBRARY_NAME] = "";
  if (slash) {
    snprintf(path, sizeof path, "%.*s/%s", (int)(slash - self_path), self_path, NALA_CV_LIBRARY_NAME);
    if (try_path(s, path))
      return;
  }
  if (NALA_CV_BUILD_PATH[0] && strcmp(path, NALA_CV_BUILD_PATH) != 0 && try_path(s, NALA_CV_BUILD_PATH))
    return;
  try_path(s, NALA_CV_LIBRARY_NAME);
}

nala_status nala_cv_get(const nala_cv_api **api, nala_err *err) {
  *api = NULL;
  int rc = pthread_once(&cv_once, cv_load);
  if (rc != 0)
    return nala_fail(err, NALA_E_UNSUPPORTED, "image/video IO: cannot load " NALA_CV_LIBRARY_NAME ": pthread_once: %s",
                     strerror(rc));
  if (!cv_state.api) /* why starts with "; " */
    return nala_fail(err, NALA_E_UNSUPPORTED,
                     "image/video IO needs " NALA_CV_LIBRARY_NAME " (nala's OpenCV shim), which cannot be loaded:%s (%s)",
                     cv_state.why[0] ? cv_state.why + 1 : "", cv_state.from_env ? "the path in $NALA_CV_LIBRARY"
                     : "built beside the nala executable; set $NALA_CV_LIBRARY to its path when it is elsewhere");
  *api = cv_state.api;
  return NALA_OK;
}

/* ASan builds only: the sanitizer defaults of a program that links this loader. GCC 12's
 * LeakSanitizer misreads the dynamic TLS blocks of libraries loaded with dlopen under glibc 2.36
 * (it records a block at address 0x2280 of size 0x800001102 and its tracer dies with SIGSEGV at
 * exit: "Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error"). OpenCV's
 * libraries, loaded with the shim, have such TLS. Without the __tls_get_addr interception the
 * blocks are still scanned, as heap chunks reachable from each thread's DTV, so no leak goes
 * unreported and none is invented. Weak: a program's own __asan_default_options wins. */
#if defined(__SANITIZE_ADDRESS__)
#define NALA_ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NALA_ASAN_BUILD 1
#endif
#endif

#ifdef NALA_ASAN_BUILD
const char *__asan_default_options(void) __attribute__((weak, visibility("default"), used));
const char *__asan_default_options(void) { return "intercept_tls_get_addr=0"; }
#endif
