"""Shared parts of the desktop tests and benchmark: throwaway dirs, the
scripted model, the perch-desktop process, D-Bus helpers for the tray and
notifications, a minimal W3C WebDriver client, and /proc readings.

Runs inside `tests/desktop/run` (Xvfb + a private D-Bus session + unlocked
gnome-keyring + the test notification server and tray watcher).
"""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import dbus

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RESULTS = os.environ.get("PERCH_DESKTOP_RESULTS", os.path.join(REPO, "test-results", "desktop"))
CODEX_SUFFIX = "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"


def target_dirs():
    dirs = [os.environ.get("CARGO_TARGET_DIR"), "/root/.cache/perch-target", os.path.join(REPO, "target")]
    return [d for d in dirs if d]


def binary(env_name, name):
    if os.environ.get(env_name):
        return os.environ[env_name]
    for d in target_dirs():
        for profile in ("debug", "release"):
            path = os.path.join(d, profile, name)
            if os.path.exists(path):
                return path
    raise SystemExit(f"{name} not built (set {env_name})")


def window_binary():
    """`perch-window`, which the tray runs next to itself."""
    return os.path.join(os.path.dirname(binary("PERCH_DESKTOP_BIN", "perch-desktop")), "perch-window")


def codex_bin():
    return os.environ.get("PERCH_CODEX_BIN") or os.path.join(REPO, "tools/codex", CODEX_SUFFIX)


