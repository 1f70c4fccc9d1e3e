/*
 * The host's variadic suite functions (paramGetValue & co., message, setPersistentMessage).
 * Stable Rust cannot define C-variadic functions, so these read their arguments with va_arg and hand
 * them, typed, to Rust callbacks installed once by the host (see src/variadic.rs).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ofx.h"

#include "variadic.h"

static const OfxHostCallbacks *callbacks;

void ofx_host_install_callbacks(const OfxHostCallbacks *table) { callbacks = table; }

/* The whole body of each variadic entry point: starts `ap` after the parameter `last`, returns what
 * `call` (which reads `ap`) returns. va_start must run in the variadic function itself, hence a macro. */
#define FORWARD_VARIADIC(last, call)                                                                                   \
  va_list ap;                                                                                                          \
  va_start(ap, last);                                                                                                  \
  OfxStatus status = (call);                                                                                           \
  va_end(ap);                                                                                                          \
  return status

/* Reads the pointers a getter passes (one per dimension) and lets Rust fill them. */
static OfxStatus get_values(OfxParamHandle param, int read, double span, va_list ap) {
  if (!callbacks) return kOfxStatErrFatal;
  OfxHostParamArgs args = {0};
  args.call.read = read;
  args.call.span = span;
  OfxStatus status = callbacks->param_layout(param, &args.storage, &args.count);
  if (status != kOfxStatOK) return status;
  for (int i = 0; i < args.count && i < OFX_HOST_MAX_DIMS; ++i) args.out[i] = va_arg(ap, void *);
  return callbacks->param_get(param, &args);
}

/* Reads the values a setter passes (int, double or const char *, one per dimension). */
static OfxStatus set_values(OfxParamHandle param, va_list ap) {
  if (!callbacks) return kOfxStatErrFatal;
  OfxHostParamArgs args = {0};
  OfxStatus status = callbacks->param_layout(param, &args.storage, &args.count);
  if (status != kOfxStatOK) return status;
  for (int i = 0; i < args.count && i < OFX_HOST_MAX_DIMS; ++i) {
    switch (args.storage) {
    case OFX_HOST_STORAGE_INT: args.ints[i] = va_arg(ap, int); break;
    case OFX_HOST_STORAGE_DOUBLE: args.doubles[i] = va_arg(ap, double); break;
    case OFX_HOST_STORAGE_STRING: args.text = va_arg(ap, const char *); break;
    default: break;
    }
  }
  return callbacks->param_set(param, &args);
}

OfxStatus ofx_host_param_get_value(OfxParamHandle param, ...) {
  FORWARD_VARIADIC(param, get_values(param, OFX_HOST_READ_VALUE, 0.0, ap));
}

OfxStatus ofx_host_param_get_value_at_time(OfxParamHandle param, OfxTime time, ...) {
  FORWARD_VARIADIC(time, get_values(param, OFX_HOST_READ_VALUE, 0.0, ap));
}

OfxStatus ofx_host_param_get_derivative(OfxParamHandle param, OfxTime time, ...) {
  FORWARD_VARIADIC(time, get_values(param, OFX_HOST_READ_DERIVATIVE, 0.0, ap));
}

OfxStatus ofx_host_param_get_integral(OfxParamHandle param, OfxTime time1, OfxTime time2, ...) {
  FORWARD_VARIADIC(time2, get_values(param, OFX_HOST_READ_INTEGRAL, time2 - time1, ap));
}

OfxStatus ofx_host_param_set_value(OfxParamHandle param, ...) {
  FORWARD_VARIADIC(param, set_values(param, ap));
}

OfxStatus ofx_host_param_set_value_at_time(OfxParamHandle param, OfxTime time, ...) {
  FORWARD_VARIADIC(time, set_values(param, ap));
}

/* Formats a printf-style message and hands the text to Rust. */
static OfxStatus send_message(void *handle, const char *type, const char *id, int persistent, const char *format,
                              va_list ap) {
  if (!callbacks) return kOfxStatErrFatal;
  if (!format) return kOfxStatErrValue;
  va_list measure;
  va_copy(measure, ap);
  int length = vsnprintf(NULL, 0, format, measure);
  va_end(measure);
  if (length < 0) return kOfxStatErrFormat;
  char *text = malloc((size_t)length + 1);
  if (!text) return kOfxStatErrMemory;
  vsnprintf(text, (size_t)length + 1, format, ap);
  OfxStatus status = callbacks->message(handle, type, id, text, persistent);
  free(text);
  return status;
}

OfxStatus ofx_host_message(void *handle, const char *type, const char *id, const char *format, ...) {
  FORWARD_VARIADIC(format, send_message(handle, type, id, 0, format, ap));
}

OfxStatus ofx_host_set_persistent_message(void *handle, const char *type, const char *id, const char *format, ...) {
  FORWARD_VARIADIC(format, send_message(handle, type, id, 1, format, ap));
}
