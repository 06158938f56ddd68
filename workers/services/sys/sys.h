#ifndef ROOST_SYS_H
#define ROOST_SYS_H
#include "service.h"
extern const svc_service_t sys_service;
#endif
