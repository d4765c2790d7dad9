'use strict';
// The login page: asks for a bearer token when the listener wants one, keeps it for the tab
// (sessionStorage), and loads the dashboard's script with it: nothing but this page is served
// without credentials.
(() => {
  const KEY = 'bootcfg.token';
  const form = document.getElementById('login');
  const error = document.getElementById('login-error');
  const banner = document.getElementById('banner');
  const headers = () => {
    const token = sessionStorage.getItem(KEY);
    return token ? { Authorization: 'Bearer ' + token } : {};
  };
  window.bootcfgAuth = {
    headers,
    hasToken: () => sessionStorage.getItem(KEY) !== null,
    forget() {
      sessionStorage.removeItem(KEY);
      location.reload();
    },
  };

  async function load() {
    let res;
    try {
      res = await fetch('app.js', { headers: headers(), cache: 'no-cache' });
    } catch (e) {
      banner.textContent = 'The admin API is unreachable (' + e.message + '); retrying every 2 s.';
      banner.hidden = false;
      setTimeout(load, 2000);
      return;
    }
    banner.hidden = true;
    if (res.status === 401) {
      const refused = sessionStorage.getItem(KEY) !== null;
      sessionStorage.removeItem(KEY);
      form.hidden = false;
      error.textContent = refused ? 'That token was refused: check it and try again.' : '';
      form.token.focus();
      return;
    }
    if (!res.ok) {
      banner.textContent = 'The dashboard did not load: HTTP ' + res.status + '.';
      banner.hidden = false;
      return;
    }
    form.hidden = true;
    const script = document.createElement('script');
    script.src = URL.createObjectURL(await res.blob());
    document.body.appendChild(script);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, form.token.value.trim());
    form.token.value = '';
    load();
  });
  load();
})();