def wait_until(what, check, timeout=30.0, interval=0.05):
    """Polls `check` until it returns a truthy value (an event we cannot
    subscribe to from here, such as a file appearing). The timeout only
    bounds a hang; it is not a speed assertion."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


class World:
    """Throwaway dirs, the scripted model and Perch's config for one run."""

    def __init__(self, packaged=False, provider=True):
        """`packaged`: the config names no Codex binary, so Perch looks for
        it the way an installed one does. `provider=False`: no `[provider]`,
        so Codex uses OpenAI and, with its fresh home, nobody is signed in
        (the first run); ChatGPT's sign-in goes to the scripted model's
        stand-in issuer."""
        self.root = tempfile.mkdtemp(prefix="perch-desktop-")
        for d in ("data", "codex_home", "tmp", "work"):
            os.makedirs(os.path.join(self.root, d))
        with open(os.path.join(self.root, "codex_home/config.toml"), "w") as f:
            f.write("[features]\nplugins = false\n")
        self.data = os.path.join(self.root, "data")
        self.procs = []
        model = subprocess.Popen(
            [binary("PERCH_SCRIPTED_MODEL_BIN", "scripted-model"), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.root, "model.log"), "w"), text=True,
        )
        self.procs.append(model)
        line = model.stdout.readline().strip()
        assert line.startswith("listening "), line
        self.model_url = line.split()[1]
        if not provider:
            with open(os.path.join(self.root, "codex_home/config.toml"), "w") as f:
                f.write(f"chatgpt_base_url = {json.dumps(self.model_url + '/backend-api/')}\n\n"
                        "[features]\nplugins = false\n")
        with open(os.path.join(self.data, "config.toml"), "w") as f:
            f.write(
                "[codex]\n"
                + ("" if packaged else f"bin = {json.dumps(codex_bin())}\n") +
                f"home = {json.dumps(os.path.join(self.root, 'codex_home'))}\n"
                'approval_policy = "guarded"\nmodel = "mock-model"\n'
                f"cwd = {json.dumps(os.path.join(self.root, 'work'))}\n\n"
                + ("[provider]\nid = \"scripted\"\n"
                   f"base_url = {json.dumps(self.model_url + '/v1')}\n" if provider else "")
            )
        self.env = dict(os.environ, TMPDIR=os.path.join(self.root, "tmp"), PERCH_LOG="info")
        if not provider:
            for name in ("OPENAI_API_KEY", "CODEX_API_KEY"):
                self.env.pop(name, None)
            self.env["CODEX_APP_SERVER_LOGIN_ISSUER"] = self.model_url
            self.env["OPENAI_BASE_URL"] = self.model_url + "/v1"
        self.env.pop("PERCH_API_TOKEN", None)
        self.env.pop("PERCH_SECRET_STORE", None)
        if packaged:
            self.env.pop("PERCH_CODEX_BIN", None)

    def enqueue(self, *scripts):
        http("POST", self.model_url + "/_control/enqueue", list(scripts))

    def desktop_args(self, hidden=True):
        args = ["--data-dir", self.data, "--listen", "127.0.0.1:0"]
        return args + (["--hidden"] if hidden else [])

    def start_desktop(self, hidden=True, program=None):
        log = open(os.path.join(self.root, "desktop.log"), "a")
        proc = subprocess.Popen(
            [program or binary("PERCH_DESKTOP_BIN", "perch-desktop")] + self.desktop_args(hidden),
            env=self.env, cwd=os.path.join(self.root, "work"), stdout=log, stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def server_url(self):
        path = os.path.join(self.data, "server.json")

        def read():
            try:
                with open(path) as f:
                    return json.load(f).get("url")
            except (OSError, ValueError):
                return None

        return wait_until("server.json", read, timeout=60)

    def server_pid(self):
        self.server_url()
        with open(os.path.join(self.data, "server.json")) as f:
            return int(json.load(f)["pid"])

    def log(self):
        try:
            with open(os.path.join(self.root, "desktop.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if not os.environ.get("PERCH_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


def http(method, url, body=None, token=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode()
            return json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{method} {url}: {e.code} {e.read().decode()}") from None


def keyring_lookup(service, username):
    out = subprocess.run(["secret-tool", "lookup", "service", service, "username", username],
                         capture_output=True, text=True)
    return out.stdout.strip() or None


# ----------------------------------------------------------------- tray (SNI)

def registrations(path):
    """The watcher's log: one `ns bus_name path` line per registration."""
    try:
        with open(path) as f:
            return [l.split() for l in f if l.strip()]
    except OSError:
        return []


class TrayItem:
    """The app's StatusNotifierItem and its dbusmenu, as a panel sees them."""

    def __init__(self, registrations_file, after=0):
        """The newest item registered, once more than `after` have been."""
        def registered():
            lines = registrations(registrations_file)
            return lines[-1] if len(lines) > after else None

        self.registered_ns, self.bus_name, self.path = registered_line = wait_until("tray registration", registered)
        self.registered_ns = int(registered_line[0])
        bus = dbus.SessionBus()
        item = bus.get_object(self.bus_name, self.path)
        self._props = dbus.Interface(item, dbus.PROPERTIES_IFACE)
        self.properties = self.property_values()
        self.menu = dbus.Interface(bus.get_object(self.bus_name, self.properties["Menu"]), "com.canonical.dbusmenu")

    def property_values(self):
        """The item's properties as a panel reads them now."""
        return self._props.GetAll("org.kde.StatusNotifierItem")

    def items(self):
        """{label: (id, properties)} of the top-level menu items."""
        _, (_, _, children) = self.menu.GetLayout(0, -1, [])
        found = {}
        for child in children:
            item_id, props, _ = child
            label = str(props.get("label", "")).replace("_", "")
            if label:
                found[label] = (int(item_id), {str(k): v for k, v in props.items()})
        return found

    def item(self, prefix):
        for label, entry in self.items().items():
            if label.startswith(prefix):
                return label, entry
        raise AssertionError(f"no tray item starting with {prefix!r} in {list(self.items())}")

    def click(self, prefix):
        _, (item_id, _) = self.item(prefix)
        self.menu.Event(item_id, "clicked", dbus.Int32(0, variant_level=1), dbus.UInt32(0))


# ------------------------------------------------------------- notifications

def notifications(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except OSError:
        return []


def invoke_action(notification_id, action):
    bus = dbus.SessionBus()
    server = bus.get_object("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
    server.InvokeAction(dbus.UInt32(notification_id), action, dbus_interface="dev.perch.Test")


# ----------------------------------------------------------------- WebDriver

class WebDriver:
    """Just enough W3C WebDriver, over tauri-driver (which starts the app)."""

    def __init__(self, application, args, port=4444):
        self.base = f"http://127.0.0.1:{port}"
        wait_until("tauri-driver", self._ready, timeout=30, interval=0.2)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {
            "application": application, "args": args}}}}
        self.session = http("POST", self.base + "/session", caps, timeout=120)["value"]["sessionId"]

    def _ready(self):
        try:
            return http("GET", self.base + "/status", timeout=2) is not None
        except Exception:
            return False

    def call(self, method, path, body=None):
        if body is None and method != "GET":
            body = {}
        url = f"{self.base}/session/{self.session}{path}"
        try:
            return http(method, url, body, timeout=120)["value"]
        except ConnectionResetError:
            # tauri-driver drops a command now and then (its log: "client
            # error (SendRequest) ... Connection reset by peer", its pooled
            # connection to WebKitWebDriver): send it once more. A command
            # that did land twice shows as a wrong page, never as a pass.
            return http(method, url, body, timeout=120)["value"]

    def find(self, css):
        found = self.call("POST", "/elements", {"using": "css selector", "value": css})
        return [next(iter(e.values())) for e in found]

    def wait_for(self, css, text=None, timeout=60):
        def present():
            for element in self.find(css):
                if text is None or text in self.call("GET", f"/element/{element}/text"):
                    return element
            return None

        return wait_until(f"{css} {text or ''}".strip(), present, timeout=timeout, interval=0.2)

    def texts(self, css):
        """The text of every element matching `css`, in document order."""
        return [self.text(e) for e in self.find(css)]

    def text(self, element):
        return self.call("GET", f"/element/{element}/text")

    def attribute(self, element, name):
        return self.call("GET", f"/element/{element}/attribute/{name}")

    def property(self, element, name):
        return self.call("GET", f"/element/{element}/property/{name}")

    def click(self, element):
        self.call("POST", f"/element/{element}/click")

    def type(self, element, text, clear=False):
        """Keystrokes into a field (`\\ue007` is Enter); `clear` empties it first."""
        if clear:
            self.call("POST", f"/element/{element}/clear")
        self.call("POST", f"/element/{element}/value", {"text": text})

    def screenshot(self, path):
        """WebKitWebDriver takes the screenshot at the window's next frame, and
        an idle page draws none (the call hangs): a style tick that changes no
        pixel gives it frames while it waits."""
        import base64
        self.call("POST", "/execute/sync", {"args": [], "script": (
            "let n = 0; window.__perchTick = setInterval(() => "
            "document.documentElement.style.setProperty('--perch-screenshot-tick', String(n++)), 50);")})
        try:
            png = base64.b64decode(self.call("GET", "/screenshot"))
        finally:
            self.call("POST", "/execute/sync", {"args": [], "script": (
                "clearInterval(window.__perchTick); "
                "document.documentElement.style.removeProperty('--perch-screenshot-tick');")})
        with open(path, "wb") as f:
            f.write(png)

    def quit(self):
        try:
            http("DELETE", f"{self.base}/session/{self.session}", timeout=30)
        except Exception:
            pass


# -------------------------------------------------------------------- /proc

def children_of(pid):
    """Every descendant pid of `pid`."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def webkit_pids(app_pid):
    return [p for p in children_of(app_pid) if comm(p).startswith("WebKit")]


def image_colors(path):
    out = subprocess.run(["identify", "-format", "%k", path], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


# ----------------------------------------------------------------------- X11

def window_process(app_pid):
    """The pid of the app's window process, or None."""
    return next((pid for pid in children_of(app_pid) if comm(pid) == "perch-window"), None)


def x_window(app_pid, title="Perch"):
    """The visible top-level window named `title` of the app's window process, or None."""
    pid = window_process(app_pid)
    if pid is None:
        return None
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(pid), "--name", f"^{title}$"],
                         capture_output=True, text=True)
    ids = out.stdout.split()
    return int(ids[0]) if ids else None


def x_geometry(window_id):
    out = subprocess.run(["xdotool", "getwindowgeometry", "--shell", str(window_id)], capture_output=True, text=True,
                         check=True)
    values = dict(line.split("=", 1) for line in out.stdout.split())
    return int(values["WIDTH"]), int(values["HEIGHT"])


def x_close(window_id):
    """What a window manager does when the close button is clicked: send
    WM_DELETE_WINDOW (xdotool's windowclose would destroy the window)."""
    from Xlib import X, display, protocol
    d = display.Display()
    window = d.create_resource_object("window", window_id)
    protocols = d.intern_atom("WM_PROTOCOLS")
    delete = d.intern_atom("WM_DELETE_WINDOW")
    event = protocol.event.ClientMessage(window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
    window.send_event(event, event_mask=X.NoEventMask)
    d.flush()
    d.close()
