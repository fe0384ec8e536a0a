#!/usr/bin/python3
"""A notification server for tests: owns org.freedesktop.Notifications on the
session bus, advertises actions, appends every Notify call as a JSON line to
OUT, and lets the test invoke an action (InvokeAction, a test-only method)
so the real ActionInvoked signal comes from the name's owner.

usage: notifyd.py OUT
"""
import json
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IFACE = "org.freedesktop.Notifications"


class Notifications(dbus.service.Object):
    def __init__(self, bus, out):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.out = out
        self.next_id = 1

    @dbus.service.method(IFACE, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body", "persistence"]

    @dbus.service.method(IFACE, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):
        nid = int(replaces_id) or self.next_id
        if not replaces_id:
            self.next_id += 1
        record = {
            "id": nid, "app_name": str(app_name), "replaces_id": int(replaces_id), "icon": str(icon),
            "summary": str(summary), "body": str(body), "actions": [str(a) for a in actions],
            "urgency": int(hints["urgency"]) if "urgency" in hints else None, "timeout": int(timeout),
            "at": time.time(),
        }
        with open(self.out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return nid

    @dbus.service.method(IFACE, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, 3)

    @dbus.service.method(IFACE, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("perch-test-notifyd", "perch", "1.0", "1.2")

    @dbus.service.method("dev.perch.Test", in_signature="us", out_signature="")
    def InvokeAction(self, nid, action):
        self.ActionInvoked(nid, action)
        self.NotificationClosed(nid, 2)

    @dbus.service.signal(IFACE, signature="us")
    def ActionInvoked(self, nid, action):
        pass

    @dbus.service.signal(IFACE, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(IFACE, bus, do_not_queue=True)
    Notifications(bus, sys.argv[1])
    open(sys.argv[1] + ".ready", "w").close()
    GLib.MainLoop().run()
    del name


if __name__ == "__main__":
    main()
