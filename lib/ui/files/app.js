'use strict';
// The dashboard: machines (live from /api/v1/events), one machine (its record, why it gets what
// it gets, its history, state and forget, power and next boot through its BMC), and the config (groups, profiles, templates and the
// problems of the last load). Reads and writes only through /api/v1; every value from a machine
// or a data file goes into the page as text, never as markup.
(() => {
  const auth = window.bootcfgAuth;
  const app = document.getElementById('app');
  const banner = document.getElementById('banner');
  const conn = document.getElementById('conn');
  const KNOWN_STATES = ['discovered', 'assigned', 'provisioning', 'installed'];
  const MAX_ROWS = 500; // rows drawn at most: ~0.3 ms each to build
  // What a Redfish BMC tells of its machine, as the record keeps it.
  const HARDWARE_LABELS = {
    Manufacturer: 'BMC: manufacturer', Model: 'BMC: model', SerialNumber: 'BMC: serial', UUID: 'BMC: UUID',
    SKU: 'BMC: SKU', ProcessorSummary: 'BMC: CPUs', MemorySummary: 'BMC: memory', MACs: 'BMC: NIC MACs',
  };

  // --- Small helpers.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') el.style.cssText = v; // CSSOM: the policy allows no style attributes
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  function ago(ms) {
    if (!ms) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  const when = (ms) => (ms ? new Date(ms).toLocaleString() : '');
  const stateBadge = (state) =>
    h('span', { class: 'state state-' + (KNOWN_STATES.includes(state) ? state : 'other') }, state || '-');
  const machineHref = (id) => '#/machines/' + encodeURIComponent(id);

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // --- The admin API, and what the page says when it cannot reach it.
  let offlineSince = null;
  function setOnline(online, why) {
    if (online) {
      offlineSince = null;
      banner.hidden = true;
      return;
    }
    offlineSince = offlineSince || new Date();
    banner.textContent =
      'The admin API is unreachable since ' + offlineSince.toLocaleTimeString() + ' (' + why +
      '); retrying. What is shown may be out of date.';
    banner.hidden = false;
    conn.textContent = 'offline';
  }

  async function api(path, options = {}) {
    const opts = { ...options, headers: { ...auth.headers(), ...(options.headers || {}) } };
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      setOnline(false, e.message);
      throw new ApiError(0, 'the admin API is unreachable');
    }
    setOnline(true);
    if (res.status === 401) {
      auth.forget();
      throw new ApiError(401, 'the token is no longer accepted');
    }
    const text = await res.text();
    let body = text;
    if ((res.headers.get('content-type') || '').startsWith('application/json')) {
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = text;
      }
    }
    if (!res.ok) throw new ApiError(res.status, (body && body.error) || 'HTTP ' + res.status);
    return body;
  }

  // --- The machines, kept up to date by the event stream.
  const machines = new Map(); // id -> record
  let inventoryOff = false;
  let listLoaded = false;
  const touchedByEvents = new Set(); // ids an event updated while the list was being read
  const fresh = new Map(); // id -> time it last changed, for a short highlight
  let listeners = []; // re-render callbacks of the page on screen

  async function loadMachines() {
    touchedByEvents.clear();
    try {
      const body = await api('/api/v1/machines');
      const seen = new Set();
      for (const r of body.items) {
        seen.add(r.id);
        if (!touchedByEvents.has(r.id)) machines.set(r.id, r);
      }
      for (const id of [...machines.keys()]) if (!seen.has(id) && !touchedByEvents.has(id)) machines.delete(id);
      inventoryOff = false;
    } catch (e) {
      if (e.status === 404) inventoryOff = true;
      else throw e;
    }
    listLoaded = true;
    changed(null);
  }

  function changed(id) {
    if (id) fresh.set(id, Date.now());
    for (const f of listeners) f(id);
  }

  function onEvent(type, data) {
    let d;
    try {
      d = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (type === 'machine' || type === 'machine.state') {
      machines.set(d.id, d);
      touchedByEvents.add(d.id);
      changed(d.id);
    } else if (type === 'machine.forgotten') {
      machines.delete(d.id);
      touchedByEvents.add(d.id);
      changed(d.id);
    } else if (type === 'gap') {
      loadMachines().catch(() => {});
    } else if (type === 'object.put' || type === 'object.deleted') {
      configChanged();
    }
  }

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header). Each
  // connection starts with the next event and the list is read again once it is open: a
  // restarted bootcfgd numbers its events anew, so resuming from an old id could miss some.
  async function streamEvents() {
    for (;;) {
      let reason = 'the event stream ended';
      try {
        const headers = auth.headers();
        const res = await fetch('/api/v1/events', { headers, cache: 'no-store' });
        if (res.status === 401) return auth.forget();
        if (res.status === 404) {
          inventoryOff = true;
          conn.textContent = 'inventory off';
          changed(null);
          return;
        }
        if (!res.ok) throw new Error('HTTP ' + res.status);
        setOnline(true);
        conn.textContent = 'live';
        await loadMachines();
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = 'message', data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) type = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data) onEvent(type, data);
          }
        }
      } catch (e) {
        reason = e.message;
      }
      setOnline(false, reason);
      await sleep(2000);
    }
  }

  // --- Pages.
  const view = { state: '', text: '', sort: 'last_seen_ms', dir: -1 };
  const columns = [
    { key: 'mac', label: 'MAC', width: '15%' },
    { key: 'hostname', label: 'Hostname', width: '14%' },
    { key: 'state', label: 'State', width: '11%' },
    { key: 'arch', label: 'Arch', width: '8%' },
    { key: 'client_ip', label: 'IP', width: '11%' },
    { key: 'group', label: 'Group → profile', width: '21%' },
    { key: 'last_seen_ms', label: 'Last seen', width: '11%' },
    { key: 'boot_count', label: 'Boots', width: '9%', num: true },
  ];

  function matchesText(r, text) {
    if (!text) return true;
    const t = text.toLowerCase();
    return [r.id, r.mac, r.uuid, r.hostname, r.serial, r.arch, r.client_ip, r.group, r.profile, r.state]
      .some((v) => v && String(v).toLowerCase().includes(t));
  }

  function machinesPage() {
    const counts = h('ul', { class: 'counts', 'aria-label': 'Machines per state' });
    const stateSelect = h('select', { id: 'state-filter' });
    const search = h('input', {
      id: 'search', type: 'search', placeholder: 'MAC, hostname, IP, group…', value: view.text,
    });
    const note = h('p', { class: 'note', id: 'table-note', 'aria-live': 'polite' });
    const headRow = h('tr');
    const tbody = h('tbody', { id: 'machine-rows' });
    const table = h('table', { id: 'machines' },
      h('caption', { class: 'sr-only' }, 'Machines, updated live'),
      h('colgroup', {}, columns.map((c) => h('col', { style: 'width:' + c.width }))),
      h('thead', {}, headRow), tbody);
    app.replaceChildren(
      h('h1', {}, 'Machines'), counts,
      h('div', { class: 'filters' },
        h('label', { for: 'state-filter' }, 'State '), stateSelect,
        h('label', { for: 'search' }, 'Search '), search),
      note, table);

    stateSelect.addEventListener('change', () => {
      view.state = stateSelect.value;
      render(true);
    });
    search.addEventListener('input', () => {
      view.text = search.value;
      render(true);
    });

    function renderHead() {
      headRow.replaceChildren(...columns.map((c) => {
        const sorted = view.sort === c.key;
        return h('th', {
          scope: 'col', class: c.num ? 'num' : null,
          'aria-sort': sorted ? (view.dir > 0 ? 'ascending' : 'descending') : 'none',
        }, h('button', {
          type: 'button', 'data-sort': c.key,
          onclick: () => {
            view.dir = view.sort === c.key ? -view.dir : 1;
            view.sort = c.key;
            render(true);
          },
        }, c.label));
      }));
    }

    function renderCounts() {
      const per = new Map(KNOWN_STATES.map((s) => [s, 0]));
      for (const r of machines.values()) per.set(r.state, (per.get(r.state) || 0) + 1);
      const pick = (state) => {
        view.state = view.state === state ? '' : state;
        render(true);
      };
      counts.replaceChildren(
        h('li', {}, h('button', { type: 'button', 'aria-pressed': String(view.state === ''), onclick: () => pick('') },
          'all', h('span', { class: 'n', 'data-count': 'all' }, String(machines.size)))),
        ...[...per].map(([s, n]) => h('li', {}, h('button', {
          type: 'button', 'aria-pressed': String(view.state === s), onclick: () => pick(s),
        }, stateBadge(s), h('span', { class: 'n', 'data-count': s }, String(n))))));
      stateSelect.replaceChildren(h('option', { value: '' }, 'all states'),
        ...[...per.keys()].map((s) => h('option', { value: s, selected: view.state === s }, s)));
    }

    function renderRows() {
      if (inventoryOff) {
        note.textContent = 'The machine inventory is off on this bootcfgd (-state-path is empty).';
        tbody.replaceChildren();
        return;
      }
      const rows = [...machines.values()].filter(
        (r) => (!view.state || r.state === view.state) && matchesText(r, view.text));
      const key = view.sort;
      rows.sort((a, b) => {
        const x = a[key] ?? '', y = b[key] ?? '';
        // Plain code-point order: localeCompare costs ~10x more, felt at 10,000 machines.
        const c = typeof x === 'number' && typeof y === 'number' ? x - y : x < y ? -1 : x > y ? 1 : 0;
        return c * view.dir || (a.id < b.id ? -1 : 1);
      });
      note.textContent = !listLoaded ? 'Loading…'
        : rows.length > MAX_ROWS ? 'Showing ' + MAX_ROWS + ' of ' + rows.length + ' machines: narrow the filter.'
        : rows.length + ' of ' + machines.size + ' machines.';
      const focused = document.activeElement && document.activeElement.closest('#machine-rows')
        ? document.activeElement.getAttribute('href') : null;
      const now = Date.now();
      tbody.replaceChildren(...rows.slice(0, MAX_ROWS).map((r) => h('tr', {
        'data-id': r.id, class: now - (fresh.get(r.id) || 0) < 2000 ? 'fresh' : null,
      },
      h('td', {}, h('a', { href: machineHref(r.id) }, r.mac || r.id)),
      h('td', {}, r.hostname),
      h('td', { 'data-state': r.state }, stateBadge(r.state)),
      h('td', {}, r.arch),
      h('td', {}, r.client_ip),
      h('td', {}, r.group ? r.group + ' → ' + (r.profile || '-') : h('span', { class: 'muted' }, 'none')),
      h('td', { 'data-ms': r.last_seen_ms, title: when(r.last_seen_ms) }, ago(r.last_seen_ms)),
      h('td', { class: 'num' }, String(r.boot_count)))));
      if (focused) {
        const again = tbody.querySelector('a[href="' + CSS.escape(focused) + '"]');
        if (again) again.focus();
      }
    }

    // Coalesced per frame; during a storm of events a redraw waits four times as long as the
    // last one took, so a large table leaves the page responsive. The operator's own clicks and
    // keys redraw at the next frame.
    let frame = 0, timer = 0, cost = 0, last = 0;
    function draw() {
      timer = 0;
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        const t = performance.now();
        renderHead();
        renderCounts();
        renderRows();
        last = performance.now();
        cost = last - t;
      });
    }
    function render(now) {
      if (now === true) {
        clearTimeout(timer);
        return draw();
      }
      if (frame || timer) return;
      const wait = last + 4 * cost - performance.now();
      if (wait <= 0) draw();
      else timer = setTimeout(draw, wait);
    }
    listeners = [() => render()];
    render(true);
  }

  function machineQuery(r) {
    const q = new URLSearchParams();
    for (const k of ['mac', 'uuid', 'hostname', 'serial', 'arch']) if (r[k]) q.set(k, r[k]);
    if (r.state) q.set('state', r.state);
    return q;
  }

  function fields(pairs) {
    return h('dl', { class: 'fields' }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v || '')]));
  }

  function machinePage(id) {
    const status = h('p', { id: 'action-status', role: 'status', 'aria-live': 'polite' });
    const summary = h('section', { class: 'panel', 'aria-labelledby': 'h-record' });
    const history = h('section', { 'aria-labelledby': 'h-history' });
    const selectBox = h('section', { id: 'select', 'aria-labelledby': 'h-select' });
    const title = h('h1', {}, 'Machine ' + id);
    const stateInput = h('input', { id: 'new-state', list: 'state-names', required: true, pattern: '[a-z0-9][a-z0-9_\\-]{0,31}',
      title: 'lower-case letters, digits, - and _ (up to 32)' });
    const dialog = h('dialog', { id: 'confirm-forget', 'aria-labelledby': 'forget-title' },
      h('h2', { id: 'forget-title' }, 'Forget ' + id + '?'),
      h('p', {}, 'Its record and history are deleted. If it boots again it is discovered anew.'),
      h('form', { method: 'dialog', class: 'actions', onsubmit: (event) => {
        if (event.submitter && event.submitter.value === 'forget') forget();
      } },
        h('button', { value: 'cancel', autofocus: true }, 'Cancel'),
        h('button', { value: 'forget', class: 'danger', id: 'forget-confirm' }, 'Forget')));
    // Power through the machine's BMC: shown once it has one. Off and cycle ask first.
    const powerPanel = h('section', { id: 'power', 'aria-labelledby': 'h-power', hidden: true });
    const powerDialog = h('dialog', { id: 'confirm-power', 'aria-labelledby': 'power-title' },
      h('h2', { id: 'power-title' }),
      h('p', {}, 'The machine loses power at once, whatever it is doing.'),
      h('form', { method: 'dialog', class: 'actions', onsubmit: (event) => {
        if (event.submitter && event.submitter.value !== 'cancel') power(event.submitter.value);
      } },
        h('button', { value: 'cancel', autofocus: true }, 'Cancel'),
        h('button', { class: 'danger', id: 'power-confirm' }, 'Confirm')));
    const setForm = h('form', { class: 'actions', id: 'set-state' },
      h('label', { for: 'new-state' }, 'Set state'), stateInput,
      h('datalist', { id: 'state-names' }, [...KNOWN_STATES, 'maintenance'].map((s) => h('option', { value: s }))),
      h('button', { type: 'submit' }, 'Set state'),
      h('button', { type: 'button', class: 'danger', id: 'forget', onclick: () => dialog.showModal() }, 'Forget…'));
    app.replaceChildren(
      h('p', {}, h('a', { href: '#/machines' }, '← All machines')),
      title, status,
      h('div', { class: 'columns' },
        h('div', {}, h('h2', { id: 'h-record' }, 'Record'), summary,
          h('h2', {}, 'Actions'), setForm, powerPanel, h('p', { class: 'note', id: 'no-bmc' },
            'Power and next-boot actions appear here once the machine has a BMC (bootcfg machine set-bmc).')),
        h('div', {}, history)),
      selectBox, dialog, powerDialog);

    setForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const state = stateInput.value.trim();
      try {
        const r = await api('/api/v1/machines/' + encodeURIComponent(id), {
          method: 'PATCH', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ state }),
        });
        machines.set(r.id, r);
        status.textContent = 'State set to ' + r.state + '.';
        stateInput.value = '';
        changed(r.id);
      } catch (e) {
        status.textContent = 'Not changed: ' + e.message;
      }
    });
    // Acts on the submit (synchronous, with its button) rather than on the dialog's close event:
    // that is queued, so a cancel's close can run after the next confirm and read its returnValue.
    async function forget() {
      try {
        await api('/api/v1/machines/' + encodeURIComponent(id), { method: 'DELETE' });
        machines.delete(id);
        location.hash = '#/machines';
      } catch (e) {
        status.textContent = 'Not forgotten: ' + e.message;
      }
    }

    const bmcPath = (part) => '/api/v1/machines/' + encodeURIComponent(id) + '/' + part;
    const powerState = h('strong', { id: 'power-state' }, '…');
    const nextBootState = h('span', { id: 'next-boot-state' }, '…');
    const device = h('select', { id: 'next-boot-device' }, ['pxe', 'http', 'disk'].map((d) => h('option', { value: d }, d)));
    const uefi = h('input', { type: 'checkbox', id: 'next-boot-uefi' });
    const persistent = h('input', { type: 'checkbox', id: 'next-boot-persistent' });
    const bmcLine = h('code', { id: 'bmc-url' });
    function askPower(action) {
      document.getElementById('power-title').textContent = 'Power ' + action + ' ' + id + '?';
      document.getElementById('power-confirm').value = action;
      powerDialog.showModal();
    }
    const nextBootForm = h('form', { class: 'actions', id: 'next-boot' },
      h('label', { for: 'next-boot-device' }, 'Next boot'), device,
      h('label', {}, uefi, ' UEFI'), h('label', {}, persistent, ' every boot'),
      h('button', { type: 'submit' }, 'Set next boot'));
    powerPanel.append(
      h('h2', { id: 'h-power' }, 'Power and next boot'),
      h('p', {}, 'BMC ', bmcLine, ': power ', powerState, ', next boot ', nextBootState),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'power-on', onclick: () => power('on') }, 'Power on'),
        h('button', { type: 'button', class: 'danger', id: 'power-off', onclick: () => askPower('off') }, 'Power off…'),
        h('button', { type: 'button', class: 'danger', id: 'power-cycle', onclick: () => askPower('cycle') }, 'Power cycle…'),
        h('button', { type: 'button', id: 'power-refresh', onclick: () => readPower() }, 'Refresh')),
      nextBootForm);
    function showNextBoot(next) {
      nextBootState.textContent = !next || !next.device ? 'the firmware\'s own order'
        : next.device + (next.uefi ? ' (UEFI)' : '') + (next.persistent ? ', every boot' : ', once');
    }
    // Asks the BMC (seconds, for a slow one): on opening the page, after an action, on Refresh.
    async function readPower() {
      powerState.textContent = '…';
      try {
        const [p, n] = await Promise.all([api(bmcPath('power')), api(bmcPath('next-boot'))]);
        powerState.textContent = p.power;
        showNextBoot(n.next_boot);
      } catch (e) {
        powerState.textContent = 'unknown';
        status.textContent = 'The BMC did not answer: ' + e.message;
      }
    }
    async function power(action) {
      status.textContent = 'Power ' + action + '…';
      try {
        const p = await api(bmcPath('power'), {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ action }),
        });
        powerState.textContent = p.power;
        status.textContent = 'Power ' + action + ': the machine is ' + p.power + '.';
      } catch (e) {
        status.textContent = 'Power ' + action + ' failed: ' + e.message;
      }
    }
    nextBootForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const n = await api(bmcPath('next-boot'), {
          method: 'PUT', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ device: device.value, uefi: uefi.checked, persistent: persistent.checked }),
        });
        showNextBoot(n.next_boot);
        status.textContent = 'Next boot set: ' + nextBootState.textContent + '.';
      } catch (e) {
        status.textContent = 'Next boot not set: ' + e.message;
      }
    });

    let shownState = null, shownBmc = null;
    async function render() {
      const r = machines.get(id);
      if (!r) {
        summary.replaceChildren(h('p', {}, listLoaded ? 'No such machine (forgotten, or never seen).' : 'Loading…'));
        return;
      }
      title.textContent = 'Machine ' + (r.mac || r.id) + (r.hostname ? ' (' + r.hostname + ')' : '');
      summary.replaceChildren(fields([
        ['State', stateBadge(r.state)], ['MAC', r.mac], ['UUID', r.uuid], ['Hostname', r.hostname],
        ['Serial', r.serial], ['Arch', r.arch], ['Client IP', r.client_ip],
        ['Group → profile', r.group ? r.group + ' → ' + (r.profile || '-') : 'none'],
        ['Boots', String(r.boot_count)], ['First seen', when(r.first_seen_ms)],
        ['Last seen', ago(r.last_seen_ms) + ' (' + when(r.last_seen_ms) + ')'],
        ['Last endpoint', r.last_endpoint],
        ...Object.entries(r.hardware || {}).map(([k, v]) =>
          [HARDWARE_LABELS[k] || k, Array.isArray(v) ? v.join(', ')
            : typeof v === 'object' ? Object.entries(v).map(([a, b]) => a + ' ' + b).join(', ') : String(v)]),
      ]));
      const bmcUrl = r.bmc ? r.bmc.url : null;
      powerPanel.hidden = !bmcUrl;
      document.getElementById('no-bmc').hidden = !!bmcUrl;
      if (bmcUrl !== shownBmc) {
        shownBmc = bmcUrl;
        bmcLine.textContent = bmcUrl || '';
        if (bmcUrl) readPower();
      }
      history.replaceChildren(h('h2', { id: 'h-history' }, 'State history'),
        h('table', { id: 'history' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Since'), h('th', { scope: 'col' }, 'By'))),
          h('tbody', {}, [...r.history].reverse().map((e) =>
            h('tr', {}, h('td', {}, stateBadge(e.state)), h('td', { title: e.time }, when(e.time_ms)), h('td', {}, e.by))))));
      if (shownState !== r.state) {
        shownState = r.state;
        renderSelect(r);
      }
    }

    async function renderSelect(r) {
      const q = machineQuery(r);
      let s;
      try {
        s = await api('/api/v1/select?' + q.toString());
      } catch (e) {
        selectBox.replaceChildren(h('h2', { id: 'h-select' }, 'Why it gets what it gets'), h('p', {}, 'Not available: ' + e.message));
        return;
      }
      const parts = Object.entries(s.selected);
      selectBox.replaceChildren(
        h('h2', { id: 'h-select' }, 'Why it gets what it gets'),
        h('p', { class: 'note' }, 'Labels matched: ',
          h('code', { id: 'select-labels' }, Object.entries(s.labels).map(([k, v]) => k + '=' + v).join(' '))),
        h('table', { id: 'select-parts' },
          h('thead', {}, h('tr', {}, ['Part', 'Group', 'Profile', 'Note'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, parts.map(([part, e]) => h('tr', { 'data-part': part },
            h('td', {}, part), h('td', {}, e.group || ''), h('td', {}, e.profile || ''),
            h('td', {}, e.reason || (e.group_source ? 'from ' + e.group_source : '')))))),
        h('h2', {}, 'Every matching group, best first'),
        h('table', { id: 'select-groups' },
          h('thead', {}, h('tr', {}, ['Group', 'Profile', 'Selector entries', 'Source'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, s.matching_groups.map((g, i) => h('tr', { 'data-group': g.group },
            h('td', {}, i === 0 ? h('strong', {}, g.group + ' (wins)') : g.group), h('td', {}, g.profile),
            h('td', { class: 'num' }, String(g.selector_size)), h('td', {}, g.source))))),
        h('p', { class: 'note', id: 'select-rule' }, 'Tie rule: ' + s.rule));
    }

    listeners = [(changedId) => {
      if (!changedId || changedId === id) render();
    }];
    render();
    if (!listLoaded) loadMachines().catch(() => {});
  }

  let configChanged = () => {};
  function configPage() {
    const problems = h('section', { id: 'problems', 'aria-labelledby': 'h-problems' });
    const body = h('div', {});
    app.replaceChildren(h('h1', {}, 'Config'),
      h('p', { class: 'actions' }, h('span', { class: 'note' }, 'Read-only: write through the admin API or the data directory.'),
        h('button', { type: 'button', id: 'reload-config', onclick: () => load() }, 'Reload')),
      problems, body);

    const jsonDetails = (obj) => h('details', {}, h('summary', {}, 'JSON'), h('pre', {}, JSON.stringify(obj, null, 2)));
    const selector = (sel) => Object.entries(sel || {}).map(([k, v]) => k + '=' + v).join(', ') || '(default group)';

    async function load() {
      let got;
      try {
        got = await Promise.all(['problems', 'groups', 'profiles', 'ignition', 'cloud', 'generic']
          .map((c) => api('/api/v1/' + c)));
      } catch (e) {
        body.replaceChildren(h('p', {}, 'Cannot read the config: ' + e.message));
        return;
      }
      const [p, groups, profiles, ...templates] = got;
      const root = p.source + '/';
      const shown = (path) => (path && path.startsWith(root) ? path.slice(root.length) : path);
      problems.replaceChildren(h('h2', { id: 'h-problems' }, 'Problems of the last load'),
        p.items.length === 0
          ? h('p', { class: 'ok-box' }, 'None: every file of ' + p.source + ' loaded.')
          : h('div', { class: 'problems-box' },
            h('p', {}, p.items.length + (p.items.length === 1 ? ' problem' : ' problems') + ': what a broken file holds is skipped; the rest is served.'),
            h('ul', { class: 'problems' }, p.items.map((i) => h('li', {}, i.text)))));
      body.replaceChildren(
        h('h2', {}, 'Groups (' + groups.items.length + ')'),
        h('table', { id: 'groups' },
          h('thead', {}, h('tr', {}, ['Id', 'Profile', 'Selector', 'Source', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, groups.items.map((g) => h('tr', {},
            h('td', {}, g.id), h('td', {}, g.profile), h('td', {}, selector(g.selector)),
            h('td', {}, shown(g.source)), h('td', {}, jsonDetails(g)))))),
        h('h2', {}, 'Profiles (' + profiles.items.length + ')'),
        h('table', { id: 'profiles' },
          h('thead', {}, h('tr', {}, ['Id', 'Name', 'Kernel', 'Source', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, profiles.items.map((pr) => h('tr', {},
            h('td', {}, pr.id), h('td', {}, pr.name || ''), h('td', {}, (pr.boot && pr.boot.kernel) || h('span', { class: 'muted' }, 'none: exits to the disk')),
            h('td', {}, shown(pr.source)), h('td', {}, jsonDetails(pr)))))),
        h('h2', {}, 'Templates'),
        h('table', { id: 'templates' },
          h('thead', {}, h('tr', {}, ['Kind', 'Name', 'Size', ''].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ['ignition', 'cloud', 'generic'].flatMap((kind, i) => templates[i].items.map((t) => {
            const pre = h('pre', {}, '…');
            const d = h('details', {
              ontoggle: async () => {
                if (!d.open || pre.dataset.loaded) return;
                try {
                  const text = await api('/api/v1/' + kind + '/' + encodeURIComponent(t.name));
                  pre.textContent = typeof text === 'string' ? text : JSON.stringify(text, null, 2);
                  pre.dataset.loaded = '1';
                } catch (e) {
                  pre.textContent = 'Cannot read it: ' + e.message;
                }
              },
            }, h('summary', {}, 'Text'), pre);
            return h('tr', {}, h('td', {}, kind), h('td', {}, t.name), h('td', { class: 'num' }, String(t.size)), h('td', {}, d));
          })))));
    }
    configChanged = () => load();
    listeners = [];
    load();
  }

  // --- Routing: #/machines, #/machines/ID, #/config.
  function route() {
    configChanged = () => {};
    const hash = location.hash || '#/machines';
    for (const a of document.querySelectorAll('nav a'))
      a.toggleAttribute('aria-current', false);
    let page = 'machines';
    if (hash.startsWith('#/machines/')) machinePage(decodeURIComponent(hash.slice('#/machines/'.length)));
    else if (hash === '#/config') {
      page = 'config';
      configPage();
    } else machinesPage();
    const link = document.querySelector('nav a[data-page="' + page + '"]');
    if (link) link.setAttribute('aria-current', 'page');
    document.title = 'bootcfg: ' + page;
  }

  // "12 s ago" keeps counting without a reload.
  setInterval(() => {
    for (const td of document.querySelectorAll('td[data-ms]')) td.textContent = ago(Number(td.dataset.ms));
  }, 1000);

  const logout = document.getElementById('logout');
  logout.hidden = !auth.hasToken();
  logout.addEventListener('click', () => auth.forget());
  window.addEventListener('hashchange', route);
  route();
  streamEvents();
})();
