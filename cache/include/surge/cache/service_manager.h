// Telling systemd how a service is doing (sd_notify's protocol, without linking libsystemd): a
// datagram of "KEY=value" lines to the socket in $NOTIFY_SOCKET. Units with Type=notify wait for
// READY=1 before they count the service as started; RELOADING=1 ... READY=1 brackets a reload;
// STOPPING=1 says a drain has begun. Does nothing when $NOTIFY_SOCKET is unset (not under systemd).
#pragma once

#include <string_view>

namespace surge::cache {

void notifyServiceManager(std::string_view state);

}  // namespace surge::cache
