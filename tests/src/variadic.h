/* The interface between src/variadic.c and the Rust host (mirrored in src/variadic.rs). */
#ifndef OFX_HOST_VARIADIC_H
#define OFX_HOST_VARIADIC_H

#include "ofx.h"

#define OFX_HOST_MAX_DIMS 4

/* How a parameter stores its value: what each variadic argument is. */
enum { OFX_HOST_STORAGE_NONE = 0, OFX_HOST_STORAGE_INT = 1, OFX_HOST_STORAGE_DOUBLE = 2, OFX_HOST_STORAGE_STRING = 3 };

/* Which getter was called. */
enum { OFX_HOST_READ_VALUE = 0, OFX_HOST_READ_DERIVATIVE = 1, OFX_HOST_READ_INTEGRAL = 2 };

typedef struct OfxHostParamCall {
  int read;
  double span; /* time2 - time1 for integrals */
} OfxHostParamCall;

typedef struct OfxHostParamArgs {
  OfxHostParamCall call;
  int storage;
  int count;
  void *out[OFX_HOST_MAX_DIMS];
  int ints[OFX_HOST_MAX_DIMS];
  double doubles[OFX_HOST_MAX_DIMS];
  const char *text;
} OfxHostParamArgs;

typedef struct OfxHostCallbacks {
  OfxStatus (*param_layout)(OfxParamHandle param, int *storage, int *count);
  OfxStatus (*param_get)(OfxParamHandle param, const OfxHostParamArgs *args);
  OfxStatus (*param_set)(OfxParamHandle param, const OfxHostParamArgs *args);
  OfxStatus (*message)(void *handle, const char *type, const char *id, const char *text, int persistent);
} OfxHostCallbacks;

void ofx_host_install_callbacks(const OfxHostCallbacks *table);

#endif
