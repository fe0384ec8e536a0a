#!/usr/bin/python3
"""The desktop app, for real: perch-desktop under Xvfb with a private D-Bus
session, gnome-keyring, a tray watcher and a notification server (started by
`run`), the pinned Codex and the scripted model. Prints one line per test
and `N passed, M failed`; exits 1 on any failure.
"""
import os
import subprocess
import sys
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from desktop import (RESULTS, TrayItem, WebDriver, World, binary, http, image_colors, invoke_action,  # noqa: E402
                     keyring_lookup, notifications, registrations, wait_until, webkit_pids, x_close, x_geometry,
                     x_window)

SNW_LOG = os.environ["PERCH_TEST_SNW_LOG"]
NOTIFY_LOG = os.environ["PERCH_TEST_NOTIFY_LOG"]
AUTOSTART = os.path.expanduser("~/.config/autostart/perch.desktop")
SHELL_CALL = {"functionCalls": [{"name": "exec_command", "arguments": {"cmd": "touch approved.txt"}, "callId": "call_1"}]}


def tray_notifications_and_keyring(world):
    """One app run: keyring, tray menu, autostart, approval notification, Quit."""
    app = world.start_desktop(hidden=True)
    url = world.server_url()
    tray = TrayItem(SNW_LOG)
    results = []

    def check(name, fn):
        try:
            fn()
            results.append((name, None))
        except Exception:
            results.append((name, traceback.format_exc()))

    # The API token is in gnome-keyring (Secret Service), not in a file.
    token = keyring_lookup("perch", f"api-token@{world.data}")

    def keyring():
        assert token and len(token) == 64, token
        assert not os.path.exists(os.path.join(world.data, "secrets/api-token"))
        settings = http("GET", url + "/api/settings", token=token)
        assert settings["secrets"] == {"backend": "keyring", "warning": None}, settings["secrets"]
        # A provider key set through the API lands in the keyring too.
        http("PUT", url + "/api/settings/provider-key", {"key": "sk-desktop-1"}, token=token)
        assert keyring_lookup("perch", f"provider-api-key@{world.data}") == "sk-desktop-1"
        http("DELETE", url + "/api/settings/provider-key", token=token)
        assert keyring_lookup("perch", f"provider-api-key@{world.data}") is None
    check("secrets round-trip through gnome-keyring", keyring)

    def menu():
        assert tray.properties["Status"] == "Active", tray.properties
        labels = list(tray.items())
        for expected in ["Open Perch", "Dashboard", "New session", "Interrupt current turn", "Pending approvals (0)",
                         "Do not disturb", "Start at login", "Quit Perch"]:
            assert expected in labels, (expected, labels)
        _, (_, interrupt) = tray.item("Interrupt current turn")
        assert interrupt.get("enabled") in (False, 0), interrupt
        _, (_, autostart) = tray.item("Start at login")
        assert autostart.get("toggle-type") == "checkmark", autostart
        wait_until("the status line", lambda: any(l == "Perch: Idle" for l in tray.items()), timeout=60)
    check("the tray registers and its dbusmenu lists every action", menu)

    def autostart():
        assert not os.path.exists(AUTOSTART)
        tray.click("Start at login")
        wait_until("the autostart entry", lambda: os.path.exists(AUTOSTART))
        with open(AUTOSTART) as f:
            entry = f.read()
        assert "--hidden" in entry and "perch-desktop" in entry, entry
        wait_until("the checkmark", lambda: tray.item("Start at login")[1][1].get("toggle-state") == 1)
        assert http("GET", url + "/api/settings", token=token)["autostart"]["enabled"] is True
        tray.click("Start at login")
        wait_until("the autostart entry to go", lambda: not os.path.exists(AUTOSTART))
        wait_until("the checkmark to clear", lambda: tray.item("Start at login")[1][1].get("toggle-state") == 0)
    check("Start at login writes and removes the autostart entry", autostart)

    def approval():
        session = http("POST", url + "/api/sessions", {}, token=token)["id"]
        world.enqueue(SHELL_CALL, {"text": "Created approved.txt."})
        sent = http("POST", f"{url}/api/sessions/{session}/messages", {"text": "make a file"}, token=token)

        def asked():
            return [n for n in notifications(NOTIFY_LOG) if n["summary"] == "Perch needs your approval"]
        note = wait_until("the approval notification", asked, timeout=60)[-1]
        assert note["app_name"] == "Perch", note
        assert "touch approved.txt" in note["body"], note
        assert note["actions"] == ["default", "Open", "approve", "Approve", "deny", "Deny"], note["actions"]
        wait_until("the tray to count it", lambda: "Pending approvals (1)" in tray.items())
        invoke_action(note["id"], "approve")

        def answered():
            approvals = http("GET", url + "/api/approvals?status=all", token=token)["data"]
            return [a for a in approvals if a["status"] == "accept" and a["answeredBy"] == "person"]
        wait_until("Codex to get the answer", answered, timeout=30)
        history = wait_until("the turn to complete", lambda: [
            t for t in http("GET", f"{url}/api/sessions/{session}/history", token=token)["turns"]
            if t["id"] == sent["turnId"] and t["status"] == "completed"], timeout=60)
        assert history
        assert os.path.exists(os.path.join(world.root, "work/approved.txt"))
        wait_until("the tray count to drop", lambda: "Pending approvals (0)" in tray.items())
    check("an approval notifies with Approve/Deny, and Approve answers Codex", approval)

    def peer_loop():
        def connected():
            status = http("GET", url + "/api/peer", token=token)
            return status if status.get("connected") else None
        status = wait_until("the peer link", connected, timeout=60)
        relay, agent, person = status["relayUrl"], status["agentId"], status["personId"]
        # An outside agent as an agent-relay plugin would be; the model
        # answers its message with Perch's `reply` tool.
        http("POST", relay + "/api/agents", {"id": "outside-bot", "label": "Outside", "instanceId": "o1"})
        next_id = http("GET", relay + "/api/messages/cursor")["latestId"] + 1
        world.enqueue({"functionCalls": [{"name": "reply", "namespace": "mcp__perch", "callId": "call_reply",
                                          "arguments": {"messageId": next_id, "body": "On it."}}]},
                      {"text": "Replied."})
        sent = http("POST", relay + "/api/messages", {"from": "outside-bot", "to": agent, "channel": "ops",
                                                      "subject": "Deploy", "body": "deploy finished; please confirm"})
        assert sent["id"] == next_id, sent
        note = wait_until("the peer notification", lambda: [
            n for n in notifications(NOTIFY_LOG) if n["summary"].startswith("outside-bot")], timeout=30)[-1]
        assert note["summary"] == "outside-bot to your agent in ops: Deploy", note
        assert note["body"] == "deploy finished; please confirm", note
        assert note["actions"] == ["default", "Open", "reply", "Reply"], note["actions"]
        replies = wait_until("the agent's reply on the relay",
                             lambda: http("GET", relay + "/api/messages?for=outside-bot"), timeout=60)
        assert len(replies) == 1, replies
        assert (replies[0]["from"], replies[0]["replyTo"], replies[0]["body"]) == (agent, next_id, "On it."), replies
        # A message to the person: the tray shows it unread until it is read.
        mine = http("POST", relay + "/api/messages", {"from": "outside-bot", "to": person, "body": "lunch?"})
        wait_until("the tray's unread state", lambda: "Perch: 1 unread message" in tray.items(), timeout=30)
        http("POST", url + "/api/peer/read", {"ids": [mine["id"]]}, token=token)
        wait_until("the unread state to clear", lambda: "Perch: Idle" in tray.items(), timeout=30)
    check("a peer message notifies, the agent answers it through Perch's MCP tools, the tray shows unread", peer_loop)

    def quit_from_tray():
        tray.click("Quit Perch")
        app.wait(30)
        assert app.returncode == 0, app.returncode
        assert not os.path.exists(os.path.join(world.data, "server.json"))
    check("Quit in the tray stops Perch", quit_from_tray)
    return results


