#ifndef STREAMREC_CRDKAFKA_SHIM_H
#define STREAMREC_CRDKAFKA_SHIM_H
// librdkafka's public API and its in-process mock cluster (the embedded broker).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
