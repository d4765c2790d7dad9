#!/usr/bin/env python3
"""Keeps the dashboard's machines page open in headless Chromium while real clients boot (the
QEMU end-to-end test) and reports, for each MAC, how long after bootcfgd logged the machine's
first boot-script request its row appeared, without a reload; for each MAC=STATE, how long
after the machine's check-in its row showed that state. Ends when all of them are seen or
STOP_FILE exists; prints "appeared: MAC after N.NN s" / "state: MAC STATE after N.NN s" or
"missing: ..." for each.
Usage: dashboard_watch.py UI_URL BOOTCFGD_LOG STOP_FILE SCREENSHOT MAC[=STATE]..."""

import datetime
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402

ui, log, stop_file, screenshot = sys.argv[1:5]
macs = [a for a in sys.argv[5:] if "=" not in a]
states = [tuple(a.split("=", 1)) for a in sys.argv[5:] if "=" in a]
profile = tempfile.mkdtemp(prefix="bootcfg-watch.")
b = Browser("/usr/bin/chromium", profile)
try:
    b.navigate(ui)
    b.wait_for("document.getElementById('conn').textContent === 'live'", timeout=20)
    # The time each row first exists, taken in the page as it changes.
    b.evaluate("""window.appeared = {}; window.stateAt = {}; window.notReloaded = true;
      new MutationObserver(() => {
        for (const tr of document.querySelectorAll('#machine-rows tr')) {
          if (!(tr.dataset.id in window.appeared)) window.appeared[tr.dataset.id] = Date.now();
          const key = tr.dataset.id + '=' + tr.querySelector('td[data-state]').dataset.state;
          if (!(key in window.stateAt)) window.stateAt[key] = Date.now();
        }
      }).observe(document.getElementById('app'), {childList: true, subtree: true});""")
    print("watching", ui, flush=True)
    appeared = {}
    while not os.path.exists(stop_file):
        appeared, state_at = b.evaluate("[window.appeared, window.stateAt]")
        if all(m in appeared for m in macs) and all(m + "=" + st in state_at for m, st in states):
            break
        time.sleep(0.2)
    time.sleep(0.5)
    appeared, state_at = b.evaluate("[window.appeared, window.stateAt]")
    b.screenshot(screenshot)
    reloaded = not b.evaluate("window.notReloaded === true")
finally:
    b.close()

text = open(log).read()


def logged_at(line):
    return datetime.datetime.fromisoformat(line.group(1)).timestamp() * 1000


for mac, state in states:
    checkin = re.search(r"^(\S+) \S+ \S+ (?:GET|POST) /checkin\?id=%s&state=%s&\S* 200 " % (re.escape(mac), state),
                        text, re.M)
    key = mac + "=" + state
    if key not in state_at or not checkin:
        print("missing: %s %s (shown %s, check-in %s)" % (mac, state, key in state_at, bool(checkin)))
        continue
    print("state: %s %s after %.2f s%s" % (mac, state, (state_at[key] - logged_at(checkin)) / 1000,
                                           " (page reloaded)" if reloaded else ""))
for mac in macs:
    hexhyp = mac.replace(":", "-")
    first = re.search(r"^(\S+) \S+ \S+ GET /ipxe\?\S*mac=(?:%s|%s)" % (re.escape(hexhyp), re.escape(mac)),
                      text, re.M | re.I)
    if mac not in appeared or not first:
        print("missing: %s (row %s, request %s)" % (mac, mac in appeared, bool(first)))
        continue
    at = logged_at(first)
    print("appeared: %s after %.2f s%s" % (mac, (appeared[mac] - at) / 1000,
                                            " (page reloaded)" if reloaded else ""))