def webdriver_chat(world):
    """The chat window through WebDriver: prompt, streamed answer, screenshot.
    Perch runs in the tray; tauri-driver starts the chat window process the
    way the tray does (`--window chat` with a login URL in the environment)."""
    app = world.start_desktop(hidden=True)
    url = world.server_url()
    token = keyring_lookup("perch", f"api-token@{world.data}")
    code = http("POST", url + "/api/auth/login-codes", {}, token=token)["code"]
    world.enqueue({"text": "Hello from the desktop window!", "chunks": ["Hello ", "from the ", "desktop window!"], "delayMs": 20})
    driver_log = open(os.path.join(world.root, "tauri-driver.log"), "w")
    driver = subprocess.Popen([os.environ.get("TAURI_DRIVER", "tauri-driver")], stdout=driver_log, stderr=subprocess.STDOUT,
                              env=world.env)
    world.procs.append(driver)
    # WebKitWebDriver does not pass our environment on, so the URL goes in --url.
    wd = WebDriver(binary("PERCH_DESKTOP_BIN", "perch-desktop"),
                   ["--window", "chat", "--data-dir", world.data, "--url", f"{url}/#login={code}&next=/chat"])
    try:
        button = wd.wait_for("button", text="New session")
        wd.call("POST", f"/element/{button}/click")
        box = wd.wait_for("#composer-input:not([disabled])")
        wd.call("POST", f"/element/{box}/value", {"text": "Say hello\ue007"})
        wd.wait_for("[data-testid='agent-message']", text="Hello from the desktop window!")
        wd.wait_for("[data-testid='turn'][data-status='completed']")
        os.makedirs(RESULTS, exist_ok=True)
        shot = os.path.join(RESULTS, "desktop-chat.png")
        time.sleep(0.5)  # let the last paint land before the screenshot (not an assertion)
        wd.screenshot(shot)
        colors = image_colors(shot)
        assert colors > 50, f"the screenshot looks blank ({colors} colours): {shot}"
        return shot
    except Exception:
        os.makedirs(RESULTS, exist_ok=True)
        try:
            wd.screenshot(os.path.join(RESULTS, "desktop-failure.png"))
            with open(os.path.join(RESULTS, "desktop-failure.html"), "w") as f:
                f.write(wd.call("GET", "/source"))
        except Exception:
            pass
        raise
    finally:
        wd.quit()
        driver.terminate()
        subprocess.run(["pkill", "-f", f"perch-desktop --window chat --data-dir {world.data}"])
        app.terminate()  # SIGTERM: Perch stops Codex and exits cleanly
        app.wait(30)
        assert app.returncode == 0, f"perch-desktop exited {app.returncode} on SIGTERM"


