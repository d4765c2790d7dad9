#!/usr/bin/env python3
"""Keeps the dashboard's machines page open in headless Chromium while real clients boot (the
QEMU end-to-end test) and reports, for each MAC, how long after bootcfgd logged the machine's
first boot-script request its row appeared, without a reload. Ends when every MAC has appeared
or STOP_FILE exists; prints "appeared: MAC after N.NN s" or "missing: MAC" per MAC.
Usage: dashboard_watch.py UI_URL BOOTCFGD_LOG STOP_FILE SCREENSHOT MAC..."""

import datetime
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402

ui, log, stop_file, screenshot, macs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
profile = tempfile.mkdtemp(prefix="bootcfg-watch.")
b = Browser("/usr/bin/chromium", profile)
try:
    b.navigate(ui)
    b.wait_for("document.getElementById('conn').textContent === 'live'", timeout=20)
    # The time each row first exists, taken in the page as it changes.
    b.evaluate("""window.appeared = {}; window.notReloaded = true;
      new MutationObserver(() => {
        for (const tr of document.querySelectorAll('#machine-rows tr'))
          if (!(tr.dataset.id in window.appeared)) window.appeared[tr.dataset.id] = Date.now();
      }).observe(document.getElementById('app'), {childList: true, subtree: true});""")
    print("watching", ui, flush=True)
    appeared = {}
    while not os.path.exists(stop_file):
        appeared = b.evaluate("window.appeared")
        if all(m in appeared for m in macs):
            break
        time.sleep(0.2)
    time.sleep(0.5)
    appeared = b.evaluate("window.appeared")
    b.screenshot(screenshot)
    reloaded = not b.evaluate("window.notReloaded === true")
finally:
    b.close()

text = open(log).read()
for mac in macs:
    hexhyp = mac.replace(":", "-")
    first = re.search(r"^(\S+) \S+ \S+ GET /ipxe\?\S*mac=(?:%s|%s)" % (re.escape(hexhyp), re.escape(mac)),
                      text, re.M | re.I)
    if mac not in appeared or not first:
        print("missing: %s (row %s, request %s)" % (mac, mac in appeared, bool(first)))
        continue
    at = datetime.datetime.fromisoformat(first.group(1)).timestamp() * 1000
    print("appeared: %s after %.2f s%s" % (mac, (appeared[mac] - at) / 1000,
                                            " (page reloaded)" if reloaded else ""))
