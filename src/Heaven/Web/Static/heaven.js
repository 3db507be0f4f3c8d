// Heaven's pages: relative times, the live log, confirmations for dangerous buttons.
// Plain script, no framework, no build step. The pages run under a strict Content-Security-Policy:
// nothing here writes markup from data (text goes in through textContent) or sets inline styles.
'use strict';

(() => {
  // ---- Relative times -------------------------------------------------------------------------
  // Same wording as RelativeTime.Text on the server: change one, change the other.

  function relativeText(at, now) {
    const seconds = Math.floor((now - at) / 1000);
    const distance = Math.abs(seconds);
    let span;
    if (distance < 60) {
      return 'just now';
    } else if (distance < 3600) {
      span = `${Math.floor(distance / 60)} min`;
    } else if (distance < 86400) {
      span = `${Math.floor(distance / 3600)} h`;
    } else if (distance < 30 * 86400) {
      const days = Math.floor(distance / 86400);
      span = days === 1 ? '1 day' : `${days} days`;
    } else {
      return new Date(at).toISOString().slice(0, 10);
    }
    return seconds < 0 ? `in ${span}` : `${span} ago`;
  }

  function updateRelativeTimes() {
    const now = Date.now();
    for (const element of document.querySelectorAll('time[data-relative]')) {
      const at = Date.parse(element.getAttribute('datetime'));
      if (Number.isNaN(at)) continue;
      const text = relativeText(at, now);
      if (element.textContent !== text) element.textContent = text;
      if (!element.title) element.title = new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    }
  }

  // ---- ANSI colours ---------------------------------------------------------------------------
  // Deploy tools colour their output with SGR escape sequences (ESC [ ... m). Those become spans
  // with classes (heaven.css colours them); every other escape sequence is dropped.

  // CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ESC \), two-byte escapes, a lone ESC.
  const ESCAPES = /\x1b(?:\[([0-?]*)[ -\/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_]|$)/g;
  // Other control characters (tabs stay) are not text either.
  const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g;

  function applySgr(style, parameters) {
    const codes = parameters === '' ? [0] : parameters.split(';').map((code) => (code === '' ? 0 : Number(code)));
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (code === 0) { Object.assign(style, { bold: false, dim: false, italic: false, underline: false, fg: null, bg: null }); }
      else if (code === 1) style.bold = true;
      else if (code === 2) style.dim = true;
      else if (code === 3) style.italic = true;
      else if (code === 4) style.underline = true;
      else if (code === 22) { style.bold = false; style.dim = false; }
      else if (code === 23) style.italic = false;
      else if (code === 24) style.underline = false;
      else if (code >= 30 && code <= 37) style.fg = code - 30;
      else if (code === 39) style.fg = null;
      else if (code >= 40 && code <= 47) style.bg = code - 40;
      else if (code === 49) style.bg = null;
      else if (code >= 90 && code <= 97) style.fg = code - 90 + 8;
      else if (code >= 100 && code <= 107) style.bg = code - 100 + 8;
      else if (code === 38 || code === 48) {
        // 256 colours (5;n): the first 16 have classes, the rest are left uncoloured; 24-bit (2;r;g;b) too.
        const key = code === 38 ? 'fg' : 'bg';
        if (codes[i + 1] === 5) {
          const n = codes[i + 2];
          style[key] = Number.isInteger(n) && n >= 0 && n < 16 ? n : null;
          i += 2;
        } else if (codes[i + 1] === 2) {
          style[key] = null;
          i += 4;
        }
      }
    }
  }

  function classesOf(style) {
    const classes = [];
    if (style.bold) classes.push('ansi-bold');
    if (style.dim) classes.push('ansi-dim');
    if (style.italic) classes.push('ansi-italic');
    if (style.underline) classes.push('ansi-underline');
    if (style.fg !== null) classes.push(`ansi-fg-${style.fg}`);
    if (style.bg !== null) classes.push(`ansi-bg-${style.bg}`);
    return classes;
  }

  // Fills target with the text of one line: plain text nodes and classed spans, never markup.
  function renderAnsi(target, text) {
    // A carriage return redraws the line in a terminal (progress bars): keep what was drawn last.
    const segments = text.split('\r').filter((segment) => segment !== '');
    text = segments.length > 0 ? segments[segments.length - 1] : '';
    const style = { bold: false, dim: false, italic: false, underline: false, fg: null, bg: null };
    let position = 0;
    const emit = (part) => {
      part = part.replace(CONTROLS, '');
      if (part === '') return;
      const classes = classesOf(style);
      if (classes.length === 0) {
        target.append(document.createTextNode(part));
      } else {
        const span = document.createElement('span');
        span.className = classes.join(' ');
        span.textContent = part;
        target.append(span);
      }
    };
    ESCAPES.lastIndex = 0;
    for (const match of text.matchAll(ESCAPES)) {
      emit(text.slice(position, match.index));
      position = match.index + match[0].length;
      if (match[2] === 'm' && /^[0-9;]*$/.test(match[1])) applySgr(style, match[1]);
    }
    emit(text.slice(position));
  }

  // ---- The live log ---------------------------------------------------------------------------

  function isAtBottom(element) {
    return element.scrollHeight - element.scrollTop - element.clientHeight < 8;
  }

  function startLiveLog(view) {
    const url = view.dataset.logStream;
    const lines = view.querySelector('[data-log-lines]');
    const status = view.querySelector('[data-log-status]');
    if (!url || !lines || !status || typeof EventSource === 'undefined') return;

    const say = (text) => { status.textContent = text; };
    // Line numbers are the event ids: after a reconnect (the browser sends Last-Event-ID) a server
    // may repeat lines already shown, and those are skipped.
    let lastShown = 0;
    for (const line of lines.querySelectorAll('[data-line]')) lastShown = Math.max(lastShown, Number(line.dataset.line) || 0);
    // Follow the bottom until the reader scrolls up; scrolling back down follows again.
    let following = true;
    lines.addEventListener('scroll', () => { following = isAtBottom(lines); });

    say('Connecting…');
    view.dataset.logState = 'connecting';
    const source = new EventSource(url);

    source.addEventListener('open', () => {
      say('Live');
      view.dataset.logState = 'live';
    });

    source.addEventListener('line', (event) => {
      const id = Number(event.lastEventId);
      const numbered = Number.isInteger(id) && id > 0;
      if (numbered && id <= lastShown) return;
      let line;
      try {
        line = JSON.parse(event.data);
      } catch {
        return;
      }
      const element = document.createElement('div');
      const stream = ['stdout', 'stderr', 'heaven'].includes(line.stream) ? line.stream : 'stdout';
      element.className = `log-line log-${stream}`;
      if (numbered) {
        element.dataset.line = String(id);
        lastShown = id;
      }
      renderAnsi(element, typeof line.text === 'string' ? line.text : '');
      lines.append(element);
      if (following) lines.scrollTop = lines.scrollHeight;
    });

    // Output faster than a live view shows (a flood): the server leaves lines out and says which; the
    // marker links to the full log.
    source.addEventListener('gap', (event) => {
      const id = Number(event.lastEventId);
      if (!Number.isInteger(id) || id <= lastShown) return;
      let gap;
      try {
        gap = JSON.parse(event.data);
      } catch {
        return;
      }
      const element = document.createElement('div');
      element.className = 'log-line log-gap';
      element.dataset.line = String(id);
      const skipped = Number.isInteger(gap.skipped) ? gap.skipped : 0;
      element.append(`… ${skipped.toLocaleString()} lines skipped here: they came faster than a live view shows them. `);
      if (typeof gap.log === 'string' && gap.log.startsWith('/')) {
        const link = document.createElement('a');
        link.href = gap.log;
        link.textContent = 'The full log';
        element.append(link);
      }
      lastShown = id;
      lines.append(element);
      if (following) lines.scrollTop = lines.scrollHeight;
    });

    source.addEventListener('end', (event) => {
      source.close();
      let end = {};
      try {
        end = JSON.parse(event.data) ?? {};
      } catch {
        // The state stays unknown.
      }
      const state = typeof end.state === 'string' && /^[a-z_]+$/.test(end.state) ? end.state : 'unknown';
      say(end.description ? `Finished: ${state}. ${end.description}` : `Finished: ${state}.`);
      view.dataset.logState = state;
      status.classList.add('log-finished', `state-${state}`);
    });

    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED) {
        // The server refused (signed out, no such deployment): EventSource gives up; so do we.
        say('The log stream was closed. Reload the page to try again.');
        view.dataset.logState = 'closed';
      } else {
        say('Connection lost, reconnecting…');
        view.dataset.logState = 'reconnecting';
      }
    });
  }

  // ---- Confirmations --------------------------------------------------------------------------
  // <form data-confirm="Cancel deployment 12?"> (or a submit button with data-confirm) asks first.

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const message = event.submitter?.dataset.confirm ?? form.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // ---- Start ----------------------------------------------------------------------------------

  function start() {
    updateRelativeTimes();
    setInterval(updateRelativeTimes, 30_000);
    for (const view of document.querySelectorAll('[data-log-stream]')) startLiveLog(view);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