def closing_and_reopening_the_window(world):
    """Closing the chat window destroys its webview (the WebKit processes end)
    and leaves Perch in the tray; the tray reopens it at its remembered size."""
    app = world.start_desktop(hidden=False)
    app_pid = world.server_pid()
    window = wait_until("the chat window", lambda: x_window(app_pid), timeout=60)
    wait_until("WebKit processes", lambda: webkit_pids(app_pid), timeout=30)
    subprocess.run(["xdotool", "windowsize", str(window), "700", "500"], check=True)
    wait_until("the resize", lambda: x_geometry(window) == (700, 500))
    # A close that lands while GTK is still settling the resize can be lost;
    # like a person, click close again if the window is still there.
    sent = {"at": 0.0, "count": 0}

    def closed():
        if x_window(app_pid) is None:
            return True
        if time.monotonic() - sent["at"] > 2:
            x_close(window)
            sent.update(at=time.monotonic(), count=sent["count"] + 1)
        return False
    wait_until("the window to go", closed)
    wait_until("the WebKit processes to end", lambda: not webkit_pids(app_pid), timeout=30)
    assert app.poll() is None, "closing the window must not quit Perch"
    assert http("GET", world.server_url() + "/api/health")["status"] == "ok"
    tray = TrayItem(SNW_LOG)
    tray.click("Open Perch")
    reopened = wait_until("the window to come back", lambda: x_window(app_pid), timeout=60)
    assert x_geometry(reopened) == (700, 500), x_geometry(reopened)
    wait_until("WebKit processes again", lambda: webkit_pids(app_pid), timeout=30)
    tray.click("Quit Perch")
    app.wait(30)


INSTALLED = ["/usr/bin/perch-desktop", "/usr/bin/perch", "/usr/lib/perch/codex/bin/codex", "/usr/lib/perch/ui/index.html",
             "/usr/share/applications/Perch.desktop", "/usr/lib/systemd/user/perch.service"]


