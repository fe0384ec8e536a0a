#!/usr/bin/python3
"""A StatusNotifierWatcher for tests (what a desktop panel provides): owns
org.kde.StatusNotifierWatcher and appends "MONOTONIC_NS SERVICE OBJECT_PATH"
to OUT for every item that registers.

usage: snw.py OUT
"""
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = "org.kde.StatusNotifierWatcher"


class Watcher(dbus.service.Object):
    def __init__(self, bus, out):
        super().__init__(bus, "/StatusNotifierWatcher")
        self.out = out
        self.items = []

    @dbus.service.method(IFACE, in_signature="s", out_signature="", sender_keyword="sender")
    def RegisterStatusNotifierItem(self, service, sender=None):
        # libayatana passes an object path; the item is then the sender's name.
        path = service if service.startswith("/") else "/StatusNotifierItem"
        bus_name = sender if service.startswith("/") else service
        self.items.append(f"{bus_name}{path}")
        with open(self.out, "a") as f:
            f.write(f"{time.clock_gettime_ns(time.CLOCK_MONOTONIC)} {bus_name} {path}\n")
        self.StatusNotifierItemRegistered(f"{bus_name}{path}")

    @dbus.service.method(IFACE, in_signature="s", out_signature="")
    def RegisterStatusNotifierHost(self, service):
        pass

    @dbus.service.signal(IFACE, signature="s")
    def StatusNotifierItemRegistered(self, item):
        pass

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        return self.GetAll(interface)[prop]

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return {
            "RegisteredStatusNotifierItems": dbus.Array(self.items, signature="s"),
            "IsStatusNotifierHostRegistered": True,
            "ProtocolVersion": dbus.Int32(0),
        }


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
    Watcher(bus, sys.argv[1])
    open(sys.argv[1] + ".ready", "w").close()
    GLib.MainLoop().run()
    del name


if __name__ == "__main__":
    main()
