// credbake's file-map addon: the data ranges of a file, from lseek(SEEK_DATA/SEEK_HOLE).
// Node has no SEEK_DATA; without it a sparse output's holes must be read (and, on ext4, page
// cached as zero pages) just to learn they are zeros. Node-API only, so one binary serves every
// Node version.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <node_api.h>

#define THROW_IF(cond, msg)                        \
  do {                                             \
    if (cond) {                                    \
      napi_throw_error(env, NULL, msg);            \
      return NULL;                                 \
    }                                              \
  } while (0)

static napi_value throw_errno(napi_env env, const char *call, int code) {
  napi_value message, error, code_value;
  char text[160];
  snprintf(text, sizeof text, "%s: %s", call, strerror(code));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, code, &code_value);
  napi_set_named_property(env, error, "errno", code_value);
  napi_throw(env, error);
  return NULL;
}

// dataRanges(fd, start, end): [s0, e0, s1, e1, ...] (a Float64Array) of the bytes in [start, end)
// that are not holes. Where the file system has no hole support, the kernel reports all of it as
// data, which is still right (only slower for the caller).
static napi_value data_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  THROW_IF(napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3, "dataRanges(fd, start, end)");
  int32_t fd;
  double start_d, end_d;
  THROW_IF(napi_get_value_int32(env, argv[0], &fd) != napi_ok, "fd must be a number");
  THROW_IF(napi_get_value_double(env, argv[1], &start_d) != napi_ok, "start must be a number");
  THROW_IF(napi_get_value_double(env, argv[2], &end_d) != napi_ok, "end must be a number");
  THROW_IF(start_d < 0 || end_d < start_d || end_d > 9007199254740991.0, "bad range");
  off_t at = (off_t)start_d, end = (off_t)end_d;

  size_t capacity = 64, count = 0;
  double *pairs = malloc(capacity * sizeof(double));
  THROW_IF(pairs == NULL, "out of memory");
  while (at < end) {
    off_t data = lseek(fd, at, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* only a hole from here to the end of the file */
      int code = errno;
      free(pairs);
      return throw_errno(env, "lseek(SEEK_DATA)", code);
    }
    if (data >= end) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      int code = errno;
      free(pairs);
      return throw_errno(env, "lseek(SEEK_HOLE)", code);
    }
    if (hole > end) hole = end;
    if (count + 2 > capacity) {
      capacity *= 2;
      double *grown = realloc(pairs, capacity * sizeof(double));
      if (grown == NULL) {
        free(pairs);
        THROW_IF(1, "out of memory");
      }
      pairs = grown;
    }
    pairs[count++] = (double)data;
    pairs[count++] = (double)hole;
    at = hole;
  }
  napi_value buffer, result;
  void *bytes;
  if (napi_create_arraybuffer(env, count * sizeof(double), &bytes, &buffer) != napi_ok) {
    free(pairs);
    THROW_IF(1, "cannot allocate the result");
  }
  if (count) memcpy(bytes, pairs, count * sizeof(double));
  free(pairs);
  THROW_IF(napi_create_typedarray(env, napi_float64_array, count, buffer, 0, &result) != napi_ok, "cannot make the result");
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "dataRanges", NAPI_AUTO_LENGTH, data_ranges, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "dataRanges", fn) != napi_ok) return NULL;
  return exports;
}