def installed_package(deb):
    """The .deb as a person installs it: `dpkg -i`, then the installed app
    starts to the tray, runs the Codex and the UI it ships, and answers a
    prompt; `dpkg -r` removes it again."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    if subprocess.run(["dpkg", "-s", "perch"], capture_output=True).returncode == 0:
        raise AssertionError("a perch package is already installed here; remove it (dpkg -r perch) to run this test")
    subprocess.run(sudo + ["dpkg", "-i", deb], check=True, capture_output=True)
    world = World(packaged=True)
    try:
        missing = [path for path in INSTALLED if not os.path.exists(path)]
        assert not missing, f"the package did not install {missing}"
        version = subprocess.run(["/usr/bin/perch", "--version"], capture_output=True, text=True, check=True).stdout
        assert version.startswith("perch "), version
        seen = len(registrations(SNW_LOG))
        app = world.start_desktop(hidden=True, program="/usr/bin/perch-desktop")
        tray = TrayItem(SNW_LOG, after=seen)
        assert "Open Perch" in tray.items()
        url = world.server_url()
        token = keyring_lookup("perch", f"api-token@{world.data}")
        status = wait_until("Codex to be ready", lambda: (lambda s: s if s["codex"]["state"] == "ready" else None)(
            http("GET", url + "/api/status", token=token)), timeout=60)
        assert status["codex"]["bin"] == "/usr/lib/perch/codex/bin/codex", status["codex"]
        with open("/usr/lib/perch/ui/index.html") as f:
            shipped_ui = f.read()
        with urllib.request.urlopen(url + "/") as page:
            assert page.read().decode() == shipped_ui, "the installed app must serve the UI it ships"
        session = http("POST", url + "/api/sessions", {}, token=token)["id"]
        world.enqueue({"text": "Installed and answering."})
        sent = http("POST", f"{url}/api/sessions/{session}/messages", {"text": "are you there?"}, token=token)
        turn = wait_until("the turn to complete", lambda: [
            t for t in http("GET", f"{url}/api/sessions/{session}/history", token=token)["turns"]
            if t["id"] == sent["turnId"] and t["status"] == "completed"], timeout=60)[0]
        assert "Installed and answering." in [item.get("text") for item in turn["items"]], turn
        tray.click("Quit Perch")
        app.wait(30)
        assert app.returncode == 0, app.returncode
    except Exception:
        print("--- installed perch-desktop log (end) ---\n" + world.log(), flush=True)
        raise
    finally:
        world.close()
        subprocess.run(sudo + ["dpkg", "-r", "perch"], check=True, capture_output=True)
    assert not any(os.path.exists(path) for path in INSTALLED), "dpkg -r left files behind"


def main():
    passed, failed = 0, 0
    world = World()
    try:
        for name, error in tray_notifications_and_keyring(world):
            print(("ok   " if error is None else "FAIL ") + name, flush=True)
            if error:
                print(error, flush=True)
                failed += 1
            else:
                passed += 1
        try:
            try:
                shot = webdriver_chat(world)
            except Exception:
                # tauri-driver drops a connection now and then (seen in 1 of
                # 17 sessions on this kind of machine); one retry, said aloud.
                print("note: the WebDriver test failed once; retrying:\n" + traceback.format_exc(), flush=True)
                shot = webdriver_chat(world)
            print(f"ok   the chat window streams an answer through WebDriver; screenshot {shot}", flush=True)
            passed += 1
        except Exception:
            print("FAIL the chat window through WebDriver", flush=True)
            print(traceback.format_exc(), flush=True)
            failed += 1
        try:
            closing_and_reopening_the_window(world)
            print("ok   closing the window ends the WebKit processes, Perch stays in the tray, "
                  "and the tray reopens it at its remembered size", flush=True)
            passed += 1
        except Exception:
            print("FAIL closing and reopening the window", flush=True)
            print(traceback.format_exc(), flush=True)
            failed += 1
        if os.environ.get("PERCH_DEB"):
            try:
                installed_package(os.environ["PERCH_DEB"])
                print(f"ok   the .deb installs, the installed app starts to the tray with its own Codex and UI "
                      f"and answers a prompt, and it removes cleanly ({os.path.basename(os.environ['PERCH_DEB'])})",
                      flush=True)
                passed += 1
            except Exception:
                print("FAIL the installed .deb", flush=True)
                print(traceback.format_exc(), flush=True)
                failed += 1
        if failed:
            print("--- perch-desktop log (end) ---\n" + world.log(), flush=True)
    finally:
        world.close()
    print(f"desktop: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
