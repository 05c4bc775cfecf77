"""Open the report in headless Chromium over the DevTools protocol: does it render, does every image load, are
there console errors, do the contents links resolve; optionally a screenshot. Needs the `chromium` binary and
the websocket-client package (the dev extra).

    python -m deeplearn.lecture.browser DIR/report.html [--screenshot top.png] [--width 1200] [--height 900]
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]

CHECK_JS = """(() => {
  const imgs = [...document.images];
  const links = [...document.querySelectorAll('nav a[href^="#"]')];
  return {
    title: document.title,
    sections: document.querySelectorAll('main section').length,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    links: links.length,
    dangling: links.filter(a => !document.getElementById(a.getAttribute('href').slice(1)))
                   .map(a => a.getAttribute('href')),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    height: document.documentElement.scrollHeight,
  };
})()"""


def chromium() -> str | None:
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One headless Chromium with one page, driven over its DevTools websocket."""

    def __init__(self, binary: str | None = None, timeout: float = 30.0):
        import websocket  # websocket-client

        self.binary = binary or chromium()
        if not self.binary:
            raise RuntimeError("no chromium binary on PATH (apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="deeplearn-chromium-")
        self.proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = self._port(timeout)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout).read())
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self.timeout, self._id, self.events = timeout, 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _port(self, timeout: float) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.proc.returncode} before it listened")
            time.sleep(0.05)
        raise RuntimeError(f"{self.binary} did not open its DevTools port in {timeout:.0f} s")

    def call(self, method: str, **params) -> dict:
        """Send one command; events that arrive before its answer are kept in self.events."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, event: str) -> dict:
        for i, msg in enumerate(self.events):
            if msg.get("method") == event:
                return self.events.pop(i)
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == event:
                return msg
            self.events.append(msg)
        raise TimeoutError(event)

    def open(self, url: str, width: int = 1200, height: int = 900, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=mobile)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"script error: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m.get("method") == "Runtime.exceptionThrown":
                out.append(p.get("exceptionDetails", {}).get("text", "exception"))
            elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        return out

    def screenshot(self, path: str | Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_report(html: str | Path, screenshot: str | Path | None = None, width: int = 1200, height: int = 900,
                 mobile: bool = False) -> dict:
    """Load the page; the CHECK_JS facts plus `errors` (console errors), with an optional screenshot."""
    url = Path(html).resolve().as_uri()
    with Page() as page:
        page.open(url, width, height, mobile)
        facts = page.evaluate(CHECK_JS)
        time.sleep(0.2)  # late console messages
        page.evaluate("0")
        facts["errors"] = page.errors()
        if screenshot:
            page.screenshot(screenshot)
    return facts


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html")
    ap.add_argument("--screenshot")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--mobile", action="store_true")
    a = ap.parse_args(argv)
    facts = check_report(a.html, a.screenshot, a.width, a.height, a.mobile)
    print(json.dumps(facts, indent=1))
    bad = facts["broken"] or facts["dangling"] or facts["errors"] or facts["sections"] == 0
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
