#ifndef RXRAY_CLINKEDLIBPCAP_SHIM_H
#define RXRAY_CLINKEDLIBPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
