/* libproxmox: method tables (placeholder until the generator lands). */
#ifndef PROXMOX_METHOD_H
#define PROXMOX_METHOD_H
#if !defined(PROXMOX_H_INSIDE) && !defined(PROXMOX_COMPILATION)
#error "Only <proxmox/proxmox.h> can be included directly."
#endif
#endif
