// The start page's live part: the app's output as it is printed, the time against its
// timeout, on to the app once it runs, and "Try again" after a failure. Every value comes
// from the data- attributes of #jap-start; text goes into the page with textContent only.
(() => {
  'use strict';
  const root = document.getElementById('jap-start');
  const data = root.dataset;
  const title = data.title;
  const timeout = Number(data.timeout);
  const heading = document.getElementById('jap-heading');
  const state = document.getElementById('jap-state');
  const elapsed = document.getElementById('jap-elapsed');
  const retry = document.getElementById('jap-retry');
  const log = document.getElementById('jap-log');
  let startedAt = performance.now() - Number(data.elapsed) * 1000;
  let failed = data.failed === 'true';
  let leaving = false;

  function append(text, className) {
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text + '\n';
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(span);
    if (atEnd) {
      log.scrollTop = log.scrollHeight;
    }
  }

  function tick() {
    if (!failed) {
      const seconds = Math.floor((performance.now() - startedAt) / 1000);
      elapsed.textContent = `${seconds} s of ${timeout} s`;
    }
  }

  function reason(status) {
    if (status.error) {
      return status.error;
    }
    if (status.state === 'stopped') {
      return `${title} was stopped.`;
    }
    if (status.last_exit_code !== null) {
      return `${title} exited with code ${status.last_exit_code}.`;
    }
    return `${title} is ${status.state}.`;
  }

  function showWaiting() {
    failed = false;
    root.classList.remove('jap-failed');
    heading.textContent = `Starting ${title}…`;
    state.textContent = `Waiting for ${title} to answer; this page goes on to it as soon as it is ready.`;
    retry.hidden = true;
    tick();
  }

  function showFailure(message) {
    failed = true;
    root.classList.add('jap-failed');
    heading.textContent = `${title} could not start`;
    state.textContent = message;
    elapsed.textContent = '';
    retry.hidden = false;
    retry.disabled = false;
  }

  function apply(status) {
    if (status.state === 'running') {
      if (!leaving) {
        leaving = true;
        state.textContent = `${title} is ready; opening it…`;
        window.location.reload(); // the app runs now, so this request is proxied to it
      }
    } else if (['starting', 'idle', 'stopping'].includes(status.state)) {
      if (failed && status.state === 'starting') {
        startedAt = performance.now();
        showWaiting();
      }
    } else {
      showFailure(reason(status));
    }
  }

  async function refresh() {
    const response = await fetch(data.status, {
      credentials: 'same-origin',
      headers: { 'X-XSRFToken': data.xsrf }
    });
    if (response.ok) {
      apply(await response.json());
    }
  }

  // _xsrf: JupyterHub refuses a cookie-authenticated GET in cors mode (an EventSource's,
  // which cannot send headers) without an XSRF token.
  const query = `since=${encodeURIComponent(data.since)}&_xsrf=${encodeURIComponent(data.xsrf)}`;
  const events = new EventSource(`${data.stream}?${query}`);
  events.addEventListener('message', event => {
    const line = JSON.parse(event.data);
    append(line.text, `jap-line jap-${line.stream}`);
  });
  events.addEventListener('state', event => apply(JSON.parse(event.data)));
  // A change between this page's rendering and the subscription has no event: ask once.
  events.addEventListener('open', () => refresh().catch(() => undefined));
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED && !leaving) {
      showFailure('Lost contact with Jupyter (logged out, or Jupyter stopped). Reload the page.');
    }
  });
  window.addEventListener('pagehide', () => events.close());

  retry.addEventListener('click', async () => {
    retry.disabled = true;
    append(`— trying ${title} again —`, 'jap-line jap-note');
    try {
      const response = await fetch(data.start, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'X-XSRFToken': data.xsrf }
      });
      const doc = await response.json();
      if (!response.ok) {
        showFailure(doc.message || `Jupyter answered ${response.status}.`);
        return;
      }
      startedAt = performance.now();
      showWaiting();
      apply(doc);
    } catch (error) {
      showFailure(`Could not ask Jupyter to start ${title}: ${error}`);
    }
  });

  window.setInterval(tick, 1000);
  tick();
})();
