#!/usr/bin/python3
"""The desktop benchmark (run through `tests/desktop/run bench`): cold start
to the tray being registered with the StatusNotifierWatcher and to the API
answering, and idle
memory and CPU of the tray process, the window process and WebKit's
processes, with the chat window open and after it is closed; the time
from a peer's post to the relay to the `Notify` call on D-Bus; and for a
new user without a Codex login (issue 15), the time until the tray says
"not signed in" and until the chat window shows the first-run screen.

Use the release binary for figures: PERCH_DESKTOP_BIN=target/release/perch-desktop.
"""
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desktop import (TrayItem, WebDriver, World, binary, comm, http, keyring_lookup, notifications,  # noqa: E402
                     rss_kb, wait_until, webkit_pids, window_binary, window_process, x_close, x_window)

SNW_LOG = os.environ["PERCH_TEST_SNW_LOG"]
NOTIFY_LOG = os.environ["PERCH_TEST_NOTIFY_LOG"]
PEER_MESSAGES = int(os.environ.get("PERCH_BENCH_PEER_MESSAGES", "50"))
RUNS = int(os.environ.get("PERCH_BENCH_RUNS", "5"))
SETTLE_S = float(os.environ.get("PERCH_BENCH_SETTLE", "10"))


def api_answered(server_file):
    """The monotonic time (ns) at which the API first answered /api/health,
    or None while server.json is not written or the API does not answer."""
    try:
        with open(server_file) as f:
            url = json.load(f)["url"]
        with urllib.request.urlopen(url + "/api/health", timeout=1) as r:
            return time.clock_gettime_ns(time.CLOCK_MONOTONIC) if r.status == 200 else None
    except (OSError, ValueError, KeyError):
        return None


def registrations():
    try:
        with open(SNW_LOG) as f:
            return [int(line.split()[0]) for line in f if line.strip()]
    except OSError:
        return []


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def snapshot(label, app_pid):
    window = window_process(app_pid)
    kits = webkit_pids(app_pid)
    pids = [app_pid] + ([window] if window else []) + kits
    before = cpu_ticks(pids)
    time.sleep(SETTLE_S)
    ticks = cpu_ticks(pids) - before
    hz = os.sysconf("SC_CLK_TCK")
    print(f"{label}:")
    print(f"  tray process (perch-desktop)     {rss_kb(app_pid) / 1024:7.1f} MB RSS")
    if window:
        print(f"  window process (perch-window)    {rss_kb(window) / 1024:7.1f} MB RSS")
    for pid in kits:
        print(f"  {comm(pid):<32} {rss_kb(pid) / 1024:7.1f} MB RSS")
    print(f"  WebKit processes: {len(kits)}; CPU of all of them over {SETTLE_S:.0f} s: "
          f"{100.0 * ticks / hz / SETTLE_S:.2f} %")


def peer_to_notify(world):
    """Posts to the person one message at a time; the notification server
    stamps each Notify call (same clock as the post)."""
    url = world.server_url()
    token = keyring_lookup("perch", f"api-token@{world.data}")

    def connected():
        status = http("GET", url + "/api/peer", token=token)
        return status if status.get("connected") else None
    status = wait_until("the peer link", connected, timeout=60)
    relay, person = status["relayUrl"], status["personId"]
    http("POST", relay + "/api/agents", {"id": "bench-bot", "instanceId": "b1"})
    samples = []
    for i in range(PEER_MESSAGES):
        seen = len(notifications(NOTIFY_LOG))
        posted = time.time()
        http("POST", relay + "/api/messages", {"from": "bench-bot", "to": person, "body": f"message {i}"})
        note = wait_until("the notification", lambda: notifications(NOTIFY_LOG)[seen:], timeout=30, interval=0.002)[0]
        samples.append((note["at"] - posted) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"peer message to Notify on D-Bus ({len(samples)} messages): p50 {statistics.median(samples):.1f} ms, "
          f"p99 {p99:.1f} ms")


