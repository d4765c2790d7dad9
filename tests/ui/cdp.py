"""A small Chrome DevTools Protocol client for tests: Debian's Chromium, headless, driven over
--remote-debugging-pipe (fds 3 and 4, NUL-separated JSON), so it needs no WebSocket library and
opens no debugging port. Only the commands the dashboard test uses."""

import base64
import fcntl
import json
import os
import subprocess
import threading
import time


class CdpError(Exception):
    pass


class Browser:
    def __init__(self, chromium, user_data_dir, width=1280, height=900):
        os.makedirs(user_data_dir, exist_ok=True)
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Above any fd the child could have at 3 or 4, so the dup2s below cannot clobber them.
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 100)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 100)
        os.close(to_child_r)
        os.close(from_child_w)

        def fds():
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
             "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--user-data-dir=" + user_data_dir,
             "--window-size=%d,%d" % (width, height), "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(user_data_dir, "chromium.log"), "wb"))
        os.close(child_in)
        os.close(child_out)
        self._next = 0
        self._replies = {}
        self._cv = threading.Condition()
        self.events = []  # (method, params, sessionId) as they came
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                with self._cv:
                    self._replies[None] = "closed"
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("method"), msg.get("params", {}),
                                            msg.get("sessionId")))
                    self._cv.notify_all()

    def call(self, method, params=None, timeout=30):
        with self._cv:
            self._next += 1
            n = self._next
        msg = {"id": n, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while n not in self._replies:
                if None in self._replies:
                    raise CdpError("chromium went away during " + method)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError(method + ": no answer in %ds" % timeout)
                self._cv.wait(left)
            reply = self._replies.pop(n)
        if "error" in reply:
            raise CdpError(method + ": " + reply["error"].get("message", str(reply["error"])))
        return reply.get("result", {})

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CdpError("evaluate %r: %s" % (expression[:80], d.get("exception", {}).get(
                "description", d.get("text"))))
        return r["result"].get("value")

    def wait_for(self, expression, timeout=5.0, interval=0.05):
        """Polls until the expression is truthy (in JavaScript); returns seconds taken."""
        start = time.monotonic()
        value = None
        while time.monotonic() - start < timeout:
            try:
                value = self.evaluate("Boolean(%s)" % expression)
            except CdpError:
                value = None
            if value:
                return time.monotonic() - start
            time.sleep(interval)
        raise CdpError("not true within %.1fs: %s (last: %r)" % (timeout, expression, value))

    def navigate(self, url):
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete' && location.href.startsWith(%s)"
                      % json.dumps(url.split("#")[0]))

    def reload(self):
        self.call("Page.reload", {"ignoreCache": True})
        time.sleep(0.2)
        self.wait_for("document.readyState === 'complete'")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    _KEYS = {"Enter": ("Enter", 13, "\r"), "Tab": ("Tab", 9, ""), "Escape": ("Escape", 27, ""),
             "Space": (" ", 32, " ")}

    def press(self, name):
        key, code, text = self._KEYS[name]
        base = {"key": key, "code": name if name != "Space" else "Space",
                "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code}
        down = dict(base, type="keyDown")
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", down)
        self.call("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def type_text(self, text):
        self.call("Input.insertText", {"text": text})

    def problems(self, since=0):
        """Script errors and policy violations the page reported (from event number since)."""
        out = []
        for method, params, _ in self.events[since:]:
            if method == "Runtime.exceptionThrown":
                d = params["exceptionDetails"]
                out.append("exception: " + d.get("exception", {}).get("description",
                                                                     d.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append("log: " + params["entry"]["text"])
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in params["args"]))
        return out

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except CdpError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
