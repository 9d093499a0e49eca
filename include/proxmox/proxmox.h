/* libproxmox: async C client SDK for the Proxmox VE API. The one header to include. */
#ifndef PROXMOX_PROXMOX_H
#define PROXMOX_PROXMOX_H

#define PROXMOX_H_INSIDE 1
#include <proxmox/common.h>
#include <proxmox/version.h>
#include <proxmox/error.h>
#include <proxmox/client.h>
#include <proxmox/call.h>
#include <proxmox/loop.h>
#include <proxmox/task.h>
#include <proxmox/transfer.h>
#include <proxmox/method.h>
#include <proxmox/gen/api.h>
#undef PROXMOX_H_INSIDE

#endif