def first_run():
    """A new user without a login: from starting perch-desktop to the tray's
    "Account: not signed in", and from opening the chat window (through
    tauri-driver, which starts it as the tray does) to the first-run screen."""
    tray_told, window_told = [], []
    for _ in range(RUNS):
        world = World(provider=False)
        driver = None
        try:
            seen = len(registrations())
            launched = time.monotonic()
            app = world.start_desktop(hidden=True)
            wait_until("the tray", lambda: len(registrations()) > seen, timeout=60, interval=0.005)
            tray = TrayItem(SNW_LOG, after=seen)
            wait_until("the tray's account line", lambda: "Account: not signed in" in tray.items(),
                       timeout=60, interval=0.01)
            tray_told.append((time.monotonic() - launched) * 1000)
            url = world.server_url()
            token = keyring_lookup("perch", f"api-token@{world.data}")
            code = http("POST", url + "/api/auth/login-codes", {}, token=token)["code"]
            driver = subprocess.Popen([os.environ.get("TAURI_DRIVER", "tauri-driver")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=world.env)
            world.procs.append(driver)
            opened = time.monotonic()
            wd = WebDriver(window_binary(), ["chat", "--data-dir", world.data, "--url", f"{url}/#login={code}&next=/chat"])
            wd.wait_for("[data-testid='first-run']", timeout=60)
            window_told.append((time.monotonic() - opened) * 1000)
            wd.quit()
            app.terminate()
            app.wait(30)
        finally:
            if driver is not None:
                driver.terminate()
            subprocess.run(["pkill", "-f", f"perch-window chat --data-dir {world.data}"])
            world.close()
    for what, xs in (("start to the tray saying \"Account: not signed in\"", tray_told),
                     ("open the chat window to the first-run screen (WebDriver, 0.2 s polling)", window_told)):
        print(f"first run, {what} ({len(xs)} runs): median {statistics.median(xs):.0f} ms, "
              f"min {min(xs):.0f} ms, max {max(xs):.0f} ms")


def main():
    world = World()
    try:
        print(f"binary: {binary('PERCH_DESKTOP_BIN', 'perch-desktop')}")
        starts, apis = [], []
        for _ in range(RUNS):
            seen = len(registrations())
            server_file = os.path.join(world.data, "server.json")
            if os.path.exists(server_file):
                os.remove(server_file)
            launched = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            app = world.start_desktop(hidden=True)
            api = wait_until("the API", lambda: api_answered(server_file), timeout=60, interval=0.001)
            apis.append((api - launched) / 1e6)
            wait_until("the tray", lambda: len(registrations()) > seen, timeout=60)
            starts.append((registrations()[-1] - launched) / 1e6)
            app.terminate()
            app.wait(30)
        print(f"cold start to tray registered ({RUNS} runs): median {statistics.median(starts):.0f} ms, "
              f"min {min(starts):.0f} ms, max {max(starts):.0f} ms")
        print(f"cold start to API ready, GET /api/health answered ({RUNS} runs, polled every 1 ms): "
              f"median {statistics.median(apis):.0f} ms, min {min(apis):.0f} ms, max {max(apis):.0f} ms")

        app = world.start_desktop(hidden=False)
        wait_until("the window", lambda: x_window(app.pid), timeout=60)
        wait_until("WebKit", lambda: webkit_pids(app.pid), timeout=60)
        snapshot("window open, idle", app.pid)
        window = x_window(app.pid)
        sent = {"at": 0.0}

        def closed():
            if x_window(app.pid) is None and not webkit_pids(app.pid):
                return True
            if time.monotonic() - sent["at"] > 2 and window and x_window(app.pid):
                x_close(window)
                sent["at"] = time.monotonic()
            return False
        wait_until("the window to close", closed, timeout=60)
        snapshot("window closed, idle", app.pid)
        peer_to_notify(world)
        TrayItem(SNW_LOG).click("Quit Perch")
        app.wait(30)
    finally:
        world.close()
    first_run()


if __name__ == "__main__":
    main()
